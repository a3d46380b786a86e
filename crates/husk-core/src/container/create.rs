//! `create`: set up a container up to the point where only the user's process is missing.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::hooks::run_hooks;
use crate::rootfs::HostHierarchy;
use crate::process::{spawn_init, spawn_vfork, CgroupHelper, CgroupNeed, Handoff, InitPlan, PlanContext, SpawnOptions};
use crate::spec::{self, Spec};
use crate::state::{self, ContainerState, StateRoot, Status, EXEC_FIFO};
use crate::util::cstring;

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (the caller relays the pty itself).
    pub console_fd: Option<RawFd>,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    /// false for `run`: the init execs as soon as it is ready instead of waiting for `start`.
    pub wait_for_start: bool,
    /// Start with CLONE_VM|CLONE_VFORK (see `spawn_vfork`): for callers that are multithreaded
    /// (the Node addon) and for the fastest `run`. Implies not waiting for `start`.
    pub in_process: bool,
    /// fds for the process's stdin/stdout/stderr (-1: inherit ours).
    pub stdio: [RawFd; 3],
    /// Keep the caller's session keyring instead of a new one named after the container.
    pub no_new_keyring: bool,
    /// config.json already read by the caller (it is read once per command, not per check).
    pub spec: Option<Spec>,
    /// Unprivileged: a container without a cgroup when cgroups cannot be made (runc --rootless).
    pub rootless: bool,
    /// Benchmarks only: exec the container's process directly instead of through the sealed
    /// trampoline (CVE-2019-5736), to measure what the protection costs.
    pub unprotected: bool,
}

impl CreateOptions {
    pub fn new(id: &str, bundle: impl Into<PathBuf>) -> CreateOptions {
        CreateOptions { id: id.to_string(), bundle: bundle.into(), stdio: [-1; 3], ..Default::default() }
    }
}

/// Removes whatever a failed create made: the cgroup and the state dir.
struct Undo<'a> {
    root: &'a StateRoot,
    id: &'a str,
    /// Shared with the cgroup helper thread, so the directories it made are known here too.
    cgroup: Option<Arc<Cgroup>>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Some(cg) = &self.cgroup {
                let _ = cg.destroy();
            }
            let _ = self.root.remove(self.id);
        }
    }
}

fn resolve_bundle(bundle: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(bundle).map_err(|e| Error::io("open bundle", bundle.display().to_string(), e))
}

fn resolve_rootfs(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let p = &spec.root.as_ref().ok_or_else(|| Error::spec("root", "missing"))?.path;
    let full = bundle.join(p);
    let real = std::fs::canonicalize(&full).map_err(|e| Error::io("open rootfs", format!("root.path {}", full.display()), e))?;
    if !real.is_dir() {
        return Err(Error::spec("root.path", format!("{} is not a directory", real.display())));
    }
    Ok(real)
}

/// The hierarchies to show under the container's /sys/fs/cgroup: one per host mount, with the
/// container's own directory in it.
fn host_hierarchies(cg: &Cgroup) -> Vec<HostHierarchy> {
    let mut out: Vec<HostHierarchy> = Vec::new();
    for (controller, dir) in cg.v1_dirs() {
        let name = dir.mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match out.iter_mut().find(|h| h.name == name) {
            Some(h) => h.options = format!("{},{controller}", h.options),
            None => out.push(HostHierarchy {
                name,
                fstype: "cgroup".into(),
                options: controller.clone(),
                container_dir: dir.path.display().to_string(),
            }),
        }
    }
    if let Some(u) = cg.unified() {
        out.push(HostHierarchy {
            name: u.mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            fstype: "cgroup2".into(),
            options: String::new(),
            container_dir: u.path.display().to_string(),
        });
    }
    out
}

/// The console socket the init sends its pty master to: connected from a path, or given as an fd.
pub fn console_stream(terminal: bool, path: Option<&Path>, fd: Option<RawFd>) -> Result<Option<UnixStream>> {
    match (terminal, path, fd) {
        (true, None, None) => Err(Error::InvalidArgument("cannot allocate tty if runc will detach without setting console socket".into())),
        (false, Some(_), _) => Err(Error::InvalidArgument("cannot use console socket if runc will not detach or allocate tty".into())),
        (true, Some(p), _) => Ok(Some(UnixStream::connect(p).map_err(|e| Error::io("connect console socket", p.display().to_string(), e))?)),
        // SAFETY: dup of the caller's fd; we own and close the duplicate.
        (true, None, Some(fd)) => Ok(Some(unsafe { UnixStream::from_raw_fd(libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0)) })),
        (false, None, _) => Ok(None),
    }
}

/// Writes the pid file atomically (temp file + rename), as containerd reads it right after.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let tmp = abs.with_file_name(format!(".{}.tmp", abs.file_name().and_then(|n| n.to_str()).unwrap_or("pid")));
    std::fs::write(&tmp, pid.to_string()).map_err(|e| Error::io("write pid file", tmp.display().to_string(), e))?;
    std::fs::rename(&tmp, &abs).map_err(|e| Error::io("write pid file", abs.display().to_string(), e))
}

