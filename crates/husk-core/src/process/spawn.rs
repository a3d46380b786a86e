//! The parent's half of a container's birth: clone the init with its namespaces, write its id
//! maps, place it in its cgroup, run the runtime-namespace hooks, and wait until it is ready.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;

use super::fail::Step;
use super::init::{self, ChildFds, MSG_FAIL, MSG_HOOKS, MSG_INIT_PID, MSG_READY, MSG_SECCOMP};
use crate::security::seccomp::{recv_fd, send_listener_state};
use super::InitPlan;
use crate::error::{Error, Result};
use crate::spec::{IdMapping, TimeOffset};
use crate::util::{cstring, errno_text};

pub struct SpawnOptions<'a> {
    pub plan: &'a InitPlan,
    /// The exec fifo (O_RDWR) the init blocks on until `start`, or -1 to exec as soon as ready.
    pub fifo_fd: RawFd,
    /// A connected --console-socket, or -1.
    pub console_fd: RawFd,
    pub pid_ns_path: Option<&'a str>,
    /// Some(offsets) for a new time namespace.
    pub time_offsets: Option<&'a BTreeMap<String, TimeOffset>>,
    pub time_ns_path: Option<&'a str>,
    pub uid_mappings: &'a [IdMapping],
    pub gid_mappings: &'a [IdMapping],
    /// The container's cgroup2 directory, to start the init in (clone3 CLONE_INTO_CGROUP).
    pub into_cgroup: Option<RawFd>,
}

pub struct Spawned {
    pub pid: i32,
}

fn sys_err(step: &str) -> Error {
    Error::sys(step.to_string())
}

fn open_ns(path: &str) -> Result<OwnedFd> {
    let c = cstring(path)?;
    // SAFETY: open of a NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io("open namespace", path, std::io::Error::last_os_error()));
    }
    // SAFETY: just opened, owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Switches this process's namespace-for-children (pid, time) for the clone, and back on drop.
struct ChildNsSwitch {
    restore: Vec<(OwnedFd, libc::c_int)>,
}

impl ChildNsSwitch {
    fn new(o: &SpawnOptions) -> Result<ChildNsSwitch> {
        let mut s = ChildNsSwitch { restore: Vec::new() };
        if let Some(p) = o.pid_ns_path {
            let target = open_ns(p)?;
            s.restore.push((open_ns("/proc/self/ns/pid")?, libc::CLONE_NEWPID));
            // SAFETY: setns on a namespace fd; pid namespaces only affect children.
            if unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
                return Err(Error::io("join pid namespace", p, std::io::Error::last_os_error()));
            }
        }
        if let Some(p) = o.time_ns_path {
            let target = open_ns(p)?;
            s.restore.push((open_ns("/proc/self/ns/time")?, 0x80));
            // SAFETY: setns on a namespace fd.
            if unsafe { libc::setns(target.as_raw_fd(), 0x80) } != 0 {
                return Err(Error::io("join time namespace", p, std::io::Error::last_os_error()));
            }
        } else if let Some(offsets) = o.time_offsets {
            s.restore.push((open_ns("/proc/self/ns/time")?, 0x80));
            // SAFETY: unshare of the time namespace for children only.
            if unsafe { libc::unshare(0x80) } != 0 {
                return Err(sys_err("unshare time namespace"));
            }
            let mut text = String::new();
            for (clock, off) in offsets {
                text.push_str(&format!("{clock} {} {}\n", off.secs, off.nanosecs));
            }
            if !text.is_empty() {
                std::fs::write("/proc/self/timens_offsets", text)
                    .map_err(|e| Error::io("write time offsets", "/proc/self/timens_offsets", e))?;
            }
        }
        Ok(s)
    }
}

impl Drop for ChildNsSwitch {
    fn drop(&mut self) {
        for (fd, flag) in self.restore.drain(..).rev() {
            // SAFETY: setns back to the namespace this process started in.
            unsafe { libc::setns(fd.as_raw_fd(), flag) };
        }
    }
}

