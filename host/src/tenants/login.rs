//! A tenant's own MQTT login: one connection per tenant, shared by its
//! chains on every camera and across edits. A tenant must never have two
//! connections with one client id (the broker would drop one, it would
//! reconnect and drop the other). Same login: the running connection is
//! shared as it is (its queue and messages in flight included). Same client
//! id, other login: the new connection is made once the running one, no
//! longer used by any chain, has delivered what it accepted and closed.

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::mqtt::{MqttError, MqttSettings, PublishReport, Publisher};

/// One tenant's connection; its chains hold it, the last one closes it.
pub struct Link {
    settings: MqttSettings,
    publisher: Mutex<Option<Publisher>>,
    /// A connection with the same client id waiting for this one to close.
    successor: Mutex<Option<mpsc::Sender<Publisher>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    fn new(settings: MqttSettings, publisher: Publisher) -> Arc<Link> {
        Arc::new(Link {
            settings,
            publisher: Mutex::new(Some(publisher)),
            successor: Mutex::new(None),
        })
    }

    /// The connection (locked only to publish).
    pub fn connection(&self) -> &Mutex<Option<Publisher>> {
        &self.publisher
    }

    /// The last holder closes the connection and reports it; the others get `None`.
    pub fn close(link: Arc<Link>) -> Option<PublishReport> {
        let link = Arc::into_inner(link)?;
        let p = lock(&link.publisher).take()?;
        Some(p.finish())
    }
}

impl Drop for Link {
    /// No chain uses it any more: it settles (acknowledgements, bounded by
    /// the ack timeout), then a successor with its client id may connect.
    fn drop(&mut self) {
        let Some(p) = lock(&self.publisher).take() else {
            return;
        };
        let p = match lock(&self.successor).take() {
            Some(tx) => match tx.send(p) {
                Ok(()) => return,
                Err(mpsc::SendError(p)) => p,
            },
            None => p,
        };
        let r = p.finish();
        tracing::debug!(?r, "a tenant's connection closed");
    }
}

/// The same broker, client id and credentials: one connection serves both.
fn same_login(a: &MqttSettings, b: &MqttSettings) -> bool {
    // Debug shows every field but the password (a Secret), compared apart.
    a.password == b.password && format!("{a:?}") == format!("{b:?}")
}

/// The tenants' connections, by tenant id, shared by every camera of the
/// process (held weakly: the chains own them).
#[derive(Clone, Default)]
pub struct Logins(Arc<Mutex<BTreeMap<String, Weak<Link>>>>);

impl Logins {
    /// Tenant `id`'s connection with login `wanted`: the running one when it
    /// has that login; else a new one, made at once (another client id) or
    /// once the running one has closed (the same client id).
    pub fn connect(&self, id: &str, wanted: &MqttSettings) -> Result<Arc<Link>, MqttError> {
        let mut links = lock(&self.0);
        let running = links.get(id).and_then(Weak::upgrade);
        let link = match running {
            Some(r) if same_login(&r.settings, wanted) => return Ok(r),
            Some(r) if r.settings.client_id == wanted.client_id => {
                let (tx, rx) = mpsc::channel::<Publisher>();
                *lock(&r.successor) = Some(tx);
                drop(r);
                let p = Publisher::connect_after(
                    wanted,
                    Box::new(move || {
                        if let Ok(old) = rx.recv() {
                            let r = old.finish();
                            tracing::debug!(?r, "the edited tenant's old connection closed");
                        }
                    }),
                )?;
                Link::new(wanted.clone(), p)
            }
            _ => Link::new(wanted.clone(), Publisher::connect(wanted)?),
        };
        links.insert(id.to_string(), Arc::downgrade(&link));
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Secret;

    #[test]
    fn logins_compare_every_field_and_the_password() {
        let a = MqttSettings {
            username: Some("acme".into()),
            password: Some(Secret::new("one")),
            ..MqttSettings::new("mqtt://h", "edgepipe-acme")
        };
        assert!(same_login(&a, &a.clone()));
        let new_pw = MqttSettings {
            password: Some(Secret::new("two")),
            ..a.clone()
        };
        assert!(!same_login(&a, &new_pw));
        let other_user = MqttSettings {
            username: Some("acme2".into()),
            ..a.clone()
        };
        assert!(!same_login(&a, &other_user));
    }
}
