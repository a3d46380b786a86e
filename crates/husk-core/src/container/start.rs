//! `start`: release a created container's init by writing to its exec fifo.

use crate::error::{Error, Result};
use crate::hooks::run_hooks;
use crate::state::{StateRoot, Status, EXEC_FIFO};
use crate::util::cstring;

/// Starts the container; poststart hook failures come back as warnings (the spec says so).
pub fn start(root: &StateRoot, id: &str) -> Result<Vec<String>> {
    let _lock = root.lock(id)?;
    let (st, status) = super::load(root, id)?;
    match status {
        Status::Created => {}
        Status::Stopped => return Err(Error::WrongState("cannot start a container that has stopped".into())),
        _ => return Err(Error::WrongState(format!("cannot start an already running container (status: {})", status.as_str()))),
    }
    let path = root.dir(id).join(EXEC_FIFO);
    let c = cstring(&path)?;
    // SAFETY: open/write/close/unlink of a NUL-terminated path; nonblocking so a dead init cannot hang us.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(Error::WrongState(format!("container not running: open exec fifo {}: {}", path.display(), std::io::Error::last_os_error())));
        }
        let n = libc::write(fd, b"0".as_ptr() as *const libc::c_void, 1);
        let e = std::io::Error::last_os_error();
        if n != 1 {
            libc::close(fd);
            return Err(Error::io("write exec fifo", path.display().to_string(), e));
        }
        libc::unlink(c.as_ptr());
        // The init's fifo fd closes on exec: POLLERR (no reader left) means the user's process
        // is running, which is when poststart hooks may run.
        let mut p = libc::pollfd { fd, events: 0, revents: 0 };
        libc::poll(&mut p, 1, 10_000);
        libc::close(fd);
    }
    Ok(poststart(&st))
}

/// Runs the poststart hooks of a container `run` started directly; failures are warnings.
pub fn poststart(st: &crate::state::ContainerState) -> Vec<String> {
    match st.config.hooks.as_ref().filter(|h| !h.poststart.is_empty()) {
        Some(h) => run_hooks("poststart", &h.poststart, &super::hook_state(st, Status::Running)).err().map(|e| vec![e.to_string()]).unwrap_or_default(),
        None => Vec::new(),
    }
}