/// Writes a child's uid_map or gid_map. Root writes any mapping; an unprivileged caller may map
/// only its own id (after denying setgroups, for gid_map), and goes through the setuid
/// newuidmap/newgidmap helpers (package uidmap, /etc/subuid) for anything more.
fn write_id_map(pid: i32, file: &str, maps: &[IdMapping]) -> Result<()> {
    let text: String = maps.iter().map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size)).collect();
    let path = format!("/proc/{pid}/{file}");
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid == 0 {
        return std::fs::write(&path, text).map_err(|e| Error::io("write id mapping", path, e));
    }
    let own = if file == "uid_map" { euid } else { egid };
    if let [m] = maps {
        if m.host_id == own && m.size == 1 {
            if file == "gid_map" {
                let sg = format!("/proc/{pid}/setgroups");
                std::fs::write(&sg, "deny").map_err(|e| Error::io("deny setgroups", sg, e))?;
            }
            return std::fs::write(&path, text).map_err(|e| Error::io("write id mapping", path, e));
        }
    }
    let helper = if file == "uid_map" { "newuidmap" } else { "newgidmap" };
    let mut cmd = std::process::Command::new(helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id.to_string(), m.host_id.to_string(), m.size.to_string()]);
    }
    let out = cmd.output().map_err(|e| Error::io("run id mapping helper", helper, e))?;
    if !out.status.success() {
        return Err(Error::Other(format!("{helper} {pid}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(())
}

/// One 16-byte record from the child, with the fd it carries (the seccomp listener), if any.
fn recv_msg(fd: RawFd) -> Option<([u32; 4], Option<OwnedFd>)> {
    let mut b = [0u8; 16];
    loop {
        match recv_fd(fd, &mut b) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok((16, passed)) => {
                let w = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
                return Some(([w(0), w(4), w(8), w(12)], passed));
            }
            _ => return None,
        }
    }
}

fn send_bytes(fd: RawFd, data: &[u8]) -> Result<()> {
    // SAFETY: send of a byte slice.
    let n = unsafe { libc::send(fd, data.as_ptr() as *const libc::c_void, data.len(), libc::MSG_NOSIGNAL) };
    if n as usize != data.len() {
        return Err(sys_err("send to init"));
    }
    Ok(())
}

/// Blocks every signal in the calling thread across a clone, so no handler of the parent (Node's,
/// the runtime's) can run in the child before it resets them; restored on drop.
struct BlockedSignals {
    old: libc::sigset_t,
}

impl BlockedSignals {
    fn new() -> BlockedSignals {
        // SAFETY: pthread_sigmask on the calling thread with sets on the stack.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            BlockedSignals { old }
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by new().
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// The kernel's struct clone_args (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Errors of a clone3 that this kernel cannot do (no clone3, or no CLONE_INTO_CGROUP before
/// Linux 5.7): the caller falls back to clone(2) and moves the child by pid.
fn clone3_unsupported(errno: i32) -> bool {
    matches!(errno, libc::ENOSYS | libc::E2BIG | libc::EINVAL)
}

/// clone3(2) for a CLONE_VM child on its own stack, which glibc does not wrap: the child calls
/// `f(arg)` on that stack and exits with its result (it never returns here); the parent gets the
/// pid, or -errno.
///
/// # Safety
/// `ca` describes a stack the child may use, and `f` must not return into anything but this.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_vm(ca: &CloneArgs, f: extern "C" fn(*mut libc::c_void) -> libc::c_int, arg: *mut libc::c_void) -> i32 {
    let ret: i64;
    // SAFETY: the syscall returns twice: in the parent with the pid (rax != 0), which leaves the
    // block at 2:, and in the child (rax == 0) with rsp at the new stack's aligned top, where
    // it calls f(arg) and then exit(2) — it never reaches the end of the block.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, 60",
            "syscall",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") ca as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") f,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret as i32
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn clone3_vm(_: &CloneArgs, _: extern "C" fn(*mut libc::c_void) -> libc::c_int, _: *mut libc::c_void) -> i32 {
    -libc::ENOSYS
}

struct VforkArgs<'a> {
    plan: &'a InitPlan,
    fds: ChildFds,
}

extern "C" fn vfork_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: arg points at VforkArgs on the suspended parent's stack, alive until we exec or exit.
    let a = unsafe { &*(arg as *const VforkArgs) };
    init::init_main(a.plan, &a.fds, &mut [])
}

fn futex(word: *const u32, op: libc::c_int, val: u32) {
    // SAFETY: a futex call on a live, aligned 32-bit word; no timeout.
    unsafe { libc::syscall(libc::SYS_futex, word, op | libc::FUTEX_PRIVATE_FLAG, val, ptr::null::<libc::timespec>()) };
}

/// What a vfork child needs of the cgroup a helper thread makes meanwhile, step by step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum CgroupNeed {
    /// Its directories exist (to bind them under the container's /sys/fs/cgroup).
    Dirs = 1,
    /// Its limits and device rules are written and it holds the child in cgroup2 (born there
    /// by clone3, or moved); the child then moves itself into the v1 hierarchies
    /// (`InitPlan::cgroup_tasks`). Before mknod, a cgroup namespace, exec.
    Joined = 2,
}

