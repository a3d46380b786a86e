//! The init child, from clone(2) to execve(2). It may run in a copy of a multithreaded process,
//! so it makes raw syscalls only: every string and array it uses was built by `InitPlan::build`.

use libc::c_int;
use std::ptr;

use super::caps;
use super::fail::{ChildResult, Fail, Step};
use super::spawn::{CgroupNeed, Handoff};
use super::InitPlan;
use crate::rootfs;
use crate::security::seccomp::{send_fd_raw, SeccompPlan};
use crate::security::{ioprio, personality, scheduler};
use crate::util::{errno, write_all_raw, CPathBuf};

pub const MSG_HOOKS: u32 = 1;
pub const MSG_READY: u32 = 2;
pub const MSG_FAIL: u32 = 3;
/// Carries the seccomp listener fd (SCM_RIGHTS); the parent acks after handing it on.
pub const MSG_SECCOMP: u32 = 4;

/// What the child sends its parent: tag, step, index, errno.
pub fn send_msg(sync: c_int, tag: u32, step: u32, index: u32, err: i32) {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&tag.to_ne_bytes());
    b[4..8].copy_from_slice(&step.to_ne_bytes());
    b[8..12].copy_from_slice(&index.to_ne_bytes());
    b[12..16].copy_from_slice(&err.to_ne_bytes());
    // SAFETY: send of a stack buffer on the sync socket.
    unsafe { libc::send(sync, b.as_ptr() as *const libc::c_void, b.len(), libc::MSG_NOSIGNAL) };
}

fn recv_into(fd: c_int, buf: &mut [u8]) -> isize {
    loop {
        // SAFETY: recv into a buffer allocated before the clone.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n >= 0 || errno() != libc::EINTR {
            return n;
        }
    }
}

// glibc's set*id wrappers signal every thread of the process so all share the ids; in a
// CLONE_VM child those are Node's threads, and a lock taken then could stay held. The raw
// syscalls change this task only, which is all a fresh child is.
fn raw_setresgid(gid: u32) -> c_int {
    // SAFETY: a raw syscall with integer arguments.
    unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) as c_int }
}

fn raw_setresuid(uid: u32) -> c_int {
    // SAFETY: a raw syscall with integer arguments.
    unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) as c_int }
}

fn trampoline_fd(plan: &InitPlan) -> c_int {
    use std::os::fd::AsRawFd;
    plan.trampoline.as_ref().map(|t| t.as_raw_fd()).unwrap_or(-1)
}

pub struct ChildFds {
    /// The sync socket, or -1 in vfork mode (no parent to talk to until exec).
    pub sync: c_int,
    pub fifo: c_int,
    pub console: c_int,
    /// vfork mode: where a failure is recorded for the (suspended, memory-sharing) parent.
    pub fail_slot: *mut Option<Fail>,
    /// vfork mode with a cgroup helper thread (spawn.rs), or null.
    pub handoff: *const Handoff,
}

pub const MSG_INIT_PID: u32 = 5;

