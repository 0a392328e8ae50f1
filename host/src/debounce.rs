//! Debouncing of file-change events: a key (a stage slot, a tenant file) is
//! due once nothing happened to it for the quiet time, so a file written
//! slowly is read once, whole.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

struct Pending {
    first: Instant,
    last: Instant,
}

pub struct Debouncer<K> {
    quiet: Duration,
    pending: HashMap<K, Pending>,
}

impl<K: Hash + Eq + Clone> Debouncer<K> {
    pub fn new(quiet: Duration) -> Debouncer<K> {
        Debouncer {
            quiet,
            pending: HashMap::new(),
        }
    }

    /// Something happened to `key` now.
    pub fn touch(&mut self, key: K) {
        let at = Instant::now();
        self.pending
            .entry(key)
            .and_modify(|p| p.last = at)
            .or_insert(Pending {
                first: at,
                last: at,
            });
    }

    /// How long to wait for more events before something is due (an hour when nothing is pending).
    pub fn wait(&self) -> Duration {
        let now = Instant::now();
        self.pending
            .values()
            .map(|p| (p.last + self.quiet).saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// Keys quiet for long enough, with when they first changed; they are no longer pending.
    pub fn due(&mut self) -> Vec<(K, Instant)> {
        let now = Instant::now();
        let keys: Vec<K> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.last) >= self.quiet)
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| self.pending.remove(&k).map(|p| (k, p.first)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_due_after_the_quiet_time_once() {
        let mut d = Debouncer::new(Duration::from_millis(20));
        d.touch("a");
        assert!(d.due().is_empty());
        assert!(d.wait() <= Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(25));
        d.touch("b");
        let due: Vec<&str> = d.due().into_iter().map(|(k, _)| k).collect();
        assert_eq!(due, ["a"]);
        assert!(d.due().is_empty());
    }
}
