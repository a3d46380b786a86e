//! OCI hooks: run in the runtime's namespaces by the parent (prestart, createRuntime, poststart,
//! poststop) or inside the container by the init child (createContainer, startContainer).

use std::ffi::CString;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::spec::Hook;
use crate::util::cstring;

/// Runs each hook in order with the state JSON on stdin; the first failure stops the rest.
pub fn run_hooks(kind: &str, hooks: &[Hook], state_json: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_hook(h, state_json).map_err(|msg| Error::Other(format!("error running {kind} hook #{i} ({}): {msg}", h.path)))?;
    }
    Ok(())
}

fn run_hook(h: &Hook, state_json: &[u8]) -> std::result::Result<(), String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(&h.path);
    if let Some(a0) = h.args.first() {
        cmd.arg0(a0);
    }
    cmd.args(h.args.iter().skip(1)).env_clear().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for kv in &h.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin; that is not an error.
        let _ = stdin.write_all(state_json);
    }
    let deadline = h.timeout.map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timeout after {} seconds", h.timeout.unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        let mut out = String::new();
        if let Some(mut e) = child.stderr.take() { let _ = e.read_to_string(&mut out); }
        if let Some(mut o) = child.stdout.take() { let _ = o.read_to_string(&mut out); }
        return Err(format!("{status}, stdout/stderr: {}", out.trim()));
    }
    Ok(())
}

/// A hook prepared for the init child: argv/envp as C arrays built before the clone.
#[derive(Debug)]
pub struct RawHook {
    pub path: CString,
    _args: Vec<CString>,
    _env: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    /// `["husk-exec", path, args...]` for the exec trampoline (process/trampoline.rs).
    trampoline_argv: Vec<*const libc::c_char>,
    pub timeout_ms: i32,
}

impl RawHook {
    pub fn new(h: &Hook) -> Result<RawHook> {
        let args: Vec<CString> = if h.args.is_empty() { vec![cstring(&h.path)?] } else { h.args.iter().map(cstring).collect::<Result<_>>()? };
        let env: Vec<CString> = h.env.iter().map(cstring).collect::<Result<_>>()?;
        let argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let envp = env.iter().map(|a| a.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let path = cstring(&h.path)?;
        let trampoline_argv = [c"husk-exec".as_ptr(), path.as_ptr()].into_iter().chain(argv.iter().copied()).collect();
        Ok(RawHook {
            path,
            trampoline_argv,
            _args: args,
            _env: env,
            argv,
            envp,
            timeout_ms: h.timeout.map(|t| (t * 1000).min(i32::MAX as i64) as i32).unwrap_or(-1),
        })
    }

    /// Fork, exec (through the trampoline fd when >= 0), feed the state, wait (raw syscalls
    /// only). Err: errno, or 1000+status / 2000+signal.
    pub fn run_raw(&self, state: &[u8], trampoline: i32) -> std::result::Result<(), i32> {
        let mut fds = [0i32; 2];
        // SAFETY: raw syscalls over memory prepared before the clone; the forked child only
        // dup2s and execs.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(crate::util::errno());
            }
            let pid = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) as i32;
            if pid < 0 {
                return Err(crate::util::errno());
            }
            if pid == 0 {
                libc::dup2(fds[0], 0);
                if trampoline >= 0 {
                    libc::syscall(libc::SYS_execveat, trampoline, c"".as_ptr(), self.trampoline_argv.as_ptr(), self.envp.as_ptr(), libc::AT_EMPTY_PATH);
                }
                libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                libc::_exit(127);
            }
            libc::close(fds[0]);
            crate::util::write_all_raw(fds[1], state);
            libc::close(fds[1]);
            let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
            if pidfd >= 0 {
                let mut p = libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 };
                let r = loop {
                    let r = libc::poll(&mut p, 1, self.timeout_ms);
                    if r >= 0 || crate::util::errno() != libc::EINTR { break r; }
                };
                libc::close(pidfd);
                if r == 0 {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                    return Err(libc::ETIMEDOUT);
                }
            }
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) < 0 {
                if crate::util::errno() != libc::EINTR {
                    return Err(crate::util::errno());
                }
            }
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else if libc::WIFEXITED(status) {
                Err(1000 + libc::WEXITSTATUS(status))
            } else {
                Err(2000 + libc::WTERMSIG(status))
            }
        }
    }
}

/// How the parent words a raw hook failure code.
pub fn describe_raw_failure(code: i32) -> String {
    match code {
        libc::ETIMEDOUT => "timeout".to_string(),
        c if (1000..2000).contains(&c) => format!("exit status {}", c - 1000),
        c if c >= 2000 => format!("killed by signal {}", c - 2000),
        c => crate::util::errno_text(c),
    }
}