/// The first stage when a user namespace is joined by path: join it, create the other
/// namespaces inside it, clone the init as our parent's child (CLONE_PARENT), tell the parent
/// its pid, and leave. The init then runs `init_main` as usual.
pub fn stage1_main(plan: &InitPlan, fds: &ChildFds, state_buf: &mut [u8], user_fd: c_int) -> ! {
    // SAFETY: raw syscalls only; the init clone is fork-like (no CLONE_VM).
    unsafe {
        set_all_signals(libc::SIG_DFL, true);
        if libc::setns(user_fd, libc::CLONE_NEWUSER) != 0 {
            send_msg(fds.sync, MSG_FAIL, Step::Setns as u32, 99, errno());
            libc::_exit(1);
        }
        // Namespaces that act on children (pid) are unshared here too; the init is that child.
        if libc::unshare(plan.clone_flags & !libc::CLONE_NEWUSER) != 0 {
            send_msg(fds.sync, MSG_FAIL, Step::Setns as u32, 98, errno());
            libc::_exit(1);
        }
        let pid = libc::syscall(libc::SYS_clone, (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong, 0, 0, 0, 0) as i32;
        if pid == 0 {
            init_main(plan, fds, state_buf);
        }
        if pid < 0 {
            send_msg(fds.sync, MSG_FAIL, Step::Setns as u32, 97, errno());
            libc::_exit(1);
        }
        send_msg(fds.sync, MSG_INIT_PID, 0, pid as u32, 0);
        libc::_exit(0)
    }
}

pub fn init_main(plan: &InitPlan, fds: &ChildFds, state_buf: &mut [u8]) -> ! {
    let r = run(plan, fds, state_buf);
    if let Err(f) = r {
        if fds.sync >= 0 {
            send_msg(fds.sync, MSG_FAIL, f.step as u32, f.index, f.errno);
        } else if !fds.fail_slot.is_null() {
            // SAFETY: the slot lives in the suspended parent's memory, which this child shares.
            unsafe { *fds.fail_slot = Some(f) };
        }
    }
    // SAFETY: leave without running any destructor or atexit handler of the parent's copy.
    unsafe { libc::_exit(1) }
}

fn check(r: c_int, step: Step, index: usize) -> ChildResult {
    if r < 0 { Err(Fail::last(step, index)) } else { Ok(()) }
}

/// "0" into each v1 `tasks` file the plan names: this task moves itself (container::joins_by_itself).
fn join_v1_cgroups(plan: &InitPlan) -> ChildResult {
    for (i, p) in plan.cgroup_tasks.iter().enumerate() {
        write_file(p, b"0", Step::JoinCgroup, i, false)?;
    }
    Ok(())
}

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Writes a small file. With `procfs`, refuses (EXDEV) a file that is not really on procfs, so a
/// /proc the image arranged cannot redirect the write (CVE-2025-52881).
fn write_file(path: &std::ffi::CStr, value: &[u8], step: Step, index: usize, procfs: bool) -> ChildResult {
    // SAFETY: open/fstatfs/write/close of a path prepared before the clone.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(Fail::last(step, index));
        }
        if procfs {
            let mut st: libc::statfs = std::mem::zeroed();
            if libc::fstatfs(fd, &mut st) != 0 || st.f_type as i64 != PROC_SUPER_MAGIC {
                libc::close(fd);
                return Err(Fail::new(step, index, libc::EXDEV));
            }
        }
        let ok = write_all_raw(fd, value);
        let e = errno();
        libc::close(fd);
        if ok { Ok(()) } else { Err(Fail::new(step, index, e)) }
    }
}