pub fn create(root: &StateRoot, opts: &CreateOptions) -> Result<ContainerState> {
    let bundle = resolve_bundle(&opts.bundle)?;
    let spec = match &opts.spec {
        Some(s) => s.clone(),
        None => Spec::load(&bundle)?,
    };
    spec::validate(&spec)?;
    let rootfs = resolve_rootfs(&bundle, &spec)?;
    let process = spec.process.as_ref().ok_or_else(|| Error::spec("process", "missing"))?;
    let console = console_stream(process.terminal, opts.console_socket.as_deref(), opts.console_fd)?;
    let linux = spec.linux();

    let dir = root.create_dir(&opts.id)?;
    let mut undo = Undo { root, id: &opts.id, cgroup: None, armed: true };

    let resources = crate::cgroups::resources_for(linux);
    // In-process (vfork) start makes the cgroup on a helper thread while the child sets up its
    // namespaces (spawn_vfork); otherwise (and when a failure must be tolerated) it is made here,
    // before the clone.
    let on_helper = opts.in_process && !opts.rootless;
    let cg = match Cgroup::resolve(linux.cgroups_path.as_deref(), &opts.id) {
        Ok(cg) if on_helper => Some(Arc::new(cg)),
        Ok(cg) => match cg.create() {
            Ok(()) => Some(Arc::new(cg)),
            // Without delegation an unprivileged user cannot make cgroups: run without, as runc does.
            Err(_) if opts.rootless => None,
            Err(e) => return Err(e),
        },
        Err(_) if opts.rootless => None,
        Err(e) => return Err(e),
    };
    undo.cgroup = cg.clone();
    if let Some(cg) = cg.as_ref().filter(|_| !on_helper) {
        if let Err(e) = cg.apply(&resources) {
            if !opts.rootless {
                return Err(e);
            }
        }
    }
    let self_join = super::joins_by_itself(opts.rootless, &spec);
    // In-process start: its cgroup2 directory is made here, so clone3 can start the child in it;
    // from here on a helper thread makes the rest, while the plan is built and the child sets up
    // its namespaces; the child waits for it only where it must.
    let mut cgroup2 = match cg.as_ref().filter(|_| on_helper) {
        Some(cg) => cg.create_unified()?,
        None => None,
    };
    let mut helper = match cg.as_ref().filter(|_| opts.in_process) {
        Some(cg) => Some(cgroup_helper(Arc::clone(cg), resources.clone(), on_helper, self_join, opts.rootless)?),
        None => None,
    };
    let hierarchies = cg.as_deref().map(host_hierarchies).unwrap_or_default();

    let fifo = if opts.wait_for_start && !opts.in_process {
        let path = dir.join(EXEC_FIFO);
        let c = cstring(&path)?;
        // SAFETY: mkfifo/open of a NUL-terminated path.
        let fd = unsafe {
            if libc::mkfifo(c.as_ptr(), 0o622) != 0 {
                return Err(Error::io("create exec fifo", path.display().to_string(), std::io::Error::last_os_error()));
            }
            // O_RDWR: the init reads from it without a blocking open; `start` writes one byte.
            libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC)
        };
        if fd < 0 {
            return Err(Error::io("open exec fifo", path.display().to_string(), std::io::Error::last_os_error()));
        }
        // SAFETY: just opened, owned here.
        Some(unsafe { OwnedFd::from_raw_fd(fd) })
    } else {
        None
    };

    let mut plan = InitPlan::build(&spec, &PlanContext {
        bundle: &bundle,
        rootfs: &rootfs,
        no_pivot: opts.no_pivot,
        preserve_fds: opts.preserve_fds,
        hierarchies: &hierarchies,
        seccomp_cache: Some(&root.path.join(SECCOMP_CACHE)),
    })?;

    plan.stdio = opts.stdio;
    if !opts.unprotected {
        plan.use_trampoline()?;
    }
    if !opts.no_new_keyring {
        plan.session_keyring = Some(cstring(&opts.id)?);
    }
    if let Some(cg) = cg.as_ref().filter(|_| self_join) {
        // In-process start has its cgroup2 directory open already (create_unified).
        let opened = super::prepare_self_join(cg, &mut plan, !opts.in_process)?;
        cgroup2 = cgroup2.or(opened);
    }
    let mut cs = ContainerState {
        id: opts.id.clone(),
        pid: 0,
        start_time: 0,
        bundle: bundle.display().to_string(),
        rootfs: rootfs.display().to_string(),
        created: state::rfc3339_now(),
        annotations: spec.annotations.clone(),
        cgroup: cg.as_deref().cloned(),
        config: spec.clone(),
        rootless: opts.rootless,
    };
    let new_time = linux.namespace("time").filter(|n| n.path.is_none()).map(|_| &linux.time_offsets);
    let so = SpawnOptions {
        plan: &plan,
        fifo_fd: fifo.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1),
        console_fd: console.as_ref().map(|c| c.as_raw_fd()).unwrap_or(-1),
        pid_ns_path: linux.namespace("pid").and_then(|n| n.path.as_deref()),
        time_offsets: new_time,
        time_ns_path: linux.namespace("time").and_then(|n| n.path.as_deref()),
        uid_mappings: &linux.uid_mappings,
        gid_mappings: &linux.gid_mappings,
        into_cgroup: cgroup2.as_ref().map(|f| f.as_raw_fd()),
    };
    let hooks = spec.hooks.clone().unwrap_or_default();
    // The hooks of create (prestart, createRuntime, createContainer) run at lifecycle steps 3-5,
    // after the environment is created (step 2), so the spec's status for them is "created"
    // ("creating" is step 2 itself). runc 1.1 sends "creating".
    let state_for = |pid: i32| {
        let mut s = cs.clone();
        s.pid = pid;
        crate::container::hook_state(&s, Status::Created)
    };
    let spawned = if opts.in_process {
        if so.pid_ns_path.is_some() || so.time_ns_path.is_some() || so.time_offsets.is_some() {
            return Err(Error::InvalidArgument("in-process start cannot join pid/time namespaces by path or create a time namespace".into()));
        }
        let spawned = spawn_vfork(&plan, so.console_fd, helper.take(), so.into_cgroup)?;
        // The cgroup as the helper made it: with the parents it created, for delete.
        cs.cgroup = cg.as_deref().cloned();
        Ok(spawned)
    } else {
        spawn_init(
        &so,
        &mut |pid, born_in_cgroup2| super::move_after_clone(cg.as_deref(), pid, self_join, born_in_cgroup2),
        // The child's own hooks (createContainer, startContainer) get the same document.
        &state_for,
        &mut |pid| {
            let st = state_for(pid);
            run_hooks("prestart", &hooks.prestart, &st)?;
            run_hooks("createRuntime", &hooks.create_runtime, &st)
        },
    )
    };
    let spawned = spawned?;
    cs.pid = spawned.pid;
    cs.start_time = state::proc_stat(spawned.pid).map(|(_, t)| t).unwrap_or(0);
    let finish = (|| {
        root.save(&cs)?;
        if let Some(p) = &opts.pid_file {
            write_pid_file(p, cs.pid)?;
        }
        Ok(())
    })();
    if let Err(e) = finish {
        // SAFETY: kill and reap our own child.
        unsafe {
            libc::kill(cs.pid, libc::SIGKILL);
            libc::waitpid(cs.pid, std::ptr::null_mut(), 0);
        }
        return Err(e);
    }
    drop(console);
    undo.armed = false;
    Ok(cs)
}

