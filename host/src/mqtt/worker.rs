//! The event loop thread: polls rumqttc, matches its events to our messages,
//! and after a broken connection puts everything unacknowledged back in the
//! queue and reconnects with back-off.

use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::link::{self, Client, Connection, LinkError, LinkEvent};
use super::queue::Qos;
use super::state::{Handed, Shared};
use super::{AWAY_LOG_INTERVAL, RECONNECT_MAX, RECONNECT_MIN};

/// The event loop thread.
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) client: Client,
    pub(super) connection: Connection,
    pub(super) ready: Option<mpsc::Sender<Result<(), LinkError>>>,
    pub(super) url: String,
    pub(super) status_topic: Option<String>,
}

impl Worker {
    pub(super) fn run(mut self) {
        let mut attempt = 0u32;
        let mut away_logged = Instant::now();
        loop {
            let event = self.connection.recv();
            let mut st = self.shared.lock();
            match event {
                Ok(LinkEvent::Connected(broker_max_packet)) => {
                    attempt = 0;
                    st.connected = true;
                    st.set_broker_max_packet(broker_max_packet);
                    if st.ever_connected {
                        st.report.reconnects += 1;
                        tracing::info!(url = %self.url, queued = st.outbox.len(), "reconnected to MQTT broker; delivering queued messages");
                    }
                    st.ever_connected = true;
                    if let Some(t) = &self.status_topic {
                        if self
                            .client
                            .try_publish(
                                t,
                                Qos::AtLeastOnce,
                                true,
                                link::ONLINE.as_bytes().to_vec(),
                            )
                            .is_ok()
                        {
                            st.handed.push_back(Handed::Status);
                        }
                    }
                    st.feed(&self.client);
                    if let Some(r) = self.ready.take() {
                        let _ = r.send(Ok(()));
                    }
                }
                Ok(LinkEvent::Published(pkid)) => {
                    match st.handed.pop_front() {
                        Some(Handed::Msg(mut q)) => {
                            if q.sent {
                                st.report.resent += 1;
                            } else {
                                q.sent = true;
                                st.report.sent += 1;
                            }
                            if q.qos.acked() {
                                st.unacked.insert(pkid, Handed::Msg(q));
                            }
                        }
                        Some(Handed::Status) if pkid != 0 => {
                            st.unacked.insert(pkid, Handed::Status);
                        }
                        _ => {}
                    }
                    st.feed(&self.client);
                }
                Ok(LinkEvent::Acked(pkid)) => {
                    st.acked(pkid);
                    st.feed(&self.client);
                }
                Ok(LinkEvent::Disconnected) => {
                    st.connected = false;
                    self.shared.notify(&st);
                    return;
                }
                Ok(LinkEvent::Other) => {}
                Err(LinkError::Closed) => {
                    st.connected = false;
                    self.shared.notify(&st);
                    return;
                }
                Err(e) => {
                    let was_connected = st.connected;
                    st.connected = false;
                    self.connection.forget_pending();
                    let back = st.take_in_flight();
                    let d = st.outbox.requeue(back);
                    st.account(d);
                    if was_connected {
                        away_logged = Instant::now();
                        tracing::warn!(url = %self.url, error = e.reason(), queued = st.outbox.len(), "MQTT connection lost; queueing and reconnecting");
                    } else if away_logged.elapsed() >= AWAY_LOG_INTERVAL {
                        away_logged = Instant::now();
                        tracing::warn!(
                            url = %self.url,
                            error = e.reason(),
                            queued = st.outbox.len(),
                            dropped = st.report.dropped,
                            "MQTT broker still away; queueing"
                        );
                    } else if st.ever_connected && e.is_fatal() {
                        tracing::warn!(url = %self.url, error = e.reason(), "MQTT reconnect refused; retrying");
                    } else {
                        tracing::debug!(url = %self.url, error = e.reason(), attempt, "MQTT connect attempt failed");
                    }
                    if let Some(r) = self.ready.take() {
                        let _ = r.send(Err(e));
                    }
                    self.shared.notify(&st);
                    if st.stop {
                        return;
                    }
                    drop(st);
                    let until =
                        Instant::now() + link::backoff(attempt, RECONNECT_MIN, RECONNECT_MAX);
                    attempt = attempt.saturating_add(1);
                    while Instant::now() < until {
                        if self.shared.lock().stop {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    continue;
                }
            }
            self.shared.notify(&st);
        }
    }
}