fn run(plan: &InitPlan, fds: &ChildFds, state_buf: &mut [u8]) -> ChildResult {
    // SAFETY: every call below is a thin syscall wrapper over memory prepared before the clone.
    unsafe {
        // The parent's handlers (Node's, the runtime's) must never run here; SIGPIPE stays
        // ignored so a hook that does not read its stdin cannot kill the init.
        set_all_signals(libc::SIG_DFL, true);

        for (i, fd) in plan.stdio.iter().enumerate() {
            if *fd < 0 {
                continue;
            }
            let r = if *fd == i as c_int { libc::fcntl(*fd, libc::F_SETFD, 0) } else { libc::dup3(*fd, i as c_int, 0) };
            check(r, Step::Stdio, i)?;
        }

        // With a parent, the init moves itself into its v1 cgroups first thing (create.rs).
        if fds.sync >= 0 {
            join_v1_cgroups(plan)?;
        }
        let state_len = if fds.sync >= 0 {
            let n = recv_into(fds.sync, state_buf);
            if n <= 0 {
                return Err(Fail::new(Step::SyncRecv, 0, if n == 0 { libc::EPIPE } else { errno() }));
            }
            n as usize
        } else {
            0
        };
        // SAFETY: the handoff is the suspended parent's (spawn_vfork holds it) until we exec or exit.
        let handoff = fds.handoff.as_ref();
        if let Some(h) = handoff {
            // Killed with the parent's thread if the process dies before the helper is done, so
            // no child waits at the gate forever; undone at the gate.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            h.child_started();
        }
        // Once the helper has the cgroup ready, the child moves itself into the v1 hierarchies
        // ("0" into each `tasks` file), once.
        let joined_v1 = std::cell::Cell::new(false);
        let cgroup_ready = |need: CgroupNeed| -> ChildResult {
            let Some(h) = handoff else { return Ok(()) };
            h.pass(need)?;
            if need == CgroupNeed::Joined && !joined_v1.replace(true) {
                join_v1_cgroups(plan)?;
            }
            Ok(())
        };
        // The parent sends the state document the createContainer and startContainer hooks get.
        let hook_state = &state_buf[..state_len];
        if fds.sync >= 0 && plan.userns {
            // Become the namespace's root now that the maps exist, so files we create are owned
            // by a mapped id (else EOVERFLOW).
            check(raw_setresgid(0), Step::SetGid, 1)?;
            check(raw_setresuid(0), Step::SetUid, 1)?;
        }

        for (i, (fd, flag)) in plan.join.iter().enumerate() {
            check(libc::setns(*fd, *flag), Step::Setns, i)?;
        }
        if plan.unshare_cgroupns {
            // The namespace's root is the cgroup we are in when unsharing.
            cgroup_ready(CgroupNeed::Joined)?;
            check(libc::unshare(libc::CLONE_NEWCGROUP), Step::UnshareCgroup, 0)?;
        }
        if let Some(name) = &plan.session_keyring {
            // A fresh session keyring keeps the host's keys out of the container, as runc does;
            // kernels or namespaces without keyrings are not an error.
            const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
            libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr());
        }
        if let Some(h) = &plan.hostname {
            check(libc::sethostname(h.as_ptr(), h.as_bytes().len()), Step::Hostname, 0)?;
        }
        if let Some(d) = &plan.domainname {
            check(libc::setdomainname(d.as_ptr(), d.as_bytes().len()), Step::Domainname, 0)?;
        }
        libc::umask(0o022);
        if let Some(rp) = &plan.rootfs {
            let rootfd = rootfs::prepare_rootfs(rp, plan.userns, &cgroup_ready)?;
            libc::close(rootfd);
            if plan.run_runtime_hooks {
                send_msg(fds.sync, MSG_HOOKS, 0, 0, 0);
                let mut ok = [0u8; 4];
                if recv_into(fds.sync, &mut ok) != 4 {
                    return Err(Fail::new(Step::SyncRecv, 1, libc::EPIPE));
                }
            }
            for (i, h) in plan.create_container_hooks.iter().enumerate() {
                h.run_raw(hook_state, trampoline_fd(plan)).map_err(|e| Fail::new(Step::CreateContainerHook, i, e))?;
            }
            rootfs::finish_rootfs(rp)?;
        }
        if plan.terminal {
            setup_console(plan, fds.console)?;
        }
        // Before /proc/sys becomes read-only.
        for (i, (path, value)) in plan.sysctls.iter().enumerate() {
            write_file(path, value.as_bytes(), Step::Sysctl, i, true)?;
        }
        if let Some(rp) = &plan.rootfs {
            rootfs::protect_paths(rp)?;
            if rp.readonly_root {
                rootfs::readonly_root()?;
            }
        }
        // With a parent (sync mode) the parent writes it: from inside a user namespace we may not.
        if let Some(v) = plan.oom_score_adj.as_ref().filter(|_| fds.sync < 0) {
            write_file(c"/proc/self/oom_score_adj", v.as_bytes(), Step::OomScoreAdj, 0, true)?;
        }
        for (i, r) in plan.rlimits.iter().enumerate() {
            let lim = libc::rlimit { rlim_cur: r.soft, rlim_max: r.hard };
            check(libc::setrlimit(r.resource as _, &lim), Step::Rlimit, i)?;
        }
        if let Some(p) = plan.personality {
            personality::apply_raw(p).map_err(|e| Fail::new(Step::Personality, 0, e))?;
        }
        if let Some(v) = plan.io_priority {
            ioprio::apply_raw(v).map_err(|e| Fail::new(Step::IoPriority, 0, e))?;
        }
        if let Some(a) = &plan.scheduler {
            scheduler::apply_raw(a).map_err(|e| Fail::new(Step::Scheduler, 0, e))?;
        }
        if let Some(a) = &plan.apparmor {
            a.apply_raw().map_err(|e| Fail::new(Step::AppArmor, 0, e))?;
        }
        if let Some(a) = &plan.selinux {
            a.apply_raw().map_err(|e| Fail::new(Step::SelinuxLabel, 0, e))?;
        }
        // Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes on before the caps drop.
        if let Some(sc) = plan.seccomp.as_ref().filter(|_| !plan.no_new_privs) {
            load_seccomp(sc, fds)?;
        }
        if let Some(c) = &plan.caps {
            caps::apply_bounding(c, plan.last_cap).map_err(|e| Fail::new(Step::Capabilities, 0, e))?;
            check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0), Step::Capabilities, 1)?;
        }
        fix_stdio_owner(plan.uid);
        let r = libc::syscall(libc::SYS_setgroups, plan.additional_gids.len(), plan.additional_gids.as_ptr()) as c_int;
        // In a user namespace with setgroups denied, an empty list is all we wanted anyway.
        if r != 0 && !(plan.additional_gids.is_empty() && errno() == libc::EPERM) {
            return Err(Fail::last(Step::SetGroups, 0));
        }
        check(raw_setresgid(plan.gid), Step::SetGid, 0)?;
        check(raw_setresuid(plan.uid), Step::SetUid, 0)?;
        if let Some(c) = &plan.caps {
            check(libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0), Step::Capabilities, 2)?;
            caps::apply_sets(c, plan.last_cap).map_err(|e| Fail::new(Step::Capabilities, 3, e))?;
        }
        if plan.no_new_privs {
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), Step::NoNewPrivs, 0)?;
        }
        libc::umask(plan.umask.unwrap_or(0o022) as libc::mode_t);
        check(libc::chdir(plan.cwd.as_ptr()), Step::Chdir, 0)?;
        // A cwd reached through a leaked host fd (/proc/self/fd/N) lies outside our root, and the
        // kernel says so with "(unreachable)": refuse it (CVE-2024-21626).
        let mut cwd = [0u8; 4096];
        if libc::syscall(libc::SYS_getcwd, cwd.as_mut_ptr(), cwd.len()) < 0 || cwd[0] != b'/' {
            return Err(Fail::new(Step::Chdir, 1, libc::ENOENT));
        }

        let mut exe: Option<&std::ffi::CStr> = None;
        let mut exe_index = 0;
        let mut last_err = libc::ENOENT;
        for (ci, c) in plan.exec_candidates.iter().enumerate() {
            exe_index = ci;
            let mut st: libc::stat = std::mem::zeroed();
            if libc::stat(c.as_ptr(), &mut st) == 0 {
                if st.st_mode & libc::S_IFMT == libc::S_IFREG && libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::X_OK, libc::AT_EACCESS) == 0 {
                    exe = Some(c);
                    break;
                }
                last_err = libc::EACCES;
            } else if errno() != libc::ENOENT && errno() != libc::ENOTDIR {
                last_err = errno();
            }
        }
        let exe = exe.ok_or(Fail::new(Step::FindExecutable, 0, last_err))?;
        // With no_new_privs, as late as possible: only READY, the fifo and exec remain.
        if let Some(sc) = plan.seccomp.as_ref().filter(|_| plan.no_new_privs) {
            load_seccomp(sc, fds)?;
        }

        if fds.sync >= 0 {
            send_msg(fds.sync, MSG_READY, 0, 0, 0);
        }
        if fds.fifo >= 0 {
            let mut b = [0u8; 1];
            loop {
                let n = libc::read(fds.fifo, b.as_mut_ptr() as *mut libc::c_void, 1);
                if n >= 0 || errno() != libc::EINTR {
                    break;
                }
            }
        }
        for (i, h) in plan.start_container_hooks.iter().enumerate() {
            if let Err(e) = h.run_raw(hook_state, trampoline_fd(plan)) {
                let mut msg = CPathBuf::new();
                msg.push_bytes(b"husk-runtime: startContainer hook failed: index ").push_num(i as u64).push_bytes(b" code ").push_num(e as u64).push_bytes(b"\n");
                write_all_raw(2, msg.as_cstr().to_bytes());
                libc::_exit(1);
            }
        }
        if handoff.is_some() {
            cgroup_ready(CgroupNeed::Joined)?;
            libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0);
        }
        // Every other signal was reset on entry; only SIGPIPE (kept ignored for the hooks) and
        // the mask are left.
        set_signal(libc::SIGPIPE, libc::SIG_DFL);
        unblock_all_signals();
        libc::syscall(libc::SYS_close_range, 3 + plan.preserve_fds as u32, u32::MAX, 4 /* CLOSE_RANGE_CLOEXEC */);
        match (&plan.trampoline, plan.trampoline_argvs.get(exe_index)) {
            (Some(t), Some(argv)) => {
                use std::os::fd::AsRawFd;
                libc::syscall(libc::SYS_execveat, t.as_raw_fd(), c"".as_ptr(), argv.as_ptr(), plan.envp.as_ptr(), libc::AT_EMPTY_PATH);
            }
            _ => {
                libc::execve(exe.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
            }
        }
        let e = errno();
        let mut msg = CPathBuf::new();
        msg.push_bytes(b"husk-runtime: exec ").push_bytes(exe.to_bytes()).push_bytes(b": errno ").push_num(e as u64).push_bytes(b"\n");
        write_all_raw(2, msg.as_cstr().to_bytes());
        libc::_exit(127);
    }
}

