//! `delete`: remove a stopped container (or, with force, stop it first): cgroup, hooks, state.

use crate::error::{Error, Result};
use crate::hooks::run_hooks;
use crate::state::{ContainerState, StateRoot, Status};

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
    remove_stopped(root, &st)
}

/// `run`'s own delete once the container's init has exited. The state `create` returned is still
/// in memory: unless the file changed meanwhile (an `update`, or a delete and re-create under the
/// same id), it is not read and parsed again.
pub fn delete_exited(root: &StateRoot, st: &ContainerState) -> Result<Vec<String>> {
    let lock = match root.lock(&st.id) {
        Ok(l) => l,
        Err(Error::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let file = root.dir(&st.id).join(crate::state::STATE_FILE);
    let unchanged = match std::fs::read(&file) {
        Ok(on_disk) => serde_json::to_vec(st).is_ok_and(|mine| mine == on_disk),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read state", file.display().to_string(), e)),
    };
    if !unchanged {
        drop(lock);
        return delete(root, &st.id, true);
    }
    remove_stopped(root, st)
}

/// Removes a container whose init is gone: what is left in its cgroup, the cgroup, poststop
/// hooks (their failures are warnings), the state dir.
fn remove_stopped(root: &StateRoot, st: &ContainerState) -> Result<Vec<String>> {
    if let Some(cg) = &st.cgroup {
        cg.destroy()?;
    }
    let mut warnings = Vec::new();
    if let Some(h) = st.config.hooks.as_ref().filter(|h| !h.poststop.is_empty()) {
        if let Err(e) = run_hooks("poststop", &h.poststop, &super::hook_state(st, Status::Stopped)) {
            warnings.push(e.to_string());
        }
    }
    root.remove(&st.id)?;
    Ok(warnings)
}

fn kill_and_wait(pid: i32) -> Result<()> {
    // SAFETY: kill(2) of the container's init.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    super::wait_exit(pid, 10_000)
}