const GATE_CLOSED: u32 = 0;
const GATE_FAILED: u32 = u32::MAX;

/// What a vfork child and the helper thread that makes its cgroup share (the child shares our
/// memory, so a private futex reaches it): the child's host pid, which clone(2) stores before
/// the child runs (CLONE_PARENT_SETTID), and the gate the child waits at where it needs the
/// cgroup ([`CgroupNeed`]).
pub struct Handoff {
    pid: AtomicI32,
    gate: AtomicU32,
    /// Whether clone3 put the child in its cgroup2 directory (else the helper moves it there).
    placed: AtomicBool,
}

impl Handoff {
    fn new() -> Handoff {
        Handoff { pid: AtomicI32::new(0), gate: AtomicU32::new(GATE_CLOSED), placed: AtomicBool::new(true) }
    }

    /// The helper's side: the child's host pid, once clone has made it (None: no child).
    pub fn pid(&self) -> Option<i32> {
        loop {
            match self.pid.load(Ordering::Acquire) {
                0 => futex(self.pid.as_ptr() as *const u32, libc::FUTEX_WAIT, 0),
                p if p > 0 => return Some(p),
                _ => return None,
            }
        }
    }

    /// The helper's side, once `pid()` has returned: whether the child was born in its cgroup2
    /// directory (clone3) or must still be moved there.
    pub fn born_in_cgroup2(&self) -> bool {
        self.placed.load(Ordering::Acquire)
    }

    /// The helper's side: what the child may now rely on.
    pub fn reached(&self, need: CgroupNeed) {
        self.raise(need as u32);
    }

    /// Moves the gate forward only (a failure only before it is fully open) and wakes the child.
    fn raise(&self, to: u32) {
        let mut cur = self.gate.load(Ordering::Relaxed);
        while cur < to && cur < CgroupNeed::Joined as u32 {
            match self.gate.compare_exchange(cur, to, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => {
                    futex(self.gate.as_ptr(), libc::FUTEX_WAKE, u32::MAX);
                    return;
                }
                Err(now) => cur = now,
            }
        }
    }

    /// The caller's side when there will be no child (clone failed, or create failed before
    /// it): the helper's `pid()` returns None.
    fn no_child(&self) {
        if self.pid.compare_exchange(0, -1, Ordering::Release, Ordering::Relaxed).is_ok() {
            futex(self.pid.as_ptr() as *const u32, libc::FUTEX_WAKE, u32::MAX);
        }
    }

    /// The child's side, on entry: wakes a helper already waiting for the pid.
    pub(crate) fn child_started(&self) {
        futex(self.pid.as_ptr() as *const u32, libc::FUTEX_WAKE, u32::MAX);
    }

    /// The child's side: waits until the helper has got as far as `need`; fails if it failed.
    pub(crate) fn pass(&self, need: CgroupNeed) -> super::fail::ChildResult {
        loop {
            match self.gate.load(Ordering::Acquire) {
                GATE_FAILED => return Err(super::fail::Fail::new(Step::JoinCgroup, 0, libc::ECANCELED)),
                g if g >= need as u32 => return Ok(()),
                g => futex(self.gate.as_ptr(), libc::FUTEX_WAIT, g),
            }
        }
    }
}

