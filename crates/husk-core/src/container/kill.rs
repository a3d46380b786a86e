//! `kill`: send a signal to the init, or with `all` to every process in the container's cgroup.

use crate::error::{Error, Result};
use crate::state::{StateRoot, Status};

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP), ("INT", libc::SIGINT), ("QUIT", libc::SIGQUIT), ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP), ("ABRT", libc::SIGABRT), ("IOT", libc::SIGIOT), ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE), ("KILL", libc::SIGKILL), ("USR1", libc::SIGUSR1), ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2), ("PIPE", libc::SIGPIPE), ("ALRM", libc::SIGALRM), ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT), ("CHLD", libc::SIGCHLD), ("CLD", libc::SIGCHLD), ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP), ("TSTP", libc::SIGTSTP), ("TTIN", libc::SIGTTIN), ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG), ("XCPU", libc::SIGXCPU), ("XFSZ", libc::SIGXFSZ), ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF), ("WINCH", libc::SIGWINCH), ("IO", libc::SIGIO), ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR), ("SYS", libc::SIGSYS),
];

/// `9`, `KILL`, `SIGKILL`, `kill`, `RTMIN+3` → signal number.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        // 0 only checks that the process exists (kill -0), as runc allows.
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::InvalidArgument(format!("invalid signal {s:?}")));
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: i32, rest: &str| -> Option<i32> {
        let off: i32 = if rest.is_empty() { 0 } else { rest.parse().ok()? };
        Some(base + off).filter(|n| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(n))
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        if let Some(n) = rt(libc::SIGRTMIN(), rest.trim_start_matches('+')) {
            return Ok(n);
        }
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        if let Some(n) = rest.strip_prefix('-').map_or(Some(0), |r| r.parse::<i32>().ok()).map(|o| libc::SIGRTMAX() - o) {
            return Ok(n);
        }
    }
    Err(Error::InvalidArgument(format!("unknown signal {s:?}")))
}

pub fn kill(root: &StateRoot, id: &str, sig: i32, all: bool) -> Result<()> {
    let (st, status) = super::load(root, id)?;
    if status == Status::Stopped && !all {
        return Err(Error::WrongState("container not running".into()));
    }
    if all {
        if let Some(cg) = &st.cgroup {
            for pid in cg.pids()? {
                // SAFETY: kill(2) with a pid from the container's cgroup.
                unsafe { libc::kill(pid, sig) };
            }
            if status == Status::Paused && sig == libc::SIGKILL {
                let _ = cg.thaw();
            }
            return Ok(());
        }
    }
    // SAFETY: kill(2).
    if unsafe { libc::kill(st.pid, sig) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(Error::WrongState("container not running: no such process".into()));
        }
        return Err(Error::Sys { step: format!("kill {} with signal {sig}", st.pid), source: e });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn parses_signal_forms() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(parse_signal("NOPE").is_err());
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("65").is_err());
        assert!(parse_signal("-1").is_err());
    }
}
