//! `events`: a container's cgroup usage now, and a stream of usage and OOM-kill events until it stops.

use serde::Serialize;
use std::time::{Duration, Instant};

use crate::cgroups::{Cgroup, Stats};
use crate::error::{Error, Result};
use crate::state::{process_alive, ContainerState, StateRoot, Status};

/// How often the stream looks for a new OOM kill and for the container's exit.
const POLL: Duration = Duration::from_millis(100);

/// One line of runc's `events` output: `{"type":"stats"|"oom","id":…,"data":…}`.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Stats,
    Oom,
}

impl Event {
    pub fn stats(id: &str, stats: Stats) -> Event {
        Event { kind: EventKind::Stats, id: id.to_string(), data: Some(stats) }
    }

    pub fn oom(id: &str) -> Event {
        Event { kind: EventKind::Oom, id: id.to_string(), data: None }
    }
}

/// The container (created, running or paused) and its cgroup; runc's words when it has stopped.
fn live(root: &StateRoot, id: &str) -> Result<(ContainerState, Cgroup)> {
    let (st, status) = super::load(root, id)?;
    if status == Status::Stopped {
        return Err(Error::WrongState(format!("container with id {id} is not running")));
    }
    let cg = st.cgroup.clone().ok_or_else(|| Error::Other(format!("container {id} has no cgroup")))?;
    Ok((st, cg))
}

/// The container's cgroup usage in runc's `events --stats` schema.
pub fn stats(root: &StateRoot, id: &str) -> Result<Stats> {
    let (_, cg) = live(root, id)?;
    cg.stats_typed()
}

/// Streams events until the container stops (then returns Ok): a stats event every `interval`
/// (the first after one interval, as runc), and an OOM event whenever the cgroup's OOM-kill count
/// has grown. A failed stats read is handed to `emit` as an error and the stream goes on, as
/// runc's does; `emit` returns false to stop early (the reader went away).
pub fn watch(root: &StateRoot, id: &str, interval: Duration, mut emit: impl FnMut(Result<Event>) -> bool) -> Result<()> {
    if interval.is_zero() {
        return Err(Error::InvalidArgument("duration interval must be greater than 0".into()));
    }
    let (st, cg) = live(root, id)?;
    let mut oom_kills = cg.oom_kill_count().unwrap_or(0);
    let mut next_stats = Instant::now() + interval;
    loop {
        let alive = process_alive(st.pid, st.start_time);
        // Read after the liveness check, so an OOM kill that ended the container is still reported.
        let count = cg.oom_kill_count().unwrap_or(oom_kills);
        if count > oom_kills && !emit(Ok(Event::oom(id))) {
            return Ok(());
        }
        oom_kills = count;
        if !alive {
            return Ok(());
        }
        let now = Instant::now();
        if now >= next_stats {
            if !emit(cg.stats_typed().map(|s| Event::stats(id, s))) {
                return Ok(());
            }
            // Like Go's ticker: a late tick is not made up for.
            next_stats += interval;
            if next_stats <= now {
                next_stats = now + interval;
            }
        }
        std::thread::sleep(POLL.min(next_stats.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_like_runc() {
        let oom = serde_json::to_string(&Event::oom("c1")).unwrap();
        assert_eq!(oom, r#"{"type":"oom","id":"c1"}"#);
        let stats = serde_json::to_value(Event::stats("c1", Stats::default())).unwrap();
        assert_eq!(stats["type"], "stats");
        assert_eq!(stats["id"], "c1");
        assert!(stats["data"]["memory"]["usage"].is_object());
    }

    #[test]
    fn missing_container_and_zero_interval_fail() {
        let root = StateRoot::new(format!("/tmp/husk-events-test-{}", std::process::id()));
        let e = stats(&root, "nope").unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = watch(&root, "nope", Duration::ZERO, |_| true).unwrap_err();
        assert!(e.to_string().contains("greater than 0"), "{e}");
    }
}
