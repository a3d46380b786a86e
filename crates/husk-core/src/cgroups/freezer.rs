//! Freezing and thawing: v1 freezer.state, v2 cgroup.freeze with cgroup.events.

use std::path::Path;
use std::time::Duration;

use super::files::{self, Backoff};
use crate::error::{Error, Result};

/// How long a freeze may take before it is undone and reported (a task stuck in D state).
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn freeze_v1(dir: &Path) -> Result<()> {
    files::write(dir, "freezer.state", "FROZEN")?;
    let mut backoff = Backoff::new(FREEZE_TIMEOUT);
    let mut polls = 0u32;
    loop {
        if files::read(dir, "freezer.state")?.trim() == "FROZEN" {
            return Ok(());
        }
        polls += 1;
        // Tasks forked while FREEZING can be missed; asking again catches them (runc does the same).
        if polls.is_multiple_of(16) {
            files::write(dir, "freezer.state", "FROZEN")?;
        }
        if !backoff.sleep() {
            let _ = files::write(dir, "freezer.state", "THAWED");
            return Err(Error::Other(format!("timed out freezing {} (left THAWED)", dir.display())));
        }
    }
}

pub fn thaw_v1(dir: &Path) -> Result<()> {
    files::write(dir, "freezer.state", "THAWED")
}

pub fn is_frozen_v1(dir: &Path) -> Result<bool> {
    Ok(files::read(dir, "freezer.state")?.trim() == "FROZEN")
}

pub fn freeze_v2(dir: &Path) -> Result<()> {
    files::write(dir, "cgroup.freeze", "1")?;
    let mut backoff = Backoff::new(FREEZE_TIMEOUT);
    loop {
        let events = files::read(dir, "cgroup.events")?;
        if files::keyed(&events, "frozen") == Some(1) {
            return Ok(());
        }
        if !backoff.sleep() {
            let _ = files::write(dir, "cgroup.freeze", "0");
            return Err(Error::Other(format!("timed out freezing {} (left thawed)", dir.display())));
        }
    }
}

pub fn thaw_v2(dir: &Path) -> Result<()> {
    files::write(dir, "cgroup.freeze", "0")
}

/// A freeze asked for counts as frozen, as runc's `state` reports paused right after `pause`.
pub fn is_frozen_v2(dir: &Path) -> Result<bool> {
    Ok(files::read(dir, "cgroup.freeze")?.trim() == "1")
}
