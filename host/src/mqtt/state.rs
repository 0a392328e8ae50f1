//! What the frame loop and the event loop thread share: the queue, the
//! messages handed to rumqttc in hand-over order, those awaiting their
//! acknowledgement by packet id, and the counters of the run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::latency::Latencies;
use super::link::Client;
use super::queue::{Dropped, Outbox, Qos, Queued, WhenFull};
use super::{
    packet_size, MqttSettings, MqttVersion, PublishReport, Refused, DROP_LOG_INTERVAL, WINDOW,
};

/// A message handed to rumqttc, in hand-over order.
pub(super) enum Handed {
    Msg(Queued),
    /// Our own `online`, not counted as a pipeline message.
    Status,
}

#[derive(Default)]
pub(super) struct DropLog {
    pub(super) since_last: u64,
    pub(super) last: Option<Instant>,
}

pub(super) struct State {
    pub(super) outbox: Outbox,
    pub(super) handed: VecDeque<Handed>,
    pub(super) unacked: HashMap<u16, Handed>,
    pub(super) connected: bool,
    pub(super) ever_connected: bool,
    pub(super) stop: bool,
    pub(super) report: PublishReport,
    /// Publish -> acknowledgement, of every acknowledged message.
    pub(super) latencies: Latencies,
    pub(super) drop_log: DropLog,
    pub(super) when_full: WhenFull,
    pub(super) v5: bool,
    /// The client's own packet limit.
    pub(super) client_max_packet: usize,
    /// The limit now: the client's, lowered by the broker's (MQTT 5 CONNACK).
    pub(super) max_packet: usize,
    pub(super) refusal_logged: bool,
    /// `finish` waits on [`Shared::changed`]: only then does the event loop
    /// notify it (a notify is a futex call even with nobody waiting, and
    /// the event loop has two events a message).
    pub(super) finishing: bool,
}

impl State {
    /// Nothing queued, not connected.
    pub(super) fn new(settings: &MqttSettings) -> State {
        State {
            outbox: Outbox::new(settings.queue),
            handed: VecDeque::new(),
            unacked: HashMap::new(),
            connected: false,
            ever_connected: false,
            stop: false,
            report: PublishReport::default(),
            latencies: Latencies::new(),
            drop_log: DropLog::default(),
            when_full: settings.queue.when_full,
            v5: settings.version == MqttVersion::V5,
            client_max_packet: settings.client_max_packet(),
            max_packet: settings.client_max_packet(),
            refusal_logged: false,
            finishing: false,
        }
    }

    /// Check a message and add it to the queue (handed over by [`feed`](Self::feed)).
    pub(super) fn enqueue(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: Qos,
        retain: bool,
    ) -> Result<(), Refused> {
        if !super::valid_topic(topic) {
            return Err(self.refuse(Refused::InvalidTopic(super::shown_topic(topic))));
        }
        let size = packet_size(topic, payload.len(), qos, self.v5);
        if size > self.max_packet {
            let limit = self.max_packet;
            return Err(self.refuse(Refused::TooLarge {
                topic: super::shown_topic(topic),
                size,
                limit,
            }));
        }
        let seq = self.report.published;
        self.report.published += 1;
        if qos.acked() {
            self.report.expected_acks += 1;
        }
        let q = Queued {
            seq,
            topic: topic.to_string(),
            payload: payload.to_vec(),
            qos,
            retain,
            at: Instant::now(),
            sent: false,
        };
        let d = self.outbox.push(q);
        self.account(d);
        Ok(())
    }

    /// A message of `stage` was refused: counted against it.
    pub(super) fn refused_by(&mut self, stage: &str) {
        let by = &mut self.report.refused_by_stage;
        match by.iter_mut().find(|(s, _)| s == stage) {
            Some((_, n)) => *n += 1,
            None => by.push((stage.to_string(), 1)),
        }
    }

