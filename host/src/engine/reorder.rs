//! Puts results that parallel workers finish out of order back in sequence.

use std::collections::VecDeque;

/// Items keyed by a sequence number 0, 1, 2, ...; [`pop`](Reorder::pop) hands
/// them out strictly in that order. Its window holds at most the number of
/// items in flight, so its buffer stops growing after the first frames.
pub struct Reorder<T> {
    next: u64,
    slots: VecDeque<Option<T>>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            next: 0,
            slots: VecDeque::new(),
        }
    }
}

impl<T> Reorder<T> {
    pub fn with_capacity(n: usize) -> Reorder<T> {
        Reorder {
            next: 0,
            slots: VecDeque::with_capacity(n),
        }
    }

    /// Hold `item` until every item before `seq` has been popped. An item
    /// whose number was already used (a duplicate) is handed back.
    pub fn insert(&mut self, seq: u64, item: T) -> Result<(), T> {
        let Some(offset) = seq.checked_sub(self.next) else {
            return Err(item);
        };
        let offset = offset as usize;
        while self.slots.len() <= offset {
            self.slots.push_back(None);
        }
        match &mut self.slots[offset] {
            Some(_) => Err(item),
            slot => {
                *slot = Some(item);
                Ok(())
            }
        }
    }

    /// The next item in sequence, if it has arrived.
    pub fn pop(&mut self) -> Option<T> {
        match self.slots.front() {
            Some(Some(_)) => {
                self.next += 1;
                self.slots.pop_front().flatten()
            }
            _ => None,
        }
    }

    /// Items waiting for an earlier one.
    pub fn waiting(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// The sequence number `pop` hands out next.
    pub fn next_seq(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_arrivals_come_out_in_order() {
        let mut r = Reorder::default();
        assert_eq!(r.insert(1, "b"), Ok(()));
        assert_eq!(r.pop(), None, "0 has not arrived");
        assert_eq!(r.insert(3, "d"), Ok(()));
        assert_eq!(r.waiting(), 2);
        assert_eq!(r.insert(0, "a"), Ok(()));
        assert_eq!(r.pop(), Some("a"));
        assert_eq!(r.pop(), Some("b"));
        assert_eq!(r.pop(), None, "2 has not arrived");
        assert_eq!(r.insert(2, "c"), Ok(()));
        assert_eq!(r.pop(), Some("c"));
        assert_eq!(r.pop(), Some("d"));
        assert_eq!(r.next_seq(), 4);
        assert_eq!(r.insert(1, "again"), Err("again"), "already handed out");
        assert_eq!(r.insert(5, "f"), Ok(()));
        assert_eq!(r.insert(5, "f2"), Err("f2"), "duplicate");
    }

    #[test]
    fn two_workers_interleaved_in_any_order_give_the_full_sequence() {
        // Worker A does even numbers, worker B odd ones; B runs ahead.
        let mut r = Reorder::with_capacity(8);
        let mut out = Vec::new();
        let arrivals = [1u64, 3, 0, 5, 2, 4, 7, 6, 9, 8];
        for seq in arrivals {
            r.insert(seq, seq).unwrap();
            while let Some(v) = r.pop() {
                out.push(v);
            }
        }
        assert_eq!(out, (0..10).collect::<Vec<_>>());
    }
}