/// A thread that makes a container's cgroup while its vfork child sets itself up: started
/// before the plan is built (so it is ahead), given the child by `spawn_vfork`, which joins it.
/// The work makes the dirs (`reached(Dirs)`), writes the limits, waits for the pid
/// ([`Handoff::pid`]) and puts it in (`reached(Joined)`). A helper dropped unused learns there
/// is no child and is joined.
pub struct CgroupHelper {
    handoff: Arc<Handoff>,
    thread: Option<crate::workers::Task<Result<()>>>,
}

impl CgroupHelper {
    pub fn start(work: impl FnOnce(&Handoff) -> Result<()> + Send + 'static) -> Result<CgroupHelper> {
        let handoff = Arc::new(Handoff::new());
        let shared = Arc::clone(&handoff);
        let thread = crate::workers::spawn(move || {
            // However the work ends (an error, a panic), a gate it did not fully open fails, so
            // the child stops waiting.
            let _fail_gate = FailGateOnExit(&shared);
            work(&shared)
        })?;
        Ok(CgroupHelper { handoff, thread: Some(thread) })
    }

    fn finish(mut self) -> Result<()> {
        let thread = self.thread.take().expect("joined once");
        thread.join().unwrap_or_else(|p| Err(Error::Other(format!("the cgroup helper panicked: {}", crate::workers::panic_message(p.as_ref())))))
    }
}

struct FailGateOnExit<'a>(&'a Handoff);

impl Drop for FailGateOnExit<'_> {
    fn drop(&mut self) {
        self.0.raise(GATE_FAILED);
    }
}

impl Drop for CgroupHelper {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handoff.no_child();
            let _ = thread.join();
        }
    }
}

