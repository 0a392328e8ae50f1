//! A tenant's own MQTT login across edits: the new version of a tenant must
//! never connect with the client id the running version still uses (the
//! broker would drop one, it would reconnect and drop the other). Same login:
//! the running connection is handed over as it is (its queue and messages in
//! flight included). Same client id, other login: the new version's
//! connection is made once the running one has delivered what it accepted
//! and closed. The watcher thread reads the running logins here to decide;
//! the frame thread keeps them current.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::mqtt::{MqttError, MqttSettings, Publisher};

/// The logins of the running tenants, by tenant id.
#[derive(Clone, Default)]
pub struct Logins(Arc<Mutex<BTreeMap<String, MqttSettings>>>);

impl Logins {
    pub fn get(&self, id: &str) -> Option<MqttSettings> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
    pub fn set(&self, id: &str, login: Option<MqttSettings>) {
        let mut g = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match login {
            Some(s) => g.insert(id.to_string(), s),
            None => g.remove(id),
        };
    }
}

/// How a new version of a tenant gets its connection (decided when built).
pub enum Takeover {
    /// Take the running version's connection.
    HandOver(MqttSettings),
    /// Connect once the running version's connection is closed.
    AfterOld(MqttSettings),
}

impl Takeover {
    pub fn settings(&self) -> &MqttSettings {
        match self {
            Takeover::HandOver(s) | Takeover::AfterOld(s) => s,
        }
    }
}

/// The same broker, client id and credentials: one connection serves both.
fn same_login(a: &MqttSettings, b: &MqttSettings) -> bool {
    // Debug shows every field but the password (a Secret), compared apart.
    a.password == b.password && format!("{a:?}") == format!("{b:?}")
}

/// What a version wanting `wanted` does while `running` is in use: `None`:
/// connect now (no version runs with that client id).
pub fn plan(running: Option<&MqttSettings>, wanted: &MqttSettings) -> Option<Takeover> {
    let running = running?;
    if same_login(running, wanted) {
        Some(Takeover::HandOver(wanted.clone()))
    } else if running.client_id == wanted.client_id {
        Some(Takeover::AfterOld(wanted.clone()))
    } else {
        None
    }
}

/// The new version's connection, given the running version's (taken from it).
pub fn take_over(plan: &Takeover, old: Option<Publisher>) -> Result<Publisher, MqttError> {
    match (plan, old) {
        (Takeover::HandOver(_), Some(p)) => Ok(p),
        (plan, old) => Publisher::connect_after(
            plan.settings(),
            Box::new(move || {
                if let Some(p) = old {
                    let r = p.finish();
                    tracing::debug!(?r, "the edited tenant's old connection closed");
                }
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Secret;

    #[test]
    fn plans() {
        let a = MqttSettings {
            username: Some("acme".into()),
            password: Some(Secret::new("one")),
            ..MqttSettings::new("mqtt://h", "edgepipe-acme")
        };
        assert!(plan(None, &a).is_none());
        assert!(matches!(plan(Some(&a), &a), Some(Takeover::HandOver(_))));
        let new_pw = MqttSettings {
            password: Some(Secret::new("two")),
            ..a.clone()
        };
        assert!(matches!(
            plan(Some(&a), &new_pw),
            Some(Takeover::AfterOld(_))
        ));
        let other_id = MqttSettings {
            client_id: "edgepipe-acme-2".into(),
            ..new_pw.clone()
        };
        assert!(plan(Some(&a), &other_id).is_none());
    }
}
