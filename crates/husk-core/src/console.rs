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
    // SAFETY: recvmsg into stack buffers sized by CMSG_SPACE.
    unsafe {
        let mut name = [0u8; 256];
        let mut iov = libc::iovec { iov_base: name.as_mut_ptr() as *mut libc::c_void, iov_len: name.len() };
        let mut cbuf = [0u8; 64];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cbuf.len();
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) < 0 {
            return Err(crate::Error::sys("receive pty master"));
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(crate::Error::Other("receive pty master: no file descriptor".into()));
        }
        let mut fd: i32 = -1;
        std::ptr::copy_nonoverlapping(libc::CMSG_DATA(cmsg), &mut fd as *mut i32 as *mut u8, 4);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