/// Starts a container's process with CLONE_VM|CLONE_VFORK: nothing of the parent is copied and
/// the calling thread is suspended only until the child execs (or fails). With a `helper`, the
/// cgroup is made on that thread meanwhile and the child waits for it only where it needs it
/// (before exec at the latest). This path takes plans without user namespaces, runtime hooks,
/// or pid/time namespace switches.
/// Safe in a multithreaded process: the child runs on its own stack, blocks all signals until
/// it has reset their handlers, and makes raw syscalls only.
pub fn spawn_vfork(plan: &InitPlan, console_fd: RawFd, helper: Option<CgroupHelper>, into_cgroup: Option<RawFd>) -> Result<Spawned> {
    if plan.clone_flags & libc::CLONE_NEWUSER != 0 || plan.run_runtime_hooks || !plan.create_container_hooks.is_empty() || !plan.start_container_hooks.is_empty() {
        return Err(Error::InvalidArgument("in-process start needs a container without user namespace or hooks".into()));
    }
    let handoff = helper.as_ref().map(|h| &*h.handoff);
    let mut fail: Option<super::fail::Fail> = None;
    let args = VforkArgs {
        plan,
        fds: ChildFds {
            sync: -1,
            fifo: -1,
            console: console_fd,
            fail_slot: &mut fail,
            handoff: handoff.map_or(ptr::null(), |h| h),
        },
    };
    let mut stack = vec![0u8; 256 * 1024];
    // SAFETY: the stack grows down from its (16-byte aligned) top; the Vec outlives the child's
    // use of it because CLONE_VFORK suspends us until the child execs or exits.
    let top = unsafe { stack.as_mut_ptr().add(stack.len()) } as usize & !15;
    let mask = BlockedSignals::new();
    // For the helper, the kernel stores the pid in `handoff.pid` before the child runs.
    let (settid, ptid) = handoff.map_or((0, ptr::null_mut()), |h| (libc::CLONE_PARENT_SETTID, h.pid.as_ptr()));
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | settid | plan.clone_flags;
    let arg = &args as *const VforkArgs as *mut libc::c_void;
    // Born in its cgroup2 directory where the kernel can (clone3, Linux 5.7): no migration, so
    // no wait for the kernel's global cgroup_threadgroup_rwsem. Else glibc's clone, and the
    // helper moves it.
    let mut pid = match into_cgroup {
        Some(cgroup_fd) => {
            let base = stack.as_ptr() as u64;
            let ca = CloneArgs {
                flags: flags as u64 | CLONE_INTO_CGROUP,
                parent_tid: ptid as u64,
                exit_signal: libc::SIGCHLD as u64,
                // The kernel starts the child at stack + stack_size: the aligned top.
                stack: base,
                stack_size: top as u64 - base,
                cgroup: cgroup_fd as u64,
                ..CloneArgs::default()
            };
            // SAFETY: the child runs vfork_child(arg) on its own stack and never returns; the
            // parent resumes after it execs or exits (CLONE_VFORK).
            unsafe { clone3_vm(&ca, vfork_child, arg) }
        }
        None => -libc::ENOSYS,
    };
    if pid < 0 && clone3_unsupported(-pid) {
        if let Some(h) = handoff {
            h.placed.store(false, Ordering::Release);
        }
        // SAFETY: clone(2) via glibc's wrapper, which switches to the new stack before calling
        // vfork_child.
        pid = unsafe { libc::clone(vfork_child, top as *mut libc::c_void, flags | libc::SIGCHLD, arg, ptid) };
        if pid < 0 {
            pid = -crate::util::errno();
        }
    }
    drop(mask);
    if pid < 0 {
        let e = Error::Sys { step: "clone container process".into(), source: std::io::Error::from_raw_os_error(-pid) };
        drop(helper);
        return Err(e);
    }
    drop(stack);
    let helped = helper.map_or(Ok(()), CgroupHelper::finish);
    // A child that failed on its own says why; one stopped at the gate only echoes the helper.
    let own_failure = fail.filter(|f| !(f.step == Step::JoinCgroup && f.errno == libc::ECANCELED));
    let failed = match (own_failure, helped) {
        (Some(f), _) => Error::Child(describe_failure(plan, f.step as u32, f.index, f.errno)),
        (None, Err(e)) => e,
        (None, Ok(())) if fail.is_none() => return Ok(Spawned { pid }),
        (None, Ok(_)) => Error::Child("the container's cgroup was not made".into()),
    };
    // The child exited after recording its failure (at the failed gate, maybe): reap it.
    abort_child(pid);
    Err(failed)
}

