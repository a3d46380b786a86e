//! `pause` / `resume`: freeze or thaw every process of a container through its cgroup.

use crate::error::{Error, Result};
use crate::state::{StateRoot, Status};

/// Freezes a running container (runc's words for the wrong states).
pub fn pause(root: &StateRoot, id: &str) -> Result<()> {
    let (cg, status) = super::load_cgroup(root, id)?;
    match status {
        Status::Running => cg.freeze(),
        Status::Paused => Err(Error::WrongState("container already paused".into())),
        _ => Err(Error::WrongState("container not running".into())),
    }
}

/// Thaws a paused container.
pub fn resume(root: &StateRoot, id: &str) -> Result<()> {
    let (cg, status) = super::load_cgroup(root, id)?;
    match status {
        Status::Paused => cg.thaw(),
        _ => Err(Error::WrongState("container not paused".into())),
    }
}
