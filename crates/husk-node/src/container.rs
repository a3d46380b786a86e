//! Container operations for JS: the same husk-core calls and state root as husk-runtime, each
//! run off the event loop. `spawn` starts a container in-process with CLONE_VM|CLONE_VFORK.

use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::path::PathBuf;

use husk_core::container::{self, CreateOptions};
use husk_core::state::StateRoot;
use husk_core::Error;
use serde_json::{json, Value};

use crate::env::{Args, JsError};
use crate::export::{job, Job};

fn root_of(v: &Value) -> StateRoot {
    StateRoot::new(v["root"].as_str().unwrap_or(husk_core::state::DEFAULT_ROOT))
}

fn str_field(v: &Value, name: &str) -> Result<String, JsError> {
    v[name].as_str().map(str::to_owned).ok_or_else(|| JsError::new("EINVAL_ARGUMENT", format!("options.{name}: expected string")))
}

fn to_json(v: impl serde::Serialize) -> husk_core::Result<String> {
    serde_json::to_string(&v).map_err(|e| Error::Other(format!("encode result: {e}")))
}

fn pipe() -> husk_core::Result<[RawFd; 2]> {
    let mut p = [0; 2];
    // SAFETY: pipe2 into a stack array; both ends close on exec (the child gets dup3'd copies).
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::sys("pipe2"));
    }
    Ok(p)
}

fn close(fd: RawFd) {
    // SAFETY: closing an fd this module created.
    unsafe { libc::close(fd) };
}

/// One stdio slot: (fd for the child, fd kept for JS or -1, fd to close after the spawn or -1).
fn stdio_slot(spec: &Value, index: usize) -> husk_core::Result<(RawFd, RawFd, RawFd)> {
    match spec {
        Value::Null => Ok((index as RawFd, -1, -1)),
        Value::String(s) if s == "inherit" => Ok((index as RawFd, -1, -1)),
        Value::String(s) if s == "pipe" => {
            let [r, w] = pipe()?;
            Ok(if index == 0 { (r, w, r) } else { (w, r, w) })
        }
        Value::String(s) if s == "ignore" => {
            // SAFETY: open of a constant path.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(Error::sys("open /dev/null"));
            }
            Ok((fd, -1, fd))
        }
        Value::Number(n) => Ok((n.as_i64().unwrap_or(-1) as RawFd, -1, -1)),
        other => Err(Error::InvalidArgument(format!("options.stdio[{index}]: expected \"pipe\", \"inherit\", \"ignore\" or an fd, got {other}"))),
    }
}

/// A container started in-process: its state, its stdio slots, and the pty master of a
/// terminal config.
struct Started {
    state: husk_core::state::ContainerState,
    slots: Vec<(RawFd, RawFd, RawFd)>,
    pty: Option<RawFd>,
}

/// Creates and starts `id` in-process (vfork) with the given stdio slot specs. On failure every
/// fd this made is closed again.
fn start_now(root: &StateRoot, id: &str, bundle: &str, stdio: &Value) -> husk_core::Result<Started> {
    let slots = (0..3).map(|i| stdio_slot(stdio.get(i).unwrap_or(&Value::Null), i)).collect::<husk_core::Result<Vec<_>>>()?;
    let mut opts = CreateOptions::new(id, PathBuf::from(bundle));
    opts.in_process = true;
    opts.stdio = [slots[0].0, slots[1].0, slots[2].0];
    // config.json is read once here (create takes it as is). A terminal container sends its
    // pty master over this pair; JS gets the master.
    opts.spec = husk_core::spec::Spec::load(&opts.bundle).ok();
    let terminal = opts.spec.as_ref().and_then(|s| s.process.as_ref()).is_some_and(|p| p.terminal);
    let pair = if terminal { Some(husk_core::console::console_pair()?) } else { None };
    opts.console_fd = pair.as_ref().map(|(a, _)| a.as_raw_fd());
    let result = container::create(root, &opts).and_then(|cs| {
        let master = match &pair {
            Some((_, b)) => Some(husk_core::console::recv_master(b.as_raw_fd())?.into_raw_fd()),
            None => None,
        };
        Ok((cs, master))
    });
    slots.iter().filter(|s| s.2 >= 0).for_each(|s| close(s.2));
    match result {
        Ok((state, pty)) => {
            spawned::remember(root, &state);
            Ok(Started { state, slots, pty })
        }
        Err(e) => {
            slots.iter().filter(|s| s.1 >= 0).for_each(|s| close(s.1));
            Err(e)
        }
    }
}