    /// The broker acknowledged packet `pkid`: count it and its latency.
    pub(super) fn acked(&mut self, pkid: u16) {
        if let Some(Handed::Msg(q)) = self.unacked.remove(&pkid) {
            self.report.acked += 1;
            let us = u64::try_from(q.at.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.latencies.record(us);
        }
    }

    /// Bytes the latency record holds.
    #[cfg(test)]
    pub(super) fn latency_bytes(&self) -> usize {
        self.latencies.footprint()
    }

    pub(super) fn account(&mut self, d: Dropped) {
        if d.messages == 0 {
            return;
        }
        self.report.dropped += d.messages;
        self.report.expected_acks = self.report.expected_acks.saturating_sub(d.acked_kind);
        self.drop_log.since_last += d.messages;
        let due = self
            .drop_log
            .last
            .is_none_or(|t| t.elapsed() >= DROP_LOG_INTERVAL);
        if due {
            tracing::warn!(
                dropped = self.drop_log.since_last,
                dropped_total = self.report.dropped,
                queued = self.outbox.len(),
                queued_bytes = self.outbox.bytes(),
                policy = ?self.when_full,
                "MQTT queue full: messages dropped"
            );
            self.drop_log = DropLog {
                since_last: 0,
                last: Some(Instant::now()),
            };
        }
    }

    /// Count a refused message (logged once per run; every one is in the report).
    pub(super) fn refuse(&mut self, why: Refused) -> Refused {
        self.report.rejected += 1;
        if !self.refusal_logged {
            self.refusal_logged = true;
            tracing::warn!("MQTT message refused: {why}; further refusals are only counted");
        }
        why
    }

    /// The broker announced its limit (or none) on connecting.
    pub(super) fn set_broker_max_packet(&mut self, broker: Option<u32>) {
        let broker = broker.and_then(|b| usize::try_from(b).ok());
        self.max_packet = broker.map_or(self.client_max_packet, |b| b.min(self.client_max_packet));
    }

    /// Hand queued messages to rumqttc while connected and inside the window.
    /// A message over the current limit (the broker's may be lower than it
    /// was when the message was queued) is refused here: handing it over
    /// would break the connection.
    pub(super) fn feed(&mut self, client: &Client) {
        while self.connected && !self.stop && self.handed.len() + self.unacked.len() < WINDOW {
            let Some(q) = self.outbox.pop() else { break };
            let size = packet_size(&q.topic, q.payload.len(), q.qos, self.v5);
            if size > self.max_packet {
                if q.qos.acked() {
                    self.report.expected_acks = self.report.expected_acks.saturating_sub(1);
                }
                let limit = self.max_packet;
                self.refuse(Refused::TooLarge {
                    topic: super::shown_topic(&q.topic),
                    size,
                    limit,
                });
                continue;
            }
            match client.try_publish(&q.topic, q.qos, q.retain, q.payload.clone()) {
                Ok(()) => self.handed.push_back(Handed::Msg(q)),
                Err(e) => {
                    tracing::debug!(error = %e, "MQTT hand-over refused; retrying later");
                    let d = self.outbox.requeue(vec![q]);
                    self.account(d);
                    break;
                }
            }
        }
    }

    /// Everything handed out but not acknowledged, for re-sending.
    pub(super) fn take_in_flight(&mut self) -> Vec<Queued> {
        let unacked = self.unacked.drain().map(|(_, h)| h);
        let handed = self.handed.drain(..);
        unacked
            .chain(handed)
            .filter_map(|h| {
                if let Handed::Msg(q) = h {
                    Some(q)
                } else {
                    None
                }
            })
            .collect()
    }

    pub(super) fn settled(&self) -> bool {
        self.outbox.is_empty()
            && self.handed.iter().all(|h| matches!(h, Handed::Status))
            && self.unacked.values().all(|h| matches!(h, Handed::Status))
    }
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) changed: Condvar,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the MQTT thread must not take the frame loop with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wake `finish` if it waits (`st` is this state, locked).
    pub(super) fn notify(&self, st: &State) {
        if st.finishing {
            self.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::queue::{Qos, Queued};

    fn queued(seq: u64) -> Queued {
        Queued {
            seq,
            topic: "t".into(),
            payload: Vec::new(),
            qos: Qos::AtLeastOnce,
            retain: false,
            at: Instant::now(),
            sent: true,
        }
    }

    /// A publisher that runs for months keeps the same few kilobytes of
    /// latency record (it used to keep every latency: ~100 MB a day at 5
    /// messages a frame and 30 fps).
    #[test]
    fn acknowledgement_latencies_keep_a_fixed_size() {
        let mut st = State::new(&MqttSettings::new("mqtt://h", "c"));
        let ack = |st: &mut State, n: u64| {
            for i in 0..n {
                let pkid = u16::try_from(i % 65_535 + 1).unwrap_or(1);
                st.unacked.insert(pkid, Handed::Msg(queued(i)));
                st.acked(pkid);
            }
        };
        ack(&mut st, 1_000);
        let early = st.latency_bytes();
        ack(&mut st, 300_000);
        assert_eq!(st.report.acked, 301_000);
        assert_eq!(
            st.latency_bytes(),
            early,
            "the latency record grew with the messages"
        );
        assert!(early < 64 << 10, "{early} bytes");
        assert!(st.latencies.quantile(0.5).is_some());
    }
}
