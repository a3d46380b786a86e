//! Test helpers: run a closure in a forked child (which, like the init, makes raw syscalls only).

/// Forks; the child runs `child` and exits with its return value; returns the wait status.
/// The child must not allocate or panic: it is a copy of the multithreaded test harness.
pub fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child` (raw syscalls) and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // no core files from the SIGSYS a test provokes on purpose
        let zero = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: setrlimit with a stack struct, then the test body, then _exit.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            libc::_exit(child());
        }
    }
    wait(pid)
}

pub fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: waitpid on our own child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        assert_eq!(crate::util::errno(), libc::EINTR, "waitpid failed");
    }
    status
}

/// "exit N" or "signal N", for assertions that say what happened.
pub fn describe(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}

/// A raw syscall's result as Ok(value) or Err(errno).
pub fn sys(r: libc::c_long) -> Result<libc::c_long, i32> {
    if r < 0 { Err(crate::util::errno()) } else { Ok(r) }
}
