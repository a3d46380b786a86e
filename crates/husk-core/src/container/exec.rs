//! `exec`: start another process inside a running container, joining its namespaces and cgroup.

use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::process::{spawn_init, InitPlan, SpawnOptions};
use crate::spec::Process;
use crate::state::{StateRoot, Status};

use super::create::{console_stream, write_pid_file};

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (the caller relays the pty itself).
    pub console_fd: Option<RawFd>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// Benchmarks only: no sealed trampoline (see `CreateOptions::unprotected`).
    pub unprotected: bool,
}

/// Starts the process and returns its host pid; the caller is its parent and may wait for it.
pub fn exec(root: &StateRoot, opts: &ExecOptions) -> Result<i32> {
    let (st, status) = super::load(root, &opts.id)?;
    match status {
        Status::Created | Status::Running => {}
        Status::Paused => return Err(Error::WrongState("cannot exec in a paused container".into())),
        _ => return Err(Error::WrongState("cannot exec in a stopped container: container not running".into())),
    }
    let p = &opts.process;
    if p.args.is_empty() {
        return Err(Error::InvalidArgument("exec args cannot be empty".into()));
    }
    let console = console_stream(p.terminal, opts.console_socket.as_deref(), opts.console_fd)?;
    let mut plan = InitPlan::build_exec(p, &st.config, st.pid, opts.preserve_fds, Some(&root.path.join(super::create::SECCOMP_CACHE)))?;
    if !opts.unprotected {
        plan.use_trampoline()?;
    }
    let linux = st.config.linux();
    let cg = st.cgroup.clone();
    let self_join = super::joins_by_itself(st.rootless, &st.config);
    let cgroup2 = match cg.as_ref().filter(|_| self_join) {
        Some(c) => super::prepare_self_join(c, &mut plan, true)?,
        None => None,
    };
    let pid_ns = linux.namespace("pid").map(|_| format!("/proc/{}/ns/pid", st.pid));
    let time_ns = linux.namespace("time").map(|_| format!("/proc/{}/ns/time", st.pid));
    let so = SpawnOptions {
        plan: &plan,
        fifo_fd: -1,
        console_fd: console.as_ref().map(|c| c.as_raw_fd()).unwrap_or(-1),
        pid_ns_path: pid_ns.as_deref(),
        time_offsets: None,
        time_ns_path: time_ns.as_deref(),
        uid_mappings: &[],
        gid_mappings: &[],
        into_cgroup: cgroup2.as_ref().map(|f| f.as_raw_fd()),
    };
    let spawned = spawn_init(
        &so,
        &mut |pid, born_in_cgroup2| super::move_after_clone(cg.as_ref(), pid, self_join, born_in_cgroup2),
        &|_| b"{}".to_vec(),
        &mut |_| Ok(()),
    )?;
    if let Some(f) = &opts.pid_file {
        if let Err(e) = write_pid_file(f, spawned.pid) {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(spawned.pid, libc::SIGKILL);
                libc::waitpid(spawned.pid, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    }
    Ok(spawned.pid)
}
