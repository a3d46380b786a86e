//! The birth of a container: everything the init needs is built here, before the clone
//! (`InitPlan::build`), so the child itself makes only raw syscalls (`init::init_main`).

pub mod caps;
pub mod fail;
pub mod trampoline;
mod home;
mod init;
mod spawn;

pub use spawn::{spawn_init, spawn_vfork, CgroupHelper, CgroupNeed, Handoff, SpawnOptions, Spawned};

use std::ffi::CString;
use std::os::fd::RawFd;
use std::path::Path;

use crate::error::{Error, Result};
use crate::hooks::RawHook;
use crate::rootfs::{self, HostHierarchy, PlanInput, RootfsPlan};
use crate::spec::{Process, Spec};
use crate::util::cstring;

use crate::security::exec_attr::ExecAttr;
use crate::security::scheduler::{self, SchedAttr};
use crate::security::seccomp::{self, SeccompPlan};
use crate::security::{apparmor, ioprio, personality, selinux, sysctl};
use caps::CapSets;

pub fn rlimit_resource(name: &str) -> Option<u32> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// The clone(2) flag of a namespace type.
pub fn ns_flag(typ: &str) -> libc::c_int {
    match typ {
        "pid" => libc::CLONE_NEWPID,
        "network" => libc::CLONE_NEWNET,
        "mount" => libc::CLONE_NEWNS,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        "user" => libc::CLONE_NEWUSER,
        "cgroup" => libc::CLONE_NEWCGROUP,
        "time" => 0x80, // CLONE_NEWTIME
        _ => 0,
    }
}

/// One rlimit for the child (libc::rlimit has no Debug).
#[derive(Debug, Clone, Copy)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// Everything the init child needs, allocated before the clone.
#[derive(Debug)]
pub struct InitPlan {
    /// Namespaces created by clone(2) itself.
    pub clone_flags: libc::c_int,
    pub unshare_cgroupns: bool,
    /// (fd, nstype) pairs the child setns(2)es into, in order.
    pub join: Vec<(RawFd, libc::c_int)>,
    /// "TYPE PATH" of every namespace joined by path, by nstype, for error messages.
    pub join_paths: Vec<(libc::c_int, String)>,
    pub userns: bool,
    /// A user namespace to join by path: the clone goes through a first stage (see spawn.rs).
    pub join_user: Option<RawFd>,
    pub rootfs: Option<RootfsPlan>,
    pub hostname: Option<CString>,
    pub domainname: Option<CString>,
    pub sysctls: Vec<(CString, CString)>,
    pub oom_score_adj: Option<CString>,
    pub rlimits: Vec<Rlimit>,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<libc::gid_t>,
    pub umask: Option<u32>,
    pub caps: Option<CapSets>,
    pub last_cap: u32,
    pub no_new_privs: bool,
    pub cwd: CString,
    pub exec_candidates: Vec<CString>,
    pub argv0_display: String,
    _args: Vec<CString>,
    _env: Vec<CString>,
    pub argv: Vec<*const libc::c_char>,
    pub envp: Vec<*const libc::c_char>,
    /// The sealed exec trampoline (trampoline.rs), or None to execve the program directly.
    pub trampoline: Option<std::os::fd::OwnedFd>,
    /// Per exec candidate: the trampoline's argv `["husk-exec", candidate, argv...]`.
    pub trampoline_argvs: Vec<Vec<*const libc::c_char>>,
    pub terminal: bool,
    /// Bind the pty slave to /dev/console (the init does; exec does not).
    pub mount_console: bool,
    pub console_size: Option<(u16, u16)>,
    pub create_container_hooks: Vec<RawHook>,
    pub start_container_hooks: Vec<RawHook>,
    pub run_runtime_hooks: bool,
    pub preserve_fds: i32,
    /// fds to become the process's stdin/stdout/stderr (-1: inherit).
    pub stdio: [RawFd; 3],
    /// The v1 `tasks` files the child writes "0" into when it joins its cgroup by itself
    /// (container::joins_by_itself): first thing with a parent, in vfork mode once the helper
    /// has made and limited them. A self-move skips the kernel's global migration lock.
    pub cgroup_tasks: Vec<CString>,
    pub sysctl_names: Vec<String>,
    pub seccomp: Option<SeccompPlan>,
    /// The session keyring the init joins (named after the container), unless --no-new-keyring.
    pub session_keyring: Option<CString>,
    pub personality: Option<u64>,
    pub io_priority: Option<i32>,
    pub scheduler: Option<SchedAttr>,
    pub apparmor: Option<ExecAttr>,
    pub selinux: Option<ExecAttr>,
}

fn path_candidates(arg0: &str, env: &[String]) -> Result<Vec<CString>> {
    if arg0.contains('/') {
        return Ok(vec![cstring(arg0)?]);
    }
    let path = env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':').map(|d| cstring(format!("{}/{arg0}", if d.is_empty() { "." } else { d }))).collect()
}

