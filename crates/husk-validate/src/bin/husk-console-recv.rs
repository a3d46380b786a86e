//! husk-console-recv SOCKET [--input TEXT] [--timeout SECS]
//!
//! The receiving end of a runtime's `--console-socket`: listens on SOCKET, takes the pty master
//! the runtime sends over SCM_RIGHTS, writes TEXT to it, and copies everything the container
//! prints to stdout until the container closes its side. Progress goes to stderr ("ready" once
//! listening). Exit 0 when the pty closed, 1 on error, 2 on timeout.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

struct Args {
    socket: String,
    input: Option<String>,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args { socket: String::new(), input: None, timeout: Duration::from_secs(30) };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--input" => parsed.input = Some(args.next().ok_or("--input needs a value")?),
            "--timeout" => {
                let secs: f64 = args.next().ok_or("--timeout needs a value")?.parse().map_err(|_| "--timeout needs seconds")?;
                parsed.timeout = Duration::from_secs_f64(secs);
            }
            _ if parsed.socket.is_empty() => parsed.socket = arg,
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    if parsed.socket.is_empty() {
        return Err("usage: husk-console-recv SOCKET [--input TEXT] [--timeout SECS]".to_string());
    }
    Ok(parsed)
}

enum Failure {
    Error(String),
    Timeout(String),
}

fn main() {
    let code = match parse_args().map_err(Failure::Error).and_then(|args| run(&args)) {
        Ok(()) => 0,
        Err(Failure::Error(msg)) => {
            eprintln!("husk-console-recv: {msg}");
            1
        }
        Err(Failure::Timeout(msg)) => {
            eprintln!("husk-console-recv: timed out {msg}");
            2
        }
    };
    std::process::exit(code);
}

fn run(args: &Args) -> Result<(), Failure> {
    let deadline = Instant::now() + args.timeout;
    let _ = std::fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket).map_err(|e| Failure::Error(format!("bind {}: {e}", args.socket)))?;
    eprintln!("ready");
    wait_readable(listener.as_raw_fd(), deadline).map_err(|e| e.context("waiting for the runtime to connect"))?;
    let (conn, _) = listener.accept().map_err(|e| Failure::Error(format!("accept: {e}")))?;
    let (master, name) = receive_fd(conn.as_raw_fd()).map_err(Failure::Error)?;
    eprintln!("received pty master fd (name {name:?})");
    let mut pty_number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int; it fails unless the fd is a pty master.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut pty_number) } != 0 {
        return Err(Failure::Error(format!("received fd is not a pty master: {}", io::Error::last_os_error())));
    }
    eprintln!("pty master of /dev/pts/{pty_number}");
    if let Some(input) = &args.input {
        write_all(master.as_raw_fd(), input.as_bytes()).map_err(|e| Failure::Error(format!("write to pty: {e}")))?;
    }
    relay_to_stdout(master.as_raw_fd(), deadline)
}

impl Failure {
    fn context(self, what: &str) -> Failure {
        match self {
            Failure::Error(msg) => Failure::Error(format!("{what}: {msg}")),
            Failure::Timeout(_) => Failure::Timeout(what.to_string()),
        }
    }
}

fn wait_readable(fd: RawFd, deadline: Instant) -> Result<(), Failure> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout(String::new()));
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: pfd is one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(Failure::Error(format!("poll: {}", io::Error::last_os_error())));
        }
    }
}

/// One recvmsg carrying a single fd in SCM_RIGHTS; the data is the name the runtime sends along.
fn receive_fd(sock: RawFd) -> Result<(OwnedFd, String), String> {
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr().cast(), iov_len: data.len() };
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<[RawFd; 4]>() as u32) } as usize;
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
    let name = String::from_utf8_lossy(&data[..n as usize]).into_owned();
    // SAFETY: the CMSG macros walk the control buffer recvmsg filled in.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                return Ok((OwnedFd::from_raw_fd(fd), name));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(format!("message {name:?} carried no file descriptor"))
}

fn write_all(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: bytes is a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

fn relay_to_stdout(master: RawFd, deadline: Instant) -> Result<(), Failure> {
    let mut buf = [0u8; 4096];
    let mut out = io::stdout().lock();
    let mut eio_retries = 0;
    loop {
        wait_readable(master, deadline).map_err(|e| e.context("waiting for the container to close its terminal"))?;
        // SAFETY: buf is a live buffer of buf.len() bytes.
        let n = unsafe { libc::read(master, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            let _ = out.write_all(&buf[..n as usize]);
            let _ = out.flush();
            continue;
        }
        let err = io::Error::last_os_error();
        // A pty master reads EIO once every slave fd is closed: the container has gone. The tty
        // layer hands written bytes over in a worker, so on a busy machine the last line can
        // still be on its way: give it a few short chances before calling it the end.
        if n == 0 || err.raw_os_error() == Some(libc::EIO) {
            if eio_retries < 5 {
                eio_retries += 1;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            return Ok(());
        }
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(Failure::Error(format!("read pty: {err}")));
        }
    }
}
