//! `delete`: remove a stopped container (or, with force, stop it first): cgroup, hooks, state.

use crate::error::{Error, Result};
use crate::hooks::run_hooks;
use crate::state::{StateRoot, Status};

/// Returns poststop hook failures as warnings.
pub fn delete(root: &StateRoot, id: &str, force: bool) -> Result<Vec<String>> {
    let _lock = root.lock(id)?;
    let (st, status) = super::load(root, id)?;
    match status {
        Status::Stopped => {}
        // A created container has not run anything of the user's: delete stops it, as runc does.
        Status::Created => kill_and_wait(st.pid)?,
        _ if force => {
            if status == Status::Paused {
                if let Some(cg) = &st.cgroup {
                    // SAFETY: kill(2); SIGKILL is queued and acts once thawed.
                    unsafe { libc::kill(st.pid, libc::SIGKILL) };
                    let _ = cg.thaw();
                }
            }
            kill_and_wait(st.pid)?
        }
        _ => return Err(Error::WrongState(format!("cannot delete container {id} that is not stopped: {}", status.as_str()))),
    }
    if let Some(cg) = &st.cgroup {
        cg.destroy()?;
    }
    let mut warnings = Vec::new();
    if let Some(h) = st.config.hooks.as_ref().filter(|h| !h.poststop.is_empty()) {
        if let Err(e) = run_hooks("poststop", &h.poststop, &super::hook_state(&st, Status::Stopped)) {
            warnings.push(e.to_string());
        }
    }
    root.remove(id)?;
    Ok(warnings)
}

fn kill_and_wait(pid: i32) -> Result<()> {
    // SAFETY: kill(2) of the container's init.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    super::wait_exit(pid, 10_000)
}
