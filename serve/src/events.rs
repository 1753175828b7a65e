//! An append-only log of named JSON events (one match's or one episode's), and the
//! Server-Sent-Events stream that replays it to a client and then follows it live.
//!
//! The producer (a match or episode thread) appends under a mutex and bumps a
//! `tokio::sync::watch` counter; each client keeps only a cursor into the log and waits on the
//! counter. So a slow client never makes the producer wait and never misses an event (nothing
//! is dropped, unlike a bounded broadcast channel), a client that connects late sees the whole
//! game from the start, `Last-Event-ID` resumes after a reconnect, and a client that goes away
//! leaves nothing behind but its dropped stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::Value;
use tokio::sync::watch;

/// One event: its SSE name (`start`, `move`, `end`, …) and JSON data.
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub name: &'static str,
    pub data: Value,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Arc<LogEvent>>,
    done: bool,
}

/// The events of one producer, in order; `done` once it has stopped.
#[derive(Debug)]
pub struct EventLog {
    inner: Mutex<Inner>,
    tick: watch::Sender<u64>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            inner: Mutex::new(Inner::default()),
            tick: watch::Sender::new(0),
        }
    }
}

impl EventLog {
    /// Appends an event and wakes the clients.
    pub fn push(&self, name: &'static str, data: Value) {
        {
            let mut g = self.lock();
            if g.done {
                return;
            }
            g.events.push(Arc::new(LogEvent { name, data }));
        }
        self.tick.send_modify(|t| *t += 1);
    }

    /// Marks the log finished (no more events) and wakes the clients.
    pub fn finish(&self) {
        self.lock().done = true;
        self.tick.send_modify(|t| *t += 1);
    }

    /// Events from index `from` on, and whether the log is finished.
    pub fn since(&self, from: usize) -> (Vec<Arc<LogEvent>>, bool) {
        let g = self.lock();
        let from = from.min(g.events.len());
        (g.events[from..].to_vec(), g.done)
    }

    /// The number of events so far.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether nothing was logged yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the producer has stopped.
    pub fn is_done(&self) -> bool {
        self.lock().done
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A producer that panicked mid-push leaves a consistent Vec; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The SSE response for `log` from event index `from`: each event carries its index as the SSE
/// `id`, so a reconnecting `EventSource` resumes after the last one it saw. The stream ends
/// after the last event of a finished log.
pub fn sse_stream(
    log: Arc<EventLog>,
    from: usize,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = log.tick.subscribe();
    let state = (log, rx, from, VecDeque::<(usize, Arc<LogEvent>)>::new());
    let stream =
        futures_util::stream::unfold(state, |(log, mut rx, mut next, mut buf)| async move {
            loop {
                if let Some((i, e)) = buf.pop_front() {
                    let ev = Event::default()
                        .event(e.name)
                        .id(i.to_string())
                        .data(e.data.to_string());
                    return Some((Ok(ev), (log, rx, next, buf)));
                }
                // Mark the counter seen before reading, so a push after the read wakes us.
                let _ = rx.borrow_and_update();
                let (events, done) = log.since(next);
                if !events.is_empty() {
                    for e in events {
                        buf.push_back((next, e));
                        next += 1;
                    }
                    continue;
                }
                if done || rx.changed().await.is_err() {
                    return None;
                }
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The index to resume from after a `Last-Event-ID` header (the next one), else 0.
pub fn resume_from(headers: &axum::http::HeaderMap) -> usize {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(0, |i| i.saturating_add(1))
}