/// The helper thread that makes an in-process container's cgroup (`make`: else it exists
/// already and only the pid goes in). A child that joins `by_itself` moves itself into the v1
/// hierarchies, and the helper moves it into cgroup2 only if clone3 could not start it there.
/// What it made stays for the caller to remove if anything fails: removed under the child's
/// feet, a bind of it would fail and hide the real error.
fn cgroup_helper(cg: Arc<Cgroup>, resources: crate::spec::Resources, make: bool, by_itself: bool, rootless: bool) -> Result<CgroupHelper> {
    CgroupHelper::start(move |h: &Handoff| {
        if make {
            cg.create()?;
        }
        h.reached(CgroupNeed::Dirs);
        if make {
            cg.apply(&resources)?;
        }
        let pid = h.pid().ok_or_else(|| Error::Other("no container process to put in its cgroup".into()))?;
        match super::move_after_clone(Some(&cg), pid, by_itself, h.born_in_cgroup2()) {
            // Without delegation an unprivileged user runs without a cgroup, as runc does.
            Err(_) if rootless => {}
            r => r?,
        }
        h.reached(CgroupNeed::Joined);
        Ok(())
    })
}

/// Compiled seccomp programs, under the state root (compiling Docker's profile takes ~13 ms).
pub const SECCOMP_CACHE: &str = ".seccomp-cache";

/// Whether `in_process` (vfork) start can take this config: no user namespace, no hooks that
/// need a parent, no pid/time namespace switch in the parent.
pub fn in_process_supported(spec: &Spec) -> bool {
    let linux = spec.linux();
    let hooks_ok = spec.hooks.as_ref().is_none_or(|h| {
        h.prestart.is_empty() && h.create_runtime.is_empty() && h.create_container.is_empty() && h.start_container.is_empty()
    });
    // A notify listener fd needs a parent to hand it to the agent.
    let notify = linux.seccomp.as_ref().is_some_and(|s| s.to_string().contains("SCMP_ACT_NOTIFY"));
    hooks_ok
        && !notify
        && linux.namespace("user").is_none()
        && linux.namespace("time").is_none()
        && linux.namespace("pid").is_none_or(|n| n.path.is_none())
}