pub struct PlanContext<'a> {
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    pub preserve_fds: i32,
    pub hierarchies: &'a [HostHierarchy],
    /// Where compiled seccomp programs are cached (under the state root).
    pub seccomp_cache: Option<&'a Path>,
}

/// Namespaces are joined user first (it grants the rights to join the rest), mount last (so
/// the other /proc paths still resolve).
fn join_order(flag: libc::c_int) -> u8 {
    match flag {
        libc::CLONE_NEWUSER => 0,
        libc::CLONE_NEWNS => 2,
        _ => 1,
    }
}

fn open_ns_fd(path: &str, field: &str) -> Result<RawFd> {
    let c = cstring(path)?;
    // SAFETY: open of a NUL-terminated path; the fd is closed on exec and by Drop.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io("open namespace", format!("{field} {path}"), std::io::Error::last_os_error()));
    }
    Ok(fd)
}

impl InitPlan {
    /// Routes the final execve through the sealed trampoline (CVE-2019-5736, trampoline.rs).
    pub fn use_trampoline(&mut self) -> Result<()> {
        self.trampoline = Some(trampoline::sealed_trampoline()?);
        let head = c"husk-exec".as_ptr();
        self.trampoline_argvs = self
            .exec_candidates
            .iter()
            .map(|c| [head, c.as_ptr()].into_iter().chain(self.argv.iter().copied()).collect())
            .collect();
        Ok(())
    }