/// The options object of `spawn` and `run`: (the object, root, id, bundle).
fn start_args(args: &Args) -> Result<(Value, StateRoot, String, String), JsError> {
    let o = args.json(0, "options")?;
    let id = str_field(&o, "id")?;
    let bundle = str_field(&o, "bundle")?;
    let root = root_of(&o);
    Ok((o, root, id, bundle))
}

/// The end of `run` and `waitCapture`: reads `fds` (taken over and closed) until the process
/// exits, then reaps and deletes — even if reading failed, so nothing is left behind — and
/// returns what both resolve to.
fn capture_and_delete(root: &StateRoot, id: &str, pid: i32, fds: [RawFd; 2]) -> husk_core::Result<String> {
    let captured = capture(pid, fds);
    fds.into_iter().filter(|fd| *fd >= 0).for_each(close);
    let deleted = reap_and_delete(root, id, pid);
    let [stdout, stderr] = captured?;
    let (code, signal, warnings) = deleted?;
    to_json(json!({
        "exitCode": code,
        "signal": signal,
        "warnings": warnings,
        "stdout": String::from_utf8_lossy(&stdout),
        "stderr": String::from_utf8_lossy(&stderr),
    }))
}

/// `spawn({root, id, bundle, stdio?}): Promise<{id, pid, stdio: (number|null)[]}>` — create and
/// start in one step, in-process; the returned fds are the JS ends of "pipe" slots.
pub fn spawn(args: &Args) -> Result<Job, JsError> {
    let (o, root, id, bundle) = start_args(args)?;
    Ok(job(move || {
        let s = start_now(&root, &id, &bundle, &o["stdio"])?;
        to_json(json!({
            "id": s.state.id,
            "pid": s.state.pid,
            "stdio": s.slots.iter().map(|s| if s.1 >= 0 { json!(s.1) } else { Value::Null }).collect::<Vec<_>>(),
            "pty": s.pty,
            // SAFETY: dup of the master we now own; JS gets both.
            "ptyWrite": s.pty.map(|m| unsafe { libc::fcntl(m, libc::F_DUPFD_CLOEXEC, 0) }),
        }))
    }))
}

/// `run({root, id, bundle}): Promise<{exitCode, signal, warnings, stdout, stderr}>` — a whole
/// container on one thread: start in-process with stdin from /dev/null, read stdout and stderr
/// (a terminal config's pty output is the stdout), reap, delete. One call, one thread, nothing
/// handed back and forth with JS in between.
pub fn run(args: &Args) -> Result<Job, JsError> {
    let (_, root, id, bundle) = start_args(args)?;
    Ok(job(move || {
        let s = start_now(&root, &id, &bundle, &json!(["ignore", "pipe", "pipe"]))?;
        let fds = match s.pty {
            Some(master) => {
                s.slots.iter().filter(|s| s.1 >= 0).for_each(|s| close(s.1));
                [master, -1]
            }
            None => [s.slots[1].1, s.slots[2].1],
        };
        capture_and_delete(&root, &id, s.state.pid, fds)
    }))
}

/// `wait(root, id, pid): Promise<{exitCode, signal}>` — waits for a process this addon spawned
/// (only our own pid), then deletes the container. An `Export::Thread`: it blocks for the
/// container's whole life, so it gets its own thread instead of one of libuv's pool threads.
/// Like a live `child_process`, a pending wait keeps Node running until the container exits.
pub fn wait(args: &Args) -> Result<Job, JsError> {
    let (root, id, pid) = wait_args(args)?;
    Ok(job(move || {
        let (code, signal, warnings) = reap_and_delete(&root, &id, pid)?;
        to_json(json!({ "exitCode": code, "signal": signal, "warnings": warnings }))
    }))
}

