//! The bounded queue in front of the MQTT event loop: limited in messages and
//! in bytes, with an explicit policy for when it is full. Publishing only ever
//! adds here, so the frame loop never waits for the network.

use std::collections::VecDeque;
use std::str::FromStr;
use std::time::Instant;

/// Delivery guarantee of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Qos {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
}

impl Qos {
    pub fn from_level(n: u8) -> Option<Qos> {
        match n {
            0 => Some(Qos::AtMostOnce),
            1 => Some(Qos::AtLeastOnce),
            2 => Some(Qos::ExactlyOnce),
            _ => None,
        }
    }
    pub fn level(self) -> u8 {
        self as u8
    }
    /// Whether the broker acknowledges it.
    pub fn acked(self) -> bool {
        self != Qos::AtMostOnce
    }
}

/// What happens when a new message finds the queue full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Drop the oldest waiting messages: a dashboard wants the current value.
    #[default]
    DropOldest,
    /// Keep what is queued and drop the new message.
    DropNewest,
}

impl FromStr for WhenFull {
    type Err = String;
    fn from_str(s: &str) -> Result<WhenFull, String> {
        match s {
            "drop-oldest" => Ok(WhenFull::DropOldest),
            "drop-newest" => Ok(WhenFull::DropNewest),
            other => Err(format!("{other:?} is not drop-oldest or drop-newest")),
        }
    }
}

/// Size limits of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub messages: usize,
    pub bytes: usize,
    pub when_full: WhenFull,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            messages: DEFAULT_QUEUE_MESSAGES,
            bytes: DEFAULT_QUEUE_BYTES,
            when_full: WhenFull::DropOldest,
        }
    }
}

/// About 30 minutes of the default pipeline's messages at 10 fps.
pub const DEFAULT_QUEUE_MESSAGES: usize = 20_000;
pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;

/// A message waiting for the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Publish order, to put re-sent messages back in their place.
    pub seq: u64,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: Qos,
    pub retain: bool,
    /// When the frame loop handed it over: latency is measured from here.
    pub at: Instant,
    /// Written to a connection at least once.
    pub sent: bool,
}

impl Queued {
    /// What it costs in the byte limit.
    pub fn size(&self) -> usize {
        self.topic.len() + self.payload.len()
    }
}

/// The queue itself.
#[derive(Debug, Default)]
pub struct Outbox {
    items: VecDeque<Queued>,
    bytes: usize,
    limits: Limits,
}

/// Messages a push or a requeue had to drop, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub messages: u64,
    /// Of those, QoS>=1 ones (they will never be acknowledged).
    pub acked_kind: u64,
}

impl Dropped {
    fn count(&mut self, q: &Queued) {
        self.messages += 1;
        if q.qos.acked() {
            self.acked_kind += 1;
        }
    }
}

