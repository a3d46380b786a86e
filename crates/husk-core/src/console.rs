//! The console socket, host side: a socket pair that stands in for `--console-socket` when the
//! caller relays the terminal itself, and receiving the pty master the container sends.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A socket pair standing in for --console-socket when we relay the terminal ourselves.
pub fn console_pair() -> crate::Result<(OwnedFd, OwnedFd)> {
    let mut sp = [0; 2];
    // SAFETY: socketpair into a stack array.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, sp.as_mut_ptr()) } != 0 {
        return Err(crate::Error::sys("socketpair for console"));
    }
    // SAFETY: both fds were just created.
    Ok(unsafe { (OwnedFd::from_raw_fd(sp[0]), OwnedFd::from_raw_fd(sp[1])) })
}

/// Receives the pty master the container's process sent over SCM_RIGHTS.
pub fn recv_master(sock: RawFd) -> crate::Result<OwnedFd> {
    let mut name = [0u8; 256];
    match crate::security::seccomp::recv_fd(sock, &mut name) {
        Ok((_, Some(fd))) => Ok(fd),
        Ok((_, None)) => Err(crate::Error::Other("receive pty master: no file descriptor".into())),
        Err(e) => Err(crate::Error::Sys { step: "receive pty master".into(), source: e }),
    }
}