/// Gives stdio (pipes, files, the pty) to the process's user before it becomes that user, so it
/// can reopen /dev/stdout or /proc/self/fd/N; the group stays (devpts' tty group), /dev/null is
/// left alone, and an fd we may not chown (unmapped owner, read-only fs) is left as it is — as
/// runc's fixStdioPermissions.
fn fix_stdio_owner(uid: u32) {
    for fd in 0..3 {
        // SAFETY: zeroed stat is a valid out-parameter; fstat/fchown on fds 0-2.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) != 0 || st.st_uid == uid {
                continue;
            }
            if st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3) {
                continue;
            }
            libc::fchown(fd, uid, st.st_gid);
        }
    }
}

#[repr(C)]
struct KSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Sets every signal's disposition with raw rt_sigaction (SIGPIPE ignored if `keep_pipe_ignored`).
fn set_all_signals(handler: libc::sighandler_t, keep_pipe_ignored: bool) {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        set_signal(sig, if keep_pipe_ignored && sig == libc::SIGPIPE { libc::SIG_IGN } else { handler });
    }
}

fn set_signal(sig: c_int, handler: libc::sighandler_t) {
    let act = KSigaction { handler, flags: 0, restorer: 0, mask: 0 };
    // SAFETY: raw rt_sigaction with a kernel-layout struct and the kernel's 8-byte sigset size.
    unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &act as *const KSigaction, ptr::null_mut::<KSigaction>(), 8) };
}