impl Outbox {
    pub fn new(limits: Limits) -> Outbox {
        Outbox {
            items: VecDeque::new(),
            bytes: 0,
            limits,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Add a new message at the back, applying the policy if full.
    pub fn push(&mut self, q: Queued) -> Dropped {
        let mut dropped = Dropped::default();
        if q.size() > self.limits.bytes || self.limits.messages == 0 {
            dropped.count(&q);
            return dropped;
        }
        if self.limits.when_full == WhenFull::DropNewest && !self.fits(q.size()) {
            dropped.count(&q);
            return dropped;
        }
        self.bytes += q.size();
        self.items.push_back(q);
        self.trim_front(&mut dropped);
        dropped
    }

    /// Put messages that were handed out but not delivered back in front, in
    /// publish order, applying the policy (the oldest go first when full).
    pub fn requeue(&mut self, mut back: Vec<Queued>) -> Dropped {
        back.sort_by_key(|q| q.seq);
        let mut dropped = Dropped::default();
        for q in back.into_iter().rev() {
            self.bytes += q.size();
            self.items.push_front(q);
        }
        match self.limits.when_full {
            WhenFull::DropOldest => self.trim_front(&mut dropped),
            WhenFull::DropNewest => {
                while self.over() {
                    match self.items.pop_back() {
                        Some(q) => {
                            self.bytes -= q.size();
                            dropped.count(&q);
                        }
                        None => break,
                    }
                }
            }
        }
        dropped
    }

    pub fn pop(&mut self) -> Option<Queued> {
        let q = self.items.pop_front()?;
        self.bytes -= q.size();
        Some(q)
    }

    /// Everything still waiting (at the end of a run).
    pub fn drain(&mut self) -> Vec<Queued> {
        self.bytes = 0;
        self.items.drain(..).collect()
    }

    fn fits(&self, size: usize) -> bool {
        self.items.len() < self.limits.messages && self.bytes + size <= self.limits.bytes
    }
    fn over(&self) -> bool {
        self.items.len() > self.limits.messages || self.bytes > self.limits.bytes
    }
    fn trim_front(&mut self, dropped: &mut Dropped) {
        while self.over() {
            match self.items.pop_front() {
                Some(q) => {
                    self.bytes -= q.size();
                    dropped.count(&q);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64, bytes: usize) -> Queued {
        Queued {
            seq,
            topic: "t".into(),
            payload: vec![b'x'; bytes.saturating_sub(1)],
            qos: Qos::AtLeastOnce,
            retain: false,
            at: Instant::now(),
            sent: false,
        }
    }
    fn seqs(o: &mut Outbox) -> Vec<u64> {
        o.drain().iter().map(|q| q.seq).collect()
    }

    #[test]
    fn drop_oldest_keeps_the_newest_by_count() {
        let mut o = Outbox::new(Limits {
            messages: 3,
            bytes: 1000,
            when_full: WhenFull::DropOldest,
        });
        let dropped: u64 = (0..5).map(|i| o.push(msg(i, 10)).messages).sum();
        assert_eq!(dropped, 2);
        assert_eq!(seqs(&mut o), [2, 3, 4]);
    }

    #[test]
    fn drop_newest_keeps_the_oldest() {
        let mut o = Outbox::new(Limits {
            messages: 3,
            bytes: 1000,
            when_full: WhenFull::DropNewest,
        });
        let dropped: u64 = (0..5).map(|i| o.push(msg(i, 10)).messages).sum();
        assert_eq!(dropped, 2);
        assert_eq!(seqs(&mut o), [0, 1, 2]);
    }

    #[test]
    fn the_byte_limit_counts_topic_and_payload() {
        let mut o = Outbox::new(Limits {
            messages: 100,
            bytes: 25,
            when_full: WhenFull::DropOldest,
        });
        for i in 0..3 {
            o.push(msg(i, 10));
        }
        assert_eq!(o.bytes(), 20);
        assert_eq!(seqs(&mut o), [1, 2]);
        let d = o.push(msg(9, 26));
        assert_eq!(
            d,
            Dropped {
                messages: 1,
                acked_kind: 1
            },
            "a message larger than the whole queue is dropped"
        );
        assert!(o.is_empty());
    }

    #[test]
    fn requeued_messages_go_back_in_publish_order_in_front() {
        let mut o = Outbox::new(Limits {
            messages: 10,
            bytes: 1000,
            when_full: WhenFull::DropOldest,
        });
        o.push(msg(5, 10));
        o.push(msg(6, 10));
        let d = o.requeue(vec![msg(4, 10), msg(2, 10), msg(3, 10)]);
        assert_eq!(d.messages, 0);
        assert_eq!(seqs(&mut o), [2, 3, 4, 5, 6]);
    }

    #[test]
    fn requeue_over_the_limit_applies_the_policy() {
        let mut o = Outbox::new(Limits {
            messages: 3,
            bytes: 1000,
            when_full: WhenFull::DropOldest,
        });
        o.push(msg(5, 10));
        o.push(msg(6, 10));
        assert_eq!(o.requeue(vec![msg(3, 10), msg(4, 10)]).messages, 1);
        assert_eq!(seqs(&mut o), [4, 5, 6]);
        let mut o = Outbox::new(Limits {
            messages: 3,
            bytes: 1000,
            when_full: WhenFull::DropNewest,
        });
        o.push(msg(5, 10));
        o.push(msg(6, 10));
        assert_eq!(o.requeue(vec![msg(3, 10), msg(4, 10)]).messages, 1);
        assert_eq!(seqs(&mut o), [3, 4, 5]);
    }

    #[test]
    fn policy_names() {
        assert_eq!("drop-oldest".parse::<WhenFull>(), Ok(WhenFull::DropOldest));
        assert_eq!("drop-newest".parse::<WhenFull>(), Ok(WhenFull::DropNewest));
        assert!("block".parse::<WhenFull>().is_err());
    }
}
