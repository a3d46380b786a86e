//! The seccomp notify listener fd's way out: the child sends it to its parent over the sync
//! socket (`send_fd_raw`, raw sendmsg), the parent receives it (`recv_fd`) and hands it to the
//! agent at `listenerPath` with the container process state (`send_listener_state`).

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::ptr;

use libc::c_int;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::util::errno;

/// Room for one fd's control message (CMSG_SPACE(sizeof(int)) is 24 on 64-bit Linux).
const CMSG_ONE_FD: usize = 32;
/// Room to receive a few fds, so a peer sending more cannot truncate the one we want.
const CMSG_RECV: usize = 128;

/// Control buffer aligned for struct cmsghdr.
#[repr(C, align(8))]
struct CmsgBuf<const N: usize>([u8; N]);

/// Sends `payload` with `fd` attached (SCM_RIGHTS) on `sock`: raw sendmsg over stack memory,
/// safe in the init child. An empty payload is sent as one NUL byte (a stream socket drops
/// ancillary data that travels with no byte). Returns the bytes sent (all of them on a
/// SOCK_SEQPACKET socket), or the errno.
pub fn send_fd_raw(sock: c_int, fd: c_int, payload: &[u8]) -> Result<usize, i32> {
    let payload: &[u8] = if payload.is_empty() { b"\0" } else { payload };
    let mut cbuf = CmsgBuf([0u8; CMSG_ONE_FD]);
    // SAFETY: msghdr and its buffers live on this stack frame for the whole call.
    unsafe {
        let mut iov = libc::iovec { iov_base: payload.as_ptr() as *mut libc::c_void, iov_len: payload.len() };
        let mut msg: libc::msghdr = mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = libc::CMSG_SPACE(mem::size_of::<c_int>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(mem::size_of::<c_int>() as u32) as usize;
        ptr::copy_nonoverlapping(&fd as *const c_int as *const u8, libc::CMSG_DATA(cmsg), mem::size_of::<c_int>());
        loop {
            let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
            if n >= 0 {
                return Ok(n as usize);
            }
            if errno() != libc::EINTR {
                return Err(errno());
            }
        }
    }
}

/// Receives one message into `buf` and the first fd attached to it, if any (close-on-exec;
/// any further fds are closed). Returns the byte count (0: the peer closed) and the fd.
pub fn recv_fd(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut cbuf = CmsgBuf([0u8; CMSG_RECV]);
    // SAFETY: msghdr and its buffers live on this stack frame; fds from the kernel are owned at once.
    unsafe {
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut msg: libc::msghdr = mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.0.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = cbuf.0.len();
        let n = loop {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        let mut first: Option<OwnedFd> = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let count = ((*cmsg).cmsg_len - (data as usize - cmsg as usize)) / mem::size_of::<c_int>();
                for i in 0..count {
                    let mut fd: c_int = -1;
                    ptr::copy_nonoverlapping(data.add(i * mem::size_of::<c_int>()), &mut fd as *mut c_int as *mut u8, mem::size_of::<c_int>());
                    let owned = OwnedFd::from_raw_fd(fd);
                    if first.is_none() {
                        first = Some(owned);
                    } // else: dropped, i.e. closed
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 && first.is_none() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the fd sent with the message was truncated"));
        }
        Ok((n, first))
    }
}

/// The runtime-spec ContainerProcessState sent to a seccomp agent.
pub fn container_process_state(state: &Value, metadata: &str) -> Value {
    json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": state.get("pid").cloned().unwrap_or(Value::from(0)),
        "metadata": metadata,
        "state": state,
    })
}

/// Connects to the agent at `listener_path` (a unix stream socket) and sends it the container
/// process state with `seccomp_fd` attached, as the runtime-spec describes; `state` is the
/// container's state (ociVersion, id, status "creating", pid, bundle, annotations).
pub fn send_listener_state(listener_path: &Path, seccomp_fd: RawFd, state: &Value, metadata: &str) -> Result<()> {
    let step = "sending the seccomp fd to the listener";
    let conn = UnixStream::connect(listener_path).map_err(|e| Error::io(step, listener_path.display().to_string(), e))?;
    let body = serde_json::to_vec(&container_process_state(state, metadata))
        .map_err(|e| Error::Other(format!("{step}: encoding the state: {e}")))?;
    // The fd travels with the first chunk; a stream socket may take the body in several writes.
    let mut sent = 0;
    while sent < body.len() {
        let r = if sent == 0 {
            send_fd_raw(conn.as_raw_fd(), seccomp_fd, &body)
        } else {
            // SAFETY: send of a slice of `body` on a connected socket.
            let n = unsafe { libc::send(conn.as_raw_fd(), body[sent..].as_ptr() as *const libc::c_void, body.len() - sent, libc::MSG_NOSIGNAL) };
            if n < 0 { Err(errno()) } else { Ok(n as usize) }
        };
        match r {
            Ok(n) => sent += n,
            Err(libc::EINTR) => {}
            Err(e) => return Err(Error::io(step, listener_path.display().to_string(), io::Error::from_raw_os_error(e))),
        }
    }
    Ok(())
}
