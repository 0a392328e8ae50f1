//! A bounded broadcast of what the pipeline publishes: the newest
//! [`CAPACITY`] messages in a ring, each numbered. Publishing never waits
//! for a reader; a reader that falls behind the ring skips to what is still
//! there (and is told how many it missed).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Messages kept for readers.
pub const CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct Item {
    pub seq: u64,
    /// The camera it came from (on the process-wide bus).
    pub camera: Option<Arc<str>>,
    pub topic: Arc<str>,
    pub payload: Arc<str>,
}

struct Ring {
    items: VecDeque<Item>,
    next: u64,
}

pub struct Bus {
    ring: Mutex<Ring>,
    cv: Condvar,
    capacity: usize,
}

/// What a reader got: the items after its position and how many it missed.
pub struct Batch {
    pub items: Vec<Item>,
    pub missed: u64,
}

impl Bus {
    pub fn new(capacity: usize) -> Bus {
        let capacity = capacity.max(1);
        Bus {
            ring: Mutex::new(Ring {
                items: VecDeque::with_capacity(capacity),
                next: 1,
            }),
            cv: Condvar::new(),
            capacity,
        }
    }

    pub fn publish(&self, topic: &str, payload: &str) {
        self.push(None, topic, payload);
    }

    /// A message of camera `camera` (the process-wide bus).
    pub fn publish_from(&self, camera: &str, topic: &str, payload: &str) {
        self.push(Some(Arc::from(camera)), topic, payload);
    }

    fn push(&self, camera: Option<Arc<str>>, topic: &str, payload: &str) {
        let mut r = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if r.items.len() == self.capacity {
            r.items.pop_front();
        }
        let seq = r.next;
        r.next += 1;
        r.items.push_back(Item {
            seq,
            camera,
            topic: Arc::from(topic),
            payload: Arc::from(payload),
        });
        drop(r);
        self.cv.notify_all();
    }

    /// The sequence number the next message will get (a new reader starts here).
    pub fn position(&self) -> u64 {
        self.ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next
    }

    /// Items numbered `from` and later, waiting at most `wait` for the first.
    pub fn read(&self, from: u64, wait: Duration) -> Batch {
        let r = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let (r, _) = self
            .cv
            .wait_timeout_while(r, wait, |r| r.next <= from)
            .unwrap_or_else(PoisonError::into_inner);
        let oldest = r.items.front().map(|i| i.seq).unwrap_or(r.next);
        let missed = oldest.saturating_sub(from);
        let items = r.items.iter().filter(|i| i.seq >= from).cloned().collect();
        Batch { items, missed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_reader_skips_to_what_is_kept() {
        let bus = Bus::new(4);
        let start = bus.position();
        for i in 0..10 {
            bus.publish("t", &i.to_string());
        }
        let b = bus.read(start, Duration::from_millis(1));
        assert_eq!(b.missed, 6);
        let got: Vec<&str> = b.items.iter().map(|i| &*i.payload).collect();
        assert_eq!(got, ["6", "7", "8", "9"]);
        let b = bus.read(bus.position(), Duration::from_millis(5));
        assert!(b.items.is_empty());
    }
}