/// `waitCapture(root, id, pid, stdoutFd, stderrFd): Promise<{exitCode, signal, warnings,
/// stdout, stderr}>` — `wait` that also reads the container's stdout and stderr pipes (the JS ends
/// spawn returned; this takes them over and closes them) on the same thread, until the init
/// exits, so `Runtime.run` needs no JS streams. What is still buffered when it exits is read too.
pub fn wait_capture(args: &Args) -> Result<Job, JsError> {
    let (root, id, pid) = wait_args(args)?;
    let fd = |i: usize, name: &str| -> Result<RawFd, JsError> {
        let n = args.number(i, name)?;
        if n.fract() != 0.0 || !(0.0..=f64::from(i32::MAX)).contains(&n) {
            return Err(Error::InvalidArgument(format!("argument {name}: {n} is not a file descriptor")).into());
        }
        Ok(n as RawFd)
    };
    let (out, err) = (fd(3, "stdoutFd")?, fd(4, "stderrFd")?);
    Ok(job(move || {
        capture_and_delete(&root, &id, pid, [out, err])
    }))
}

/// Reads both fds until both are at EOF or the process has exited (a pidfd says so), then what
/// they still hold without blocking: a daemon the container left holding a pipe cannot hang us.
fn capture(pid: i32, fds: [RawFd; 2]) -> husk_core::Result<[Vec<u8>; 2]> {
    let mut bufs = [Vec::new(), Vec::new()];
    // SAFETY: pidfd_open of our own child; fcntl on fds the caller handed over.
    let pidfd = unsafe {
        for fd in fds {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        libc::syscall(libc::SYS_pidfd_open, pid, 0) as RawFd
    };
    let mut open = [fds[0] >= 0, fds[1] >= 0];
    let mut exited = pidfd < 0;
    while open.iter().any(|o| *o) && !exited {
        let mut p = [
            libc::pollfd { fd: if open[0] { fds[0] } else { -1 }, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: if open[1] { fds[1] } else { -1 }, events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: poll over a stack array.
        if unsafe { libc::poll(p.as_mut_ptr(), 3, -1) } < 0 {
            if husk_core::util::errno() == libc::EINTR {
                continue;
            }
            close(pidfd);
            return Err(Error::sys("poll the container's output"));
        }
        for i in 0..2 {
            if p[i].revents != 0 {
                open[i] = drain(fds[i], &mut bufs[i]);
            }
        }
        exited = p[2].revents != 0;
    }
    if pidfd >= 0 {
        close(pidfd);
    }
    for i in 0..2 {
        if open[i] {
            drain(fds[i], &mut bufs[i]);
        }
    }
    Ok(bufs)
}

/// Reads what `fd` has without blocking; false at EOF or on an error.
fn drain(fd: RawFd, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16384];
    loop {
        // SAFETY: read into a stack buffer.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr() as *mut libc::c_void, chunk.len()) };
        match n {
            0 => return false,
            n if n > 0 => buf.extend_from_slice(&chunk[..n as usize]),
            _ => {
                let e = husk_core::util::errno();
                return e == libc::EAGAIN || e == libc::EINTR;
            }
        }
    }
}

fn wait_args(args: &Args) -> Result<(StateRoot, String, i32), JsError> {
    let root = StateRoot::new(args.string(0, "root")?);
    let id = args.string(1, "id")?;
    let pid = args.number(2, "pid")?;
    // Only one positive pid: 0, -1 or NaN (`as i32` makes that 0) would reap any child of Node,
    // child_process's included.
    if pid.fract() != 0.0 || !(1.0..=f64::from(i32::MAX)).contains(&pid) {
        let msg = format!("argument pid: {pid} is not a process id");
        return Err(Error::InvalidArgument(msg).into());
    }
    Ok((root, id, pid as i32))
}

/// Reaps the container's init (our child) and deletes the container: (exit code, signal, warnings).
fn reap_and_delete(root: &StateRoot, id: &str, pid: i32) -> husk_core::Result<(i32, Option<i32>, Vec<String>)> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on the one pid this addon cloned (pid > 0, never -1 or 0).
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && husk_core::util::errno() != libc::EINTR {
            return Err(Error::sys(format!("wait for container process {pid}")));
        }
    }
    let (code, signal) = if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status), Some(libc::WTERMSIG(status)))
    } else {
        (libc::WEXITSTATUS(status), None)
    };
    // The state spawn created is still here unless someone else changed the container.
    let warnings = match spawned::take(root, id).filter(|st| st.pid == pid) {
        Some(st) => container::delete_exited(root, &st)?,
        None => container::delete(root, id, true)?,
    };
    Ok((code, signal, warnings))
}

