//! Container operations, one file each, every one a small function over the state root.

mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod list;
mod pause;
mod start;
mod state;
mod update;

pub use create::{create, in_process_supported, CreateOptions};
pub use delete::{delete, delete_exited};
pub use events::{stats, watch, Event, EventKind};
pub use exec::{exec, ExecOptions};
pub use kill::{kill, parse_signal};
pub use list::list;
pub use pause::{pause, resume};
pub use start::{poststart, start};
pub use state::state;
pub use update::{merge_resources, update, KERNEL_MEMORY_IGNORED};

use crate::error::{Error, Result};
use crate::state::{ContainerState, Status, StateRoot};

/// Loads a container and its live status.
pub fn load(root: &StateRoot, id: &str) -> Result<(ContainerState, Status)> {
    let st = root.load(id)?;
    let status = st.status(root);
    Ok((st, status))
}

/// A container's cgroup and live status, for the calls that act on the cgroup (ps, pause,
/// resume, stats); a rootless container without one is an error naming it.
pub fn load_cgroup(root: &StateRoot, id: &str) -> Result<(crate::cgroups::Cgroup, Status)> {
    let (st, status) = load(root, id)?;
    let cg = st.cgroup.ok_or_else(|| Error::Other(format!("container {id} has no cgroup")))?;
    Ok((cg, status))
}

/// The state document hooks receive on stdin.
pub fn hook_state(st: &ContainerState, status: crate::state::Status) -> Vec<u8> {
    serde_json::to_vec(&st.doc(status, "")).unwrap_or_default()
}

/// Waits until `pid` has exited (it need not be our child), up to `timeout_ms`.
pub fn wait_exit(pid: i32, timeout_ms: i32) -> Result<()> {
    // SAFETY: pidfd_open/poll/close on a pid; ESRCH means it is already gone.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
        if fd < 0 {
            return Ok(());
        }
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let r = libc::poll(&mut p, 1, timeout_ms);
        libc::close(fd);
        if r == 0 {
            return Err(Error::Other(format!("timed out waiting for process {pid} to exit")));
        }
    }
    Ok(())
}

/// Whether a new process joins its container's cgroup by itself (root without a user namespace):
/// born in cgroup2 (clone3 CLONE_INTO_CGROUP) and moving itself into each v1 hierarchy ("0" into
/// its `tasks` file), so nobody waits for the kernel's global cgroup migration lock, whose first
/// writer after a quiet spell waits a whole RCU grace period. Otherwise the parent moves it.
pub(crate) fn joins_by_itself(rootless: bool, spec: &crate::spec::Spec) -> bool {
    // SAFETY: geteuid cannot fail.
    !rootless && spec.linux().namespace("user").is_none() && unsafe { libc::geteuid() } == 0
}

/// For a process that joins by itself: the plan's v1 `tasks` files, and (`open_cgroup2`) its
/// cgroup2 directory to be cloned into.
pub(crate) fn prepare_self_join(cg: &crate::cgroups::Cgroup, plan: &mut crate::process::InitPlan, open_cgroup2: bool) -> Result<Option<std::os::fd::OwnedFd>> {
    plan.cgroup_tasks = cg.v1_task_files().iter().map(crate::util::cstring).collect::<Result<_>>()?;
    match cg.unified_dir().filter(|_| open_cgroup2) {
        Some(d) => std::fs::File::open(d).map(|f| Some(f.into())).map_err(|e| Error::io("open cgroup", d.display().to_string(), e)),
        None => Ok(None),
    }
}

/// After a fork-like clone (spawn_init): moves `pid` where it did not get by itself.
pub(crate) fn move_after_clone(cg: Option<&crate::cgroups::Cgroup>, pid: i32, by_itself: bool, born_in_cgroup2: bool) -> Result<()> {
    match cg {
        Some(_) if by_itself && born_in_cgroup2 => Ok(()),
        Some(c) if by_itself => c.add_pid_unified(pid),
        Some(c) => c.add_pid(pid),
        None => Ok(()),
    }
}