/// Kills and reaps a half-born init.
fn abort_child(pid: i32) {
    // SAFETY: signal and reap our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

/// Clones the init and drives it until it is ready (set up, waiting on the fifo or exec'ing).
/// `after_clone(pid, born_in_cgroup2)` places the pid in its cgroup; `state_json(pid)` is the state the hooks see;
/// `runtime_hooks` runs prestart + createRuntime when the child asks.
pub fn spawn_init(
    o: &SpawnOptions,
    after_clone: &mut dyn FnMut(i32, bool) -> Result<()>,
    state_json: &dyn Fn(i32) -> Vec<u8>,
    runtime_hooks: &mut dyn FnMut(i32) -> Result<()>,
) -> Result<Spawned> {
    let plan = o.plan;
    let mut sp = [0; 2];
    // SAFETY: socketpair into a stack array.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, sp.as_mut_ptr()) } != 0 {
        return Err(sys_err("socketpair"));
    }
    // SAFETY: both fds were just created and are owned here.
    let (parent_sock, child_sock) = unsafe { (OwnedFd::from_raw_fd(sp[0]), OwnedFd::from_raw_fd(sp[1])) };
    // The buffer the child receives the state JSON into: allocated now, never in the child.
    let mut state_buf = vec![0u8; 256 * 1024];
    let fds = ChildFds { sync: child_sock.as_raw_fd(), fifo: o.fifo_fd, console: o.console_fd, fail_slot: ptr::null_mut(), handoff: ptr::null() };

    let switch = ChildNsSwitch::new(o)?;
    let mask = BlockedSignals::new();
    // SAFETY: fork-like clone (no CLONE_VM): the child runs on a copy of this stack and only
    // calls init_main, which never returns.
    let flags = if plan.join_user.is_some() { 0 } else { plan.clone_flags };
    // Born in its cgroup2 directory where the kernel can (see spawn_vfork), else moved there.
    let mut born_in_cgroup2 = false;
    let mut pid = -1;
    if let Some(fd) = o.into_cgroup.filter(|_| plan.join_user.is_none()) {
        let ca = CloneArgs { flags: flags as u64 | CLONE_INTO_CGROUP, exit_signal: libc::SIGCHLD as u64, cgroup: fd as u64, ..CloneArgs::default() };
        // SAFETY: fork-like clone3 (no CLONE_VM, no stack): like the clone below.
        pid = unsafe { libc::syscall(libc::SYS_clone3, &ca as *const CloneArgs, std::mem::size_of::<CloneArgs>()) } as i32;
        born_in_cgroup2 = pid >= 0;
        if pid < 0 && !clone3_unsupported(crate::util::errno()) {
            drop(mask);
            return Err(sys_err("clone init"));
        }
    }
    if pid < 0 {
        // SAFETY: as above.
        pid = unsafe { libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0, 0, 0, 0) } as i32;
    }
    if pid == 0 {
        match plan.join_user {
            Some(user_fd) => init::stage1_main(plan, &fds, &mut state_buf, user_fd),
            None => init::init_main(plan, &fds, &mut state_buf),
        }
    }
    drop(mask);
    drop(switch);
    if pid < 0 {
        return Err(sys_err("clone init"));
    }
    drop(child_sock);
    let sock = parent_sock.as_raw_fd();
    if plan.join_user.is_some() {
        // The first stage reports the init's pid (a child of ours, by CLONE_PARENT) and exits.
        let stage1 = pid;
        let reply = recv_msg(sock);
        // SAFETY: reap the first stage, our own child.
        unsafe { libc::waitpid(stage1, std::ptr::null_mut(), 0) };
        match reply {
            Some(([MSG_INIT_PID, _, init_pid, _], _)) => pid = init_pid as i32,
            Some(([MSG_FAIL, step, index, err], _)) => return Err(Error::Child(describe_failure(plan, step, index, err as i32))),
            _ => return Err(Error::Child("joining the user namespace failed".into())),
        }
    }
    let result = (|| -> Result<()> {
        if plan.clone_flags & libc::CLONE_NEWUSER != 0 {
            write_id_map(pid, "uid_map", o.uid_mappings)?;
            write_id_map(pid, "gid_map", o.gid_mappings)?;
        }
        after_clone(pid, born_in_cgroup2)?;
        if let Some(v) = &plan.oom_score_adj {
            let path = format!("/proc/{pid}/oom_score_adj");
            std::fs::write(&path, v.as_bytes()).map_err(|e| Error::io("set oomScoreAdj", path, e))?;
        }
        let mut st = state_json(pid);
        if st.is_empty() {
            st.push(b'{');
            st.push(b'}');
        }
        send_bytes(sock, &st)?;
        loop {
            match recv_msg(sock) {
                Some(([MSG_SECCOMP, ..], Some(listener))) => {
                    let sc = plan.seccomp.as_ref().ok_or_else(|| Error::Other("unexpected seccomp listener from init".into()))?;
                    if let Some(path) = &sc.listener_path {
                        let first = st.split(|&b| b == 0).next().unwrap_or(b"{}");
                        let state: serde_json::Value = serde_json::from_slice(first).unwrap_or_default();
                        send_listener_state(path, listener.as_raw_fd(), &state, &sc.listener_metadata)?;
                    }
                    drop(listener);
                    send_bytes(sock, &[0u8; 4])?;
                }
                Some(([MSG_HOOKS, ..], _)) => {
                    runtime_hooks(pid)?;
                    send_bytes(sock, &[0u8; 4])?;
                }
                Some(([MSG_READY, ..], _)) => {
                    if o.fifo_fd < 0 {
                        // No start gate: wait until the child execs (its end closes on exec).
                        recv_msg(sock);
                    }
                    return Ok(());
                }
                Some(([MSG_FAIL, step, index, err], _)) => return Err(Error::Child(describe_failure(plan, step, index, err as i32))),
                _ => {
                    let mut status = 0;
                    // SAFETY: reap our own child that closed the channel.
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                    return Err(Error::Child(format!("container init exited during setup (wait status {status})")));
                }
            }
        }
    })();
    if let Err(e) = result {
        abort_child(pid);
        return Err(e);
    }
    Ok(Spawned { pid })
}

