//! Who may see what: the operator's token opens every page, a tenant's token
//! only `/tenants/<id>/...`. A token comes as the `edgepipe_token` cookie or
//! `?token=` (an `<img>` or an EventSource sends no headers). Tokens are never
//! logged; comparison takes the same time wherever the first difference is.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

/// Name of the cookie that carries the token.
pub const COOKIE: &str = "edgepipe_token";

#[derive(Clone, Default)]
pub struct Tokens {
    operator: Option<Arc<str>>,
    tenants: Arc<RwLock<BTreeMap<String, Arc<str>>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("Tokens")
            .field("operator", &self.operator.is_some())
            .finish_non_exhaustive()
    }
}

fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The pages a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<'a> {
    Operator,
    Tenant(&'a str),
}

impl Tokens {
    pub fn new(operator: Option<String>) -> Tokens {
        Tokens {
            operator: operator.map(Arc::from),
            tenants: Default::default(),
        }
    }
    pub fn has_operator(&self) -> bool {
        self.operator.is_some()
    }
    /// A tenant's token (from its file); `None` removes it.
    pub fn set_tenant(&self, id: &str, token: Option<String>) {
        let mut t = self.tenants.write().unwrap_or_else(PoisonError::into_inner);
        match token {
            Some(tok) => t.insert(id.to_string(), Arc::from(tok)),
            None => t.remove(id),
        };
    }
    /// Whether `given` opens `scope`. Without an operator token (loopback) everything is open.
    pub fn allows(&self, scope: &Scope<'_>, given: Option<&str>) -> bool {
        let Some(op) = &self.operator else {
            return true;
        };
        let Some(given) = given else { return false };
        if same(op, given) {
            return true;
        }
        match scope {
            Scope::Operator => false,
            Scope::Tenant(id) => {
                let t = self.tenants.read().unwrap_or_else(PoisonError::into_inner);
                t.get(*id).is_some_and(|tok| same(tok, given))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_opens_all_tenant_only_its_own() {
        let t = Tokens::new(Some("operator-secret".into()));
        t.set_tenant("acme", Some("acme-secret".into()));
        assert!(t.allows(&Scope::Operator, Some("operator-secret")));
        assert!(t.allows(&Scope::Tenant("acme"), Some("operator-secret")));
        assert!(t.allows(&Scope::Tenant("acme"), Some("acme-secret")));
        assert!(!t.allows(&Scope::Tenant("other"), Some("acme-secret")));
        assert!(!t.allows(&Scope::Operator, Some("acme-secret")));
        assert!(!t.allows(&Scope::Operator, None));
        assert!(!t.allows(&Scope::Operator, Some("operator-secreT")));
        assert!(Tokens::new(None).allows(&Scope::Operator, None));
        assert!(!format!("{t:?}").contains("secret"));
    }
}
