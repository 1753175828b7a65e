//! A bounded store of jobs (matches, episodes) by id: at most `capacity` are kept; when full, the
//! oldest finished one is dropped, and a new job is refused while every kept one still runs.
//! Running jobs are bounded separately by the server's semaphore (`--max-matches`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::events::EventLog;

/// One job: what it is (`info`), its events, and a record file once finished (Go's SGF).
#[derive(Debug)]
pub struct Job {
    pub id: u64,
    pub info: Value,
    pub log: Arc<EventLog>,
    pub record: Mutex<Option<String>>,
    /// Set by a stop request: the job ends at its next move or step.
    pub stop: Arc<AtomicBool>,
    /// The job that follows this one (the next game of a match `ember match --serve` plays).
    pub next: OnceLock<u64>,
}

impl Job {
    /// `running`, `finished` (an `end` event) or `failed` (an `error` event).
    pub fn status(&self) -> &'static str {
        let (events, done) = self.log.since(self.log.len().saturating_sub(1));
        match (done, events.last().map(|e| e.name)) {
            (false, _) => "running",
            (true, Some("end")) => "finished",
            (true, _) => "failed",
        }
    }
}

/// Jobs by id, bounded.
#[derive(Debug)]
pub struct Store {
    next: AtomicU64,
    capacity: usize,
    jobs: Mutex<BTreeMap<u64, Arc<Job>>>,
}

impl Store {
    pub fn new(capacity: usize) -> Store {
        Store {
            next: AtomicU64::new(1),
            capacity: capacity.max(1),
            jobs: Mutex::new(BTreeMap::new()),
        }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a job, dropping the oldest finished one when full; `None` when every kept job is
    /// still running.
    pub fn insert(&self, info: Value) -> Option<Arc<Job>> {
        let mut jobs = self.jobs();
        if jobs.len() >= self.capacity {
            let oldest_done = jobs
                .iter()
                .find(|(_, j)| j.log.is_done())
                .map(|(&id, _)| id)?;
            jobs.remove(&oldest_done);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let job = Arc::new(Job {
            id,
            info,
            log: Arc::new(EventLog::default()),
            record: Mutex::new(None),
            stop: Arc::new(AtomicBool::new(false)),
            next: OnceLock::new(),
        });
        jobs.insert(id, job.clone());
        Some(job)
    }

    pub fn get(&self, id: u64) -> Option<Arc<Job>> {
        self.jobs().get(&id).cloned()
    }

    /// Every kept job, newest first.
    pub fn list(&self) -> Vec<Arc<Job>> {
        self.jobs().values().rev().cloned().collect()
    }
}