/// Words a child's failure with the step, the spec item and the errno.
fn describe_failure(plan: &InitPlan, step: u32, index: u32, err: i32) -> String {
    let i = index as usize;
    let e = errno_text(err);
    let rp = plan.rootfs.as_ref();
    let mount = |i: usize| rp.and_then(|r| r.mounts.get(i)).map(|m| m.describe.clone()).unwrap_or_default();
    let joined = |flag: libc::c_int| plan.join_paths.iter().find(|(f, _)| *f == flag).map_or_else(|| "?".to_string(), |(_, d)| d.clone());
    match Step::from_u32(step) {
        Some(Step::Mount) => format!("error mounting {}: {e}", mount(i)),
        Some(Step::MountDestination) => format!("error creating mount destination for {}: {e}", mount(i)),
        Some(Step::RemountBind) => format!("error remounting {}: {e}", mount(i)),
        Some(Step::MountPropagation) => format!("error setting propagation of {}: {e}", mount(i)),
        Some(Step::Device) => format!("error creating device {}: {e}", rp.and_then(|r| r.devices.get(i)).map(|d| d.describe.as_str()).unwrap_or("")),
        Some(Step::MaskPath) => format!("error masking path {:?}: {e}", rp.and_then(|r| r.masked.get(i)).map(|p| format!("/{}", p.to_string_lossy())).unwrap_or_default()),
        Some(Step::ReadonlyPath) => format!("error making path read-only {:?}: {e}", rp.and_then(|r| r.readonly.get(i)).map(|p| format!("/{}", p.to_string_lossy())).unwrap_or_default()),
        Some(Step::Sysctl) if err == libc::EXDEV => format!("error setting sysctl {:?}: the file is not on procfs", plan.sysctl_names.get(i).cloned().unwrap_or_default()),
        Some(Step::Cwd) => format!("error creating cwd ({:?}) set in config.json inside the rootfs: {e}", plan.cwd.to_string_lossy()),
        Some(Step::Sysctl) => format!("error setting sysctl {:?}: {e}", plan.sysctl_names.get(i).cloned().unwrap_or_default()),
        Some(Step::Chdir) if i == 1 => format!("cwd ({:?}) set in config.json is outside the container's root filesystem", plan.cwd.to_string_lossy()),
        Some(Step::Chdir) => format!("chdir to cwd ({:?}) set in config.json failed: {e}", plan.cwd.to_string_lossy()),
        Some(Step::FindExecutable) => format!("exec: {:?}: executable file not found in $PATH or not executable: {e}", plan.argv0_display),
        Some(Step::CreateContainerHook) => format!("error running createContainer hook #{i}: {}", crate::hooks::describe_raw_failure(err)),
        Some(Step::Setns) if i == 99 => format!("error joining namespace {}: {e}", joined(libc::CLONE_NEWUSER)),
        Some(Step::Setns) if i >= 97 => format!("error creating namespaces inside the joined user namespace: {e}"),
        Some(Step::Setns) => format!("error joining namespace {}: {e}", plan.join.get(i).map_or_else(|| format!("#{i}"), |(_, f)| joined(*f))),
        Some(Step::Rlimit) => format!("error setting rlimit #{i}: {e}"),
        Some(Step::Console) if i == 5 && err == libc::EPERM => "refusing /dev/console in the rootfs: it is not a regular file or a character device (a symlink?)".to_string(),
        Some(Step::Seccomp) => format!("error loading seccomp filter (step {i}): {e}"),
        Some(s) => format!("container init failed at {s:?} (#{i}): {e}"),
        None => format!("container init failed (step {step}, #{i}): {e}"),
    }
}