    /// The process half of a plan (user, caps, rlimits, args, env, cwd, console), shared by the
    /// container's init and by exec; namespaces and rootfs are left empty.
    /// `root`: the container's root as the host sees it, where HOME is looked up when the
    /// process's env has none (see `home`).
    pub fn for_process(process: &Process, preserve_fds: i32, root: &Path) -> Result<InitPlan> {
        if process.args.is_empty() {
            return Err(Error::spec("process.args", "must contain at least one element"));
        }
        let mut rlimits = Vec::new();
        for (i, r) in process.rlimits.iter().enumerate() {
            let res = rlimit_resource(&r.typ).ok_or_else(|| Error::spec(format!("process.rlimits[{i}].type"), format!("unknown rlimit {:?}", r.typ)))?;
            rlimits.push(Rlimit { resource: res, soft: r.soft, hard: r.hard });
        }
        let caps = process.capabilities.as_ref().map(CapSets::from_spec).transpose()?;
        let args: Vec<CString> = process.args.iter().map(cstring).collect::<Result<_>>()?;
        let mut env: Vec<CString> = process.env.iter().map(cstring).collect::<Result<_>>()?;
        if !process.env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(cstring(format!("HOME={}", home::lookup(root, process.user.uid)))?);
        }
        let argv = args.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let envp = env.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        Ok(InitPlan {
            clone_flags: 0,
            unshare_cgroupns: false,
            join: Vec::new(),
            join_paths: Vec::new(),
            userns: false,
            join_user: None,
            rootfs: None,
            hostname: None,
            domainname: None,
            sysctls: Vec::new(),
            oom_score_adj: process.oom_score_adj.map(|v| cstring(v.to_string())).transpose()?,
            rlimits,
            uid: process.user.uid,
            gid: process.user.gid,
            additional_gids: process.user.additional_gids.clone(),
            umask: process.user.umask,
            caps,
            last_cap: caps::last_cap(),
            no_new_privs: process.no_new_privileges,
            cwd: cstring(if process.cwd.is_empty() { "/" } else { &process.cwd })?,
            exec_candidates: path_candidates(&process.args[0], &process.env)?,
            argv0_display: process.args[0].clone(),
            _args: args,
            _env: env,
            argv,
            envp,
            trampoline: None,
            trampoline_argvs: Vec::new(),
            terminal: process.terminal,
            mount_console: false,
            console_size: process.console_size.map(|c| (c.height as u16, c.width as u16)),
            create_container_hooks: Vec::new(),
            start_container_hooks: Vec::new(),
            run_runtime_hooks: false,
            preserve_fds,
            stdio: [-1; 3],
            cgroup_tasks: Vec::new(),
            sysctl_names: Vec::new(),
            seccomp: None,
            session_keyring: None,
            personality: None,
            io_priority: process.io_priority.as_ref().map(ioprio::value).transpose()?,
            scheduler: process.scheduler.as_ref().map(scheduler::attr).transpose()?,
            apparmor: apparmor::plan(process.apparmor_profile.as_deref())?,
            selinux: selinux::plan(process.selinux_label.as_deref(), None)?,
        })
    }

    /// The plan of a container's init: its process plus namespaces, rootfs, sysctls and hooks.
    pub fn build(spec: &Spec, ctx: &PlanContext) -> Result<InitPlan> {
        let linux = spec.linux();
        let process = spec.process.as_ref().ok_or_else(|| Error::spec("process", "missing"))?;
        let mut plan = InitPlan::for_process(process, ctx.preserve_fds, ctx.rootfs)?;
        for (i, ns) in linux.namespaces.iter().enumerate() {
            let flag = ns_flag(&ns.typ);
            let field = format!("linux.namespaces[{i}].path");
            match &ns.path {
                // Joined first by a short-lived stage that then creates the other namespaces
                // inside it, so they are owned by that user namespace (spawn.rs).
                Some(p) if ns.typ == "user" => {
                    plan.join_user = Some(open_ns_fd(p, &field)?);
                    plan.join_paths.push((flag, format!("user {p}")));
                }
                // pid and time paths are joined by the parent before the clone (they act on children).
                Some(_) if ns.typ == "pid" || ns.typ == "time" => {}
                Some(p) => {
                    plan.join.push((open_ns_fd(p, &field)?, flag));
                    plan.join_paths.push((flag, format!("{} {p}", ns.typ)));
                }
                None if ns.typ == "cgroup" => plan.unshare_cgroupns = true,
                None if ns.typ == "time" => {}
                None => plan.clone_flags |= flag,
            }
        }
        plan.join.sort_by_key(|(_, f)| join_order(*f));
        plan.userns = linux.namespace("user").is_some();
        if linux.namespace("mount").is_none() {
            return Err(Error::spec("linux.namespaces", "a mount namespace is required"));
        }
        plan.rootfs = Some(rootfs::plan(&PlanInput {
            spec,
            bundle: ctx.bundle,
            rootfs: ctx.rootfs,
            userns: plan.userns,
            cgroupns: linux.namespace("cgroup").is_some(),
            no_pivot: ctx.no_pivot,
            hierarchies: ctx.hierarchies,
        })?);
        sysctl::validate_all(&linux.sysctl, &linux.namespaces)?;
        for (k, v) in &linux.sysctl {
            plan.sysctls.push((cstring(sysctl::proc_path(k))?, cstring(v)?));
            plan.sysctl_names.push(k.clone());
        }
        selinux::plan(None, linux.mount_label.as_deref())?;
        plan.add_container_security(spec, ctx.seccomp_cache)?;
        plan.hostname = spec.hostname.as_deref().filter(|h| !h.is_empty()).map(cstring).transpose()?;
        plan.domainname = spec.domainname.as_deref().filter(|h| !h.is_empty()).map(cstring).transpose()?;
        plan.mount_console = true;
        let hooks = spec.hooks.clone().unwrap_or_default();
        plan.create_container_hooks = hooks.create_container.iter().map(RawHook::new).collect::<Result<_>>()?;
        plan.start_container_hooks = hooks.start_container.iter().map(RawHook::new).collect::<Result<_>>()?;
        plan.run_runtime_hooks = !hooks.prestart.is_empty() || !hooks.create_runtime.is_empty();
        Ok(plan)
    }

    /// The plan of a process exec'd into a running container: it joins every namespace of the
    /// init (`init_pid`) except pid and time, which the parent joins for the clone.
    pub fn build_exec(process: &Process, container: &Spec, init_pid: i32, preserve_fds: i32, seccomp_cache: Option<&Path>) -> Result<InitPlan> {
        let mut plan = InitPlan::for_process(process, preserve_fds, Path::new(&format!("/proc/{init_pid}/root")))?;
        for ns in &container.linux().namespaces {
            if ns.typ == "pid" || ns.typ == "time" {
                continue;
            }
            let file = ns_proc_name(&ns.typ);
            let path = format!("/proc/{init_pid}/ns/{file}");
            plan.join.push((open_ns_fd(&path, "container namespace")?, ns_flag(&ns.typ)));
            plan.join_paths.push((ns_flag(&ns.typ), format!("{} {path}", ns.typ)));
        }
        plan.join.sort_by_key(|(_, f)| join_order(*f));
        plan.add_container_security(container, seccomp_cache)?;
        Ok(plan)
    }

    /// The container-wide pieces the init and every exec share: seccomp and personality.
    fn add_container_security(&mut self, spec: &Spec, seccomp_cache: Option<&Path>) -> Result<()> {
        let linux = spec.linux();
        self.seccomp = match (&linux.seccomp, seccomp_cache) {
            (Some(s), Some(dir)) => Some(seccomp::compile_cached(s, dir)?),
            (Some(s), None) => Some(seccomp::compile(s)?),
            (None, _) => None,
        };
        self.personality = linux.personality.as_ref().map(personality::value).transpose()?;
        Ok(())
    }
}

/// The /proc/PID/ns entry of a namespace type.
pub fn ns_proc_name(typ: &str) -> &'static str {
    match typ {
        "pid" => "pid",
        "network" => "net",
        "mount" => "mnt",
        "ipc" => "ipc",
        "uts" => "uts",
        "user" => "user",
        "cgroup" => "cgroup",
        "time" => "time",
        _ => "",
    }
}

impl Drop for InitPlan {
    fn drop(&mut self) {
        for fd in self.join_user.iter().chain(self.join.iter().map(|(fd, _)| fd)) {
            // SAFETY: the plan owns the namespace fds it opened.
            unsafe { libc::close(*fd) };
        }
    }
}
