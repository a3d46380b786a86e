//! husk-seccomp-agent SOCKET [--respond-val N | --respond-errno N] [--timeout SECS]
//!
//! The seccomp agent at a config's `linux.seccomp.listenerPath`: listens on SOCKET, accepts one
//! connection from the runtime, receives the container process state (JSON) with the seccomp
//! notify fd (SCM_RIGHTS), answers one notification, and exits. Prints to stdout:
//! `state JSON`, `fd LINK` (what the received fd is), `notification nr=N pid=P`, `responded`.
//! Progress goes to stderr ("ready" once listening). Exit 0 on success, 1 on error, 2 on timeout.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

/// struct seccomp_notif and seccomp_notif_resp of <linux/seccomp.h>.
#[repr(C)]
#[derive(Default)]
struct Notif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

#[repr(C)]
struct NotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

/// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;

struct Args {
    socket: String,
    val: i64,
    error: i32,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args { socket: String::new(), val: 0, error: 0, timeout: Duration::from_secs(30) };
    let number = |v: Option<String>, flag: &str| -> Result<i64, String> { v.ok_or(format!("{flag} needs a value"))?.parse().map_err(|_| format!("{flag} needs a number")) };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--respond-val" => parsed.val = number(args.next(), "--respond-val")?,
            "--respond-errno" => parsed.error = -(number(args.next(), "--respond-errno")? as i32),
            "--timeout" => parsed.timeout = Duration::from_secs(number(args.next(), "--timeout")? as u64),
            _ if parsed.socket.is_empty() => parsed.socket = arg,
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    if parsed.socket.is_empty() {
        return Err("usage: husk-seccomp-agent SOCKET [--respond-val N | --respond-errno N] [--timeout SECS]".to_string());
    }
    Ok(parsed)
}

fn main() {
    let code = match parse_args().and_then(|a| run(&a)) {
        Ok(()) => 0,
        Err(msg) if msg.starts_with("timed out") => {
            eprintln!("husk-seccomp-agent: {msg}");
            2
        }
        Err(msg) => {
            eprintln!("husk-seccomp-agent: {msg}");
            1
        }
    };
    std::process::exit(code);
}

fn run(args: &Args) -> Result<(), String> {
    let deadline = Instant::now() + args.timeout;
    let _ = std::fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket).map_err(|e| format!("bind {}: {e}", args.socket))?;
    eprintln!("ready");
    wait_readable(listener.as_raw_fd(), deadline, "waiting for the runtime to connect")?;
    let (mut conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let (mut body, fd) = receive_fd(conn.as_raw_fd())?;
    // The state may span several reads on a stream socket; runtimes may keep the connection
    // open (runc does, until the container is created), so stop at a complete JSON document.
    while serde_json::from_slice::<serde_json::Value>(trim_nul(&body)).is_err() {
        wait_readable(conn.as_raw_fd(), deadline, "reading the state")?;
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).map_err(|e| format!("read the state: {e}"))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&body).trim_end_matches('\0').to_string();
    println!("state {text}");
    let Some(fd) = fd else { return Err("the state came without a file descriptor".to_string()) };
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map(|p| p.display().to_string()).unwrap_or_default();
    println!("fd {link}");
    wait_readable(fd.as_raw_fd(), deadline, "waiting for a notification")?;
    let mut notif = Notif::default();
    // SAFETY: NOTIF_RECV fills a zeroed struct seccomp_notif.
    if unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV, &mut notif as *mut Notif) } != 0 {
        return Err(format!("SECCOMP_IOCTL_NOTIF_RECV: {}", io::Error::last_os_error()));
    }
    println!("notification nr={} pid={}", notif.nr, notif.pid);
    let mut resp = NotifResp { id: notif.id, val: args.val, error: args.error, flags: 0 };
    // SAFETY: NOTIF_SEND reads a struct seccomp_notif_resp.
    if unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &mut resp as *mut NotifResp) } != 0 {
        return Err(format!("SECCOMP_IOCTL_NOTIF_SEND: {}", io::Error::last_os_error()));
    }
    println!("responded");
    Ok(())
}

fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn wait_readable(fd: RawFd, deadline: Instant, what: &str) -> Result<(), String> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out {what}"));
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(format!("poll: {}", io::Error::last_os_error()));
        }
    }
}

/// One recvmsg: the bytes that came with it and the first fd attached (others are closed).
fn receive_fd(sock: RawFd) -> Result<(Vec<u8>, Option<OwnedFd>), String> {
    let mut data = vec![0u8; 65536];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<[RawFd; 8]>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: an all-zero msghdr is valid; the pointers are filled in below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: msg points at live buffers for the duration of the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(format!("recvmsg: {}", io::Error::last_os_error()));
    }
    data.truncate(n as usize);
    let mut first = None;
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled in; fds are owned at once.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let payload = libc::CMSG_DATA(cmsg);
                let count = ((*cmsg).cmsg_len as usize - (payload as usize - cmsg as usize)) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let fd = std::ptr::read_unaligned(payload.cast::<RawFd>().add(i));
                    let owned = OwnedFd::from_raw_fd(fd);
                    if first.is_none() {
                        first = Some(owned);
                    }
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((data, first))
}
