//! CVE-2019-5736: a process that enters a pid namespace where container processes already run
//! (exec, or a joined pid namespace) must not let them reach the host's husk-runtime binary
//! through /proc/PID/exe. Two layers:
//! - create/run/exec make themselves non-dumpable before cloning, so their children are born
//!   non-dumpable: opening their /proc/PID/exe then needs CAP_SYS_PTRACE in the initial user
//!   namespace (ptrace_may_access). That costs nothing and covers every container without it.
//! - when the container may hold CAP_SYS_PTRACE there (no user namespace, and no capability list
//!   or one that bounds CAP_SYS_PTRACE), husk-runtime first re-executes itself from a sealed memfd
//!   copy (≈2 ms), so the link names a file nobody can write.
//!
//! `HUSK_CLONED_BINARY=never|always` turns the memfd copy off or on for every command, and
//! `HUSK_CLONED_BINARY=off` turns every layer off, the trampoline included (benchmarks only: it
//! is how bench/lifecycle.sh measures what the protection costs).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

/// What the environment asks for: None = decide per command.
pub fn policy() -> Option<bool> {
    match std::env::var("HUSK_CLONED_BINARY").as_deref() {
        Ok("never") | Ok("off") => Some(false),
        Ok("always") => Some(true),
        _ => None,
    }
}

/// `HUSK_CLONED_BINARY=off`: no protection at all (benchmarks only).
pub fn unprotected() -> bool {
    std::env::var_os("HUSK_CLONED_BINARY").is_some_and(|v| v == "off")
}

/// Children inherit the parent's dumpable flag at clone; execve of the user's binary resets it.
pub fn make_undumpable() {
    // SAFETY: prctl with integer arguments on our own process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Whether the processes of the container `exec` targets could have CAP_SYS_PTRACE over us.
pub fn exec_needs_seal(root: &husk_core::state::StateRoot, rest: &[String]) -> bool {
    // The container id is the first argument that is not a flag or a flag's value; when unsure, seal.
    let Some(id) = exec_target(rest) else { return true };
    let Ok(st) = root.load(&id) else { return true };
    let spec = &st.config;
    if spec.linux().namespace("user").is_some() {
        return false;
    }
    match spec.process.as_ref().and_then(|p| p.capabilities.as_ref()).and_then(|c| c.bounding.as_ref()) {
        Some(bounding) => bounding.iter().any(|c| c == "CAP_SYS_PTRACE") || rest.iter().any(|a| a.contains("SYS_PTRACE")),
        None => true,
    }
}

fn exec_target(rest: &[String]) -> Option<String> {
    const VALUED: &[&str] = &["console-socket", "cwd", "env", "e", "user", "u", "additional-gids", "g", "process", "p", "pid-file", "process-label", "apparmor", "cap", "c", "preserve-fds", "cgroup"];
    let mut i = 0;
    while i < rest.len() {
        let a = &rest[i];
        if let Some(name) = a.strip_prefix('-') {
            let name = name.trim_start_matches('-');
            if !name.contains('=') && VALUED.contains(&name) {
                i += 1;
            }
        } else {
            return Some(a.clone());
        }
        i += 1;
    }
    None
}

fn already_sealed() -> bool {
    std::fs::read_link("/proc/self/exe").map(|p| p.as_os_str().as_bytes().starts_with(b"/memfd:")).unwrap_or(false)
}

/// Re-executes this process from a sealed memfd copy of its binary (returns only on failure or
/// when already running from one).
pub fn ensure_sealed() -> Result<(), String> {
    if already_sealed() {
        return Ok(());
    }
    let argv: Vec<CString> = std::env::args_os().map(|a| CString::new(a.as_bytes()).unwrap_or_default()).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // SAFETY: raw calls over fds owned here and C arrays built above.
    unsafe {
        let fd = libc::memfd_create(c"husk-runtime".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
        let src = libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 || src < 0 {
            return Err(format!("clone own binary: {}", std::io::Error::last_os_error()));
        }
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(src, &mut st);
        let mut left = st.st_size as usize;
        while left > 0 {
            let n = libc::sendfile(fd, src, std::ptr::null_mut(), left);
            if n <= 0 {
                return Err(format!("clone own binary: {}", std::io::Error::last_os_error()));
            }
            left -= n as usize;
        }
        libc::close(src);
        let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        if libc::fcntl(fd, libc::F_ADD_SEALS, seals) != 0 {
            return Err(format!("seal own binary: {}", std::io::Error::last_os_error()));
        }
        libc::fexecve(fd, argv_p.as_ptr(), envp_p.as_ptr());
        Err(format!("re-exec from sealed copy: {}", std::io::Error::last_os_error()))
    }
}
