//! Stage state written and fsync'ed on a thread of its own: the frame loop
//! only hands over bytes ([`StateWriter::save`] never waits), so a disk whose
//! fsync takes hundreds of milliseconds (an SD card) never holds a frame.
//! What is handed over while a write is under way is coalesced, newest bytes
//! per stage, so a slow disk costs one pending state per stage, not a queue.
//! Dropping the writer writes what is left and waits for it (end of a run).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::state::StateStore;

enum Job {
    Save {
        name: String,
        bytes: Vec<u8>,
    },
    /// Answer once everything handed over before it is written.
    Flush(mpsc::Sender<()>),
}

/// The writer thread of one state folder.
pub struct StateWriter {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    written: Arc<AtomicU64>,
}

impl StateWriter {
    /// Start the thread; `None` (warned) when no thread can be started, and
    /// the caller keeps no state rather than writing on the frame thread.
    pub fn start(store: StateStore) -> Option<StateWriter> {
        let (tx, rx) = mpsc::channel();
        let written = Arc::new(AtomicU64::new(0));
        let counter = written.clone();
        let spawned = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || run(&store, &rx, &counter));
        match spawned {
            Ok(thread) => Some(StateWriter {
                tx: Some(tx),
                thread: Some(thread),
                written,
            }),
            Err(e) => {
                tracing::warn!("stage state is not kept: no thread to write it: {e}");
                None
            }
        }
    }

    /// Hand over stage `name`'s state; never waits for the disk.
    pub fn save(&self, name: &str, bytes: Vec<u8>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Save {
                name: name.to_string(),
                bytes,
            });
        }
    }

    /// Wait until everything handed over so far is on disk (or failed, warned).
    pub fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if let Some(tx) = &self.tx {
            if tx.send(Job::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    /// States written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread: take every job waiting, write the newest state of each stage.
fn run(store: &StateStore, rx: &mpsc::Receiver<Job>, written: &AtomicU64) {
    let mut warned = false;
    while let Ok(first) = rx.recv() {
        let mut newest: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut flushes = Vec::new();
        for job in std::iter::once(first).chain(rx.try_iter()) {
            match job {
                Job::Save { name, bytes } => {
                    newest.insert(name, bytes);
                }
                Job::Flush(done) => flushes.push(done),
            }
        }
        for (name, bytes) in newest {
            match store.save(&name, &bytes) {
                Ok(()) => {
                    written.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if !warned => {
                    warned = true;
                    tracing::warn!(plugin = %name, "stage state not written (said once): {e}");
                }
                Err(_) => {}
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handed_over_states_are_written_newest_last() {
        let dir = std::env::temp_dir().join(format!("edgepipe-writer-{}", std::process::id()));
        let store = StateStore::open(&dir).unwrap();
        let check = StateStore::open(&dir).unwrap();
        let w = StateWriter::start(store).unwrap();
        w.save("a", b"1".to_vec());
        w.save("a", b"2".to_vec());
        w.save("b", b"3".to_vec());
        w.flush();
        assert_eq!(check.load("a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(check.load("b").unwrap().as_deref(), Some(&b"3"[..]));
        w.save("b", b"4".to_vec());
        drop(w);
        assert_eq!(check.load("b").unwrap().as_deref(), Some(&b"4"[..]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
