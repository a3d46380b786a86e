//! Foreground `run` and `exec`: wait for our child, pass signals on, and — when husk-runtime owns
//! the terminal — relay between our stdio and the container's pty master.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub use husk_core::console::{console_pair, recv_master};

/// Signals passed on to the container's process, as runc does.
const FORWARDED: &[i32] = &[
    libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGPIPE, libc::SIGALRM,
    libc::SIGTERM, libc::SIGCONT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU, libc::SIGWINCH, libc::SIGURG,
];

/// Blocks the forwarded signals and SIGCHLD (before the clone, so none is lost) and returns a
/// signalfd that receives them.
pub fn block_signals() -> OwnedFd {
    // SAFETY: signal mask calls on our single thread; the child resets its mask before exec.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        for s in FORWARDED {
            libc::sigaddset(&mut set, *s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        OwnedFd::from_raw_fd(libc::signalfd(-1, &set, libc::SFD_CLOEXEC))
    }
}

/// Puts our terminal in raw mode while relaying, and restores it on drop.
struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    fn new() -> RawMode {
        // SAFETY: termios calls on fd 0; skipped when it is not a terminal.
        unsafe {
            if libc::isatty(0) == 0 {
                return RawMode { saved: None };
            }
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(0, &mut t);
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode { saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            // SAFETY: restore the saved attributes of fd 0.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
}

fn copy_winsize(master: RawFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a stack winsize.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Moves what is readable from `from` to `to`; false at EOF or error.
fn pump(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 16 * 1024];
    // SAFETY: read/write with a stack buffer.
    let n = unsafe { libc::read(from, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
    if n <= 0 {
        return false;
    }
    let mut off = 0;
    while off < n as usize {
        // SAFETY: as above.
        let w = unsafe { libc::write(to, buf[off..].as_ptr() as *const libc::c_void, n as usize - off) };
        if w <= 0 {
            return false;
        }
        off += w as usize;
    }
    true
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Waits for `pid`, forwarding signals from `sigfd`; with a `master`, relays the terminal.
/// Returns the exit code (128+signal when killed).
pub fn wait_child(pid: i32, sigfd: &OwnedFd, master: Option<OwnedFd>) -> i32 {
    let _raw = master.as_ref().map(|_| RawMode::new());
    if let Some(m) = &master {
        copy_winsize(m.as_raw_fd());
    }
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mut code = None;
    loop {
        let mut fds = vec![libc::pollfd { fd: sigfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        if let Some(m) = master.as_ref().filter(|_| master_open) {
            fds.push(libc::pollfd { fd: m.as_raw_fd(), events: libc::POLLIN, revents: 0 });
            if stdin_open {
                fds.push(libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 });
            }
        }
        if code.is_some() && !master_open {
            break;
        }
        // SAFETY: poll over a Vec of pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, if code.is_some() { 100 } else { -1 }) };
        if r < 0 {
            continue;
        }
        if r == 0 {
            break; // the process is gone and the pty has been quiet: done
        }
        for p in fds.iter().skip(1) {
            if p.revents == 0 {
                continue;
            }
            let m = master.as_ref().map(|m| m.as_raw_fd()).unwrap_or(-1);
            if p.fd == m && !pump(m, 1) {
                master_open = false;
            }
            if p.fd == 0 && !pump(0, m) {
                stdin_open = false;
            }
        }
        if fds[0].revents & libc::POLLIN != 0 {
            // SAFETY: read a signalfd_siginfo from the signalfd.
            let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let n = unsafe { libc::read(sigfd.as_raw_fd(), &mut si as *mut _ as *mut libc::c_void, std::mem::size_of::<libc::signalfd_siginfo>()) };
            if n <= 0 {
                continue;
            }
            let sig = si.ssi_signo as i32;
            if sig == libc::SIGWINCH {
                if let Some(m) = &master {
                    copy_winsize(m.as_raw_fd());
                    continue;
                }
            }
            if sig != libc::SIGCHLD {
                // SAFETY: kill(2) of our child.
                unsafe { libc::kill(pid, sig) };
                continue;
            }
            loop {
                let mut status = 0;
                // SAFETY: reap our children (and orphans re-parented to us).
                let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if r <= 0 {
                    break;
                }
                if r == pid {
                    code = Some(exit_code(status));
                }
            }
            if code.is_some() && master.is_none() {
                break;
            }
        }
    }
    code.unwrap_or_else(|| {
        let mut status = 0;
        // SAFETY: reap our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        exit_code(status)
    })
}