/// The state of each container this addon spawned, kept until its `wait` deletes it, so the
/// delete need not read and parse state.json again (`container::delete_exited` still checks the
/// file is unchanged).
mod spawned {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use husk_core::state::{ContainerState, StateRoot};

    /// Containers spawned and never waited for are forgotten past this many.
    const LIMIT: usize = 4096;

    static STATES: Mutex<Option<HashMap<(PathBuf, String), ContainerState>>> = Mutex::new(None);

    pub fn remember(root: &StateRoot, st: &ContainerState) {
        let mut map = STATES.lock().unwrap_or_else(|e| e.into_inner());
        let map = map.get_or_insert_with(HashMap::new);
        if map.len() >= LIMIT {
            map.clear();
        }
        map.insert((root.path.clone(), st.id.clone()), st.clone());
    }

    pub fn take(root: &StateRoot, id: &str) -> Option<ContainerState> {
        STATES.lock().unwrap_or_else(|e| e.into_inner()).as_mut()?.remove(&(root.path.clone(), id.to_string()))
    }
}

fn root_id(args: &Args) -> Result<(StateRoot, String), JsError> {
    Ok((StateRoot::new(args.string(0, "root")?), args.string(1, "id")?))
}

/// `state(root, id): Promise<State>`
pub fn state(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    Ok(job(move || to_json(container::state(&root, &id)?)))
}

/// `list(root): Promise<State[]>`
pub fn list(args: &Args) -> Result<Job, JsError> {
    let root = StateRoot::new(args.string(0, "root")?);
    Ok(job(move || to_json(container::list(&root)?)))
}

/// `start(root, id): Promise<{warnings}>`
pub fn start(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    Ok(job(move || to_json(json!({ "warnings": container::start(&root, &id)? }))))
}

/// `kill(root, id, signal, all): Promise<null>`
pub fn kill(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    let signal = args.string(2, "signal")?;
    let all = args.json(3, "all")?.as_bool().unwrap_or(false);
    Ok(job(move || {
        container::kill(&root, &id, container::parse_signal(&signal)?, all)?;
        Ok("null".into())
    }))
}

/// `delete(root, id, force): Promise<{warnings}>`
pub fn delete(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    let force = args.json(2, "force")?.as_bool().unwrap_or(false);
    Ok(job(move || to_json(json!({ "warnings": container::delete(&root, &id, force)? }))))
}

/// `pause(root, id): Promise<null>`
pub fn pause(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    Ok(job(move || container::pause(&root, &id).map(|_| "null".into())))
}

/// `update(root, id, resources): Promise<{warnings}>` — runc's `update --resources`: the given
/// linux.resources fields (JSON, runtime-spec names) applied to the running container's cgroup
/// and kept in its state.
pub fn update(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    let value = args.json(2, "resources")?;
    let resources: husk_core::spec::Resources =
        serde_json::from_value(value).map_err(|e| JsError::new("EINVAL_ARGUMENT", format!("argument resources: {e}")))?;
    Ok(job(move || to_json(json!({ "warnings": container::update(&root, &id, &resources)? }))))
}

/// `resume(root, id): Promise<null>`
pub fn resume(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    Ok(job(move || container::resume(&root, &id).map(|_| "null".into())))
}

/// `ps(root, id): Promise<number[]>` — host pids in the container's cgroup.
pub fn ps(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    Ok(job(move || to_json(container::load_cgroup(&root, &id)?.0.pids()?)))
}

/// `stats(root, id): Promise<Stats>` — runc's `events --stats` data.
pub fn stats(args: &Args) -> Result<Job, JsError> {
    let (root, id) = root_id(args)?;
    Ok(job(move || Ok(container::load_cgroup(&root, &id)?.0.stats()?.to_string())))
}