fn unblock_all_signals() {
    let empty: u64 = 0;
    // SAFETY: raw rt_sigprocmask with an 8-byte set.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &empty as *const u64, ptr::null_mut::<u64>(), 8) };
}

/// Loads the filter; a notify listener fd goes to the parent, which hands it to the agent.
fn load_seccomp(sc: &SeccompPlan, fds: &ChildFds) -> ChildResult {
    let fd = sc.load_raw().map_err(|e| Fail::new(Step::Seccomp, 0, e))?;
    if fd < 0 {
        return Ok(());
    }
    if fds.sync < 0 {
        return Err(Fail::new(Step::Seccomp, 1, libc::ENOTSUP));
    }
    let mut rec = [0u8; 16];
    rec[0..4].copy_from_slice(&MSG_SECCOMP.to_ne_bytes());
    let sent = send_fd_raw(fds.sync, fd, &rec);
    // SAFETY: the listener fd is the parent's now.
    unsafe { libc::close(fd) };
    sent.map_err(|e| Fail::new(Step::Seccomp, 2, e))?;
    let mut ack = [0u8; 4];
    if recv_into(fds.sync, &mut ack) != 4 {
        return Err(Fail::new(Step::Seccomp, 3, libc::EPIPE));
    }
    Ok(())
}

/// Creates the container's pty, sends the master to the console socket (SCM_RIGHTS, as
/// containerd expects), binds the slave to /dev/console and makes it the stdio and ctty.
fn setup_console(plan: &InitPlan, sock: c_int) -> ChildResult {
    // SAFETY: raw syscalls over stack buffers.
    unsafe {
        let master = libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        check(master, Step::Console, 0)?;
        let mut unlock: c_int = 0;
        check(libc::ioctl(master, libc::TIOCSPTLCK, &mut unlock), Step::Console, 1)?;
        let mut n: u32 = 0;
        check(libc::ioctl(master, libc::TIOCGPTN, &mut n), Step::Console, 2)?;
        let mut path = CPathBuf::new();
        path.push_bytes(b"/dev/pts/").push_num(n as u64);
        let slave = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        check(slave, Step::Console, 3)?;
        if let Some((rows, cols)) = plan.console_size {
            let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
            libc::ioctl(slave, libc::TIOCSWINSZ, &ws);
        }
        if sock >= 0 {
            send_fd_raw(sock, master, path.as_cstr().to_bytes()).map_err(|e| Fail::new(Step::Console, 4, e))?;
            libc::close(sock);
        }
        libc::close(master);
        // /dev/console: an empty file in the container's /dev with the slave bound on it, by fd,
        // after checking it is not a symlink or anything planted (CVE-2025-52565).
        if plan.mount_console {
            let fd = libc::open(c"/dev/console".as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o666);
            if fd >= 0 {
                libc::close(fd);
            }
            let target = libc::open(c"/dev/console".as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC);
            check(target, Step::Console, 5)?;
            let mut st: libc::stat = std::mem::zeroed();
            let kind = if libc::fstat(target, &mut st) == 0 { st.st_mode & libc::S_IFMT } else { 0 };
            if kind != libc::S_IFREG && kind != libc::S_IFCHR {
                libc::close(target);
                return Err(Fail::new(Step::Console, 5, libc::EPERM));
            }
            let src = CPathBuf::proc_fd(slave);
            let dst = CPathBuf::proc_fd(target);
            let r = libc::mount(src.as_ptr(), dst.as_ptr(), ptr::null(), libc::MS_BIND, ptr::null());
            libc::close(target);
            check(r, Step::Console, 5)?;
        }
        libc::setsid();
        check(libc::ioctl(slave, libc::TIOCSCTTY, 0), Step::Console, 6)?;
        for target in 0..3 {
            check(libc::dup3(slave, target, 0), Step::Console, 7)?;
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
    Ok(())
}
