//! Each runc subcommand as a small function over husk-core. Errors come back as the message
//! to log; the caller turns them into runc's exit code 1.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use husk_core::container::{self, CreateOptions};
use husk_core::state::{Status, StateRoot};

use crate::args::{self, flag, opt, FlagSpec, Parsed};
use crate::{wait, Global};

type CmdResult = Result<i32, String>;

fn parse(rest: &[String], specs: &[FlagSpec]) -> Result<Parsed, String> {
    args::parse(rest, specs, false)
}

/// The container id, with runc's argument-count rules: most commands take exactly the id, kill
/// the id and a signal, exec and ps the id and then a command or ps(1) options.
pub fn id_arg(p: &Parsed, cmd: &str) -> Result<String, String> {
    let max = match cmd {
        "exec" | "ps" => usize::MAX,
        "kill" => 2,
        _ => 1,
    };
    match p.positionals.first() {
        _ if max == 1 && p.positionals.len() != 1 => Err(format!("\"{cmd}\" requires exactly 1 argument(s)")),
        None => Err(format!("\"{cmd}\" requires a minimum of 1 argument(s)")),
        Some(_) if p.positionals.len() > max => Err(format!("\"{cmd}\" requires a maximum of {max} argument(s)")),
        Some(id) => Ok(id.clone()),
    }
}

fn err(e: husk_core::Error) -> String {
    e.to_string()
}

pub fn dispatch(g: &mut Global, cmd: &str, rest: &[String]) -> CmdResult {
    match cmd {
        "create" => create(g, rest),
        "start" => start(g, rest),
        "run" => run(g, rest),
        "state" => state(g, rest),
        "kill" => kill(g, rest),
        "delete" => delete(g, rest),
        "list" => list(g, rest),
        "spec" => spec(rest),
        "features" => features(rest),
        // runc: "exec failed: …" and status 255 whenever the process could not be started.
        "exec" => exec(g, rest).or_else(|e| {
            g.log.error(&format!("exec failed: {e}"));
            Ok(255)
        }),
        "ps" => ps(g, rest),
        "pause" => pause(g, rest, true),
        "resume" => pause(g, rest, false),
        "update" => crate::update::update(g, rest),
        "events" => crate::events::events(g, rest),
        // runc's CRIU commands: named, so containerd's `ctr checkpoint` gets a clear answer
        // (features says org.opencontainers.runc.checkpoint.enabled=false).
        "checkpoint" | "restore" => Err(format!("{cmd} is not supported by husk-runtime: it has no CRIU support")),
        _ => Err(format!("No help topic for '{cmd}'")),
    }
}

const CREATE_FLAGS: &[FlagSpec] = &[
    opt(&["bundle", "b"]),
    opt(&["console-socket"]),
    opt(&["pid-file"]),
    flag(&["no-pivot"]),
    flag(&["no-new-keyring"]),
    opt(&["preserve-fds"]),
    flag(&["detach", "d"]),
    flag(&["keep"]),
    flag(&["no-subreaper"]),
];

fn create_options(p: &Parsed, cmd: &str, wait_for_start: bool) -> Result<CreateOptions, String> {
    let preserve_fds = match p.get("preserve-fds") {
        Some(v) => v.parse::<i32>().map_err(|_| format!("invalid value {v:?} for flag -preserve-fds"))?,
        None => 0,
    };
    Ok(CreateOptions {
        id: id_arg(p, cmd)?,
        bundle: PathBuf::from(p.get("bundle").unwrap_or(".")),
        pid_file: p.get("pid-file").map(PathBuf::from),
        console_socket: p.get("console-socket").map(PathBuf::from),
        console_fd: None,
        no_pivot: p.is_set("no-pivot"),
        preserve_fds,
        wait_for_start,
        in_process: false,
        stdio: [-1; 3],
        rootless: false,
        no_new_keyring: p.is_set("no-new-keyring"),
        spec: None,
        unprotected: crate::sealed::unprotected(),
    })
}

/// A create/run that joins an existing pid namespace is exposed like exec (sealed.rs).
fn seal_if_joining_pid_ns(spec: Option<&husk_core::spec::Spec>) -> Result<(), String> {
    let joins = spec.and_then(|s| s.linux().namespace("pid")).is_some_and(|n| n.path.is_some());
    if joins && crate::sealed::policy() != Some(false) {
        crate::sealed::ensure_sealed()?;
    }
    Ok(())
}

fn create(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, CREATE_FLAGS)?;
    let mut opts = create_options(&p, "create", true)?;
    opts.rootless = g.rootless;
    opts.spec = husk_core::spec::Spec::load(&opts.bundle).ok();
    seal_if_joining_pid_ns(opts.spec.as_ref())?;
    container::create(&g.root, &opts).map_err(err)?;
    Ok(0)
}

fn start(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, &[])?;
    let id = id_arg(&p, "start")?;
    for w in container::start(&g.root, &id).map_err(err)? {
        g.log.warn(&w);
    }
    Ok(0)
}

fn run(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, CREATE_FLAGS)?;
    let detach = p.is_set("detach");
    let mut opts = create_options(&p, "run", false)?;
    opts.rootless = g.rootless;
    let spec = husk_core::spec::Spec::load(&opts.bundle).ok();
    seal_if_joining_pid_ns(spec.as_ref())?;
    // The vfork start copies nothing and needs no sync round trips; it takes most configs.
    opts.in_process = std::env::var_os("HUSK_NO_VFORK").is_none() && spec.as_ref().is_some_and(container::in_process_supported);
    let sigfd = (!detach).then(wait::block_signals);
    // Foreground with a terminal and no --console-socket: we hold the pty and relay it.
    let relay = !detach && opts.console_socket.is_none() && spec.as_ref().and_then(|s| s.process.as_ref()).is_some_and(|p| p.terminal);
    opts.spec = spec;
    let pair = if relay { Some(wait::console_pair().map_err(err)?) } else { None };
    opts.console_fd = pair.as_ref().map(|(a, _)| a.as_raw_fd());
    let cs = container::create(&g.root, &opts).map_err(err)?;
    for w in container::poststart(&cs) {
        g.log.warn(&w);
    }
    let Some(sigfd) = sigfd else { return Ok(0) };
    let master = match &pair {
        Some((_, b)) => Some(wait::recv_master(b.as_raw_fd()).map_err(err)?),
        None => None,
    };
    drop(pair);
    let code = wait::wait_child(cs.pid, &sigfd, master);
    if !p.is_set("keep") {
        match container::delete_exited(&g.root, &cs) {
            Ok(ws) => ws.iter().for_each(|w| g.log.warn(w)),
            Err(e) => g.log.warn(&format!("delete {}: {e}", opts.id)),
        }
    }
    Ok(code)
}

const EXEC_FLAGS: &[FlagSpec] = &[
    opt(&["console-socket"]),
    opt(&["cwd"]),
    opt(&["env", "e"]),
    flag(&["tty", "t"]),
    opt(&["user", "u"]),
    opt(&["additional-gids", "g"]),
    opt(&["process", "p"]),
    flag(&["detach", "d"]),
    opt(&["pid-file"]),
    opt(&["process-label"]),
    opt(&["apparmor"]),
    flag(&["no-new-privs"]),
    opt(&["cap", "c"]),
    opt(&["preserve-fds"]),
    opt(&["cgroup"]),
    flag(&["ignore-paused"]),
];

/// The exec'd process: `--process FILE`, or the container's own process with the flags applied.
fn exec_process(g: &Global, p: &Parsed, id: &str) -> Result<husk_core::spec::Process, String> {
    if let Some(file) = p.get("process") {
        let data = std::fs::read(file).map_err(|e| format!("read process file {file}: {e}"))?;
        return serde_json::from_slice(&data).map_err(|e| format!("process file {file}: {e}"));
    }
    let (st, _) = container::load(&g.root, id).map_err(err)?;
    let mut proc = st.config.process.clone().unwrap_or_default();
    proc.args = p.positionals[1..].to_vec();
    if proc.args.is_empty() {
        return Err("exec args cannot be empty".into());
    }
    proc.env.extend(p.all("env").iter().cloned());
    proc.terminal = p.is_set("tty");
    proc.console_size = None;
    if let Some(cwd) = p.get("cwd") {
        proc.cwd = cwd.to_string();
    }
    if let Some(u) = p.get("user") {
        // Without ":GID" the process keeps its configured gid, as in runc.
        let (uid, gid) = match u.split_once(':') {
            Some((uid, gid)) => (uid, Some(gid)),
            None => (u, None),
        };
        proc.user.uid = uid.parse().map_err(|_| format!("invalid --user {u:?}: expected UID[:GID]"))?;
        if let Some(gid) = gid {
            proc.user.gid = gid.parse().map_err(|_| format!("invalid --user {u:?}: expected UID[:GID]"))?;
        }
    }
    for g in p.all("additional-gids") {
        proc.user.additional_gids.push(g.parse().map_err(|_| format!("invalid --additional-gids {g:?}"))?);
    }
    if p.is_set("no-new-privs") {
        proc.no_new_privileges = true;
    }
    let caps = p.all("cap");
    if !caps.is_empty() {
        let c = proc.capabilities.get_or_insert_with(Default::default);
        for set in [&mut c.bounding, &mut c.effective, &mut c.permitted] {
            set.get_or_insert_with(Vec::new).extend(caps.iter().cloned());
        }
    }
    Ok(proc)
}

fn exec(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = args::parse(rest, EXEC_FLAGS, true)?;
    let id = id_arg(&p, "exec")?;
    let detach = p.is_set("detach");
    let process = exec_process(g, &p, &id)?;
    let preserve_fds = match p.get("preserve-fds") {
        Some(v) => v.parse::<i32>().map_err(|_| format!("invalid value {v:?} for flag -preserve-fds"))?,
        None => 0,
    };
    let sigfd = (!detach).then(wait::block_signals);
    let console_socket = p.get("console-socket").map(PathBuf::from);
    let relay = !detach && console_socket.is_none() && process.terminal;
    let pair = if relay { Some(wait::console_pair().map_err(err)?) } else { None };
    let opts = container::ExecOptions {
        id,
        process,
        console_socket,
        console_fd: pair.as_ref().map(|(a, _)| a.as_raw_fd()),
        pid_file: p.get("pid-file").map(PathBuf::from),
        preserve_fds,
        unprotected: crate::sealed::unprotected(),
    };
    let pid = container::exec(&g.root, &opts).map_err(err)?;
    let Some(sigfd) = sigfd else { return Ok(0) };
    let master = match &pair {
        Some((_, b)) => Some(wait::recv_master(b.as_raw_fd()).map_err(err)?),
        None => None,
    };
    drop(pair);
    Ok(wait::wait_child(pid, &sigfd, master))
}

fn print_json_pretty(v: &impl serde::Serialize) -> Result<(), String> {
    let s = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    println!("{s}");
    Ok(())
}

fn state(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, &[])?;
    let id = id_arg(&p, "state")?;
    let doc = container::state(&g.root, &id).map_err(err)?;
    print_json_pretty(&doc)?;
    Ok(0)
}

fn kill(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, &[flag(&["all", "a"])])?;
    let id = id_arg(&p, "kill")?;
    let sig = container::parse_signal(p.positionals.get(1).map(|s| s.as_str()).unwrap_or("SIGTERM")).map_err(err)?;
    container::kill(&g.root, &id, sig, p.is_set("all")).map_err(err)?;
    Ok(0)
}

fn delete(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, &[flag(&["force", "f"])])?;
    let id = id_arg(&p, "delete")?;
    let force = p.is_set("force");
    match container::delete(&g.root, &id, force) {
        Ok(ws) => {
            ws.iter().for_each(|w| g.log.warn(w));
            Ok(0)
        }
        // containerd deletes with --force after the container may already be gone.
        Err(husk_core::Error::NotFound(_)) if force => Ok(0),
        Err(e) => Err(err(e)),
    }
}

fn list(g: &mut Global, rest: &[String]) -> CmdResult {
    let p = parse(rest, &[opt(&["format", "f"]), flag(&["quiet", "q"])])?;
    let docs = container::list(&g.root).map_err(err)?;
    if p.is_set("quiet") {
        docs.iter().for_each(|d| println!("{}", d.id));
        return Ok(0);
    }
    match p.get("format").unwrap_or("table") {
        "json" => println!("{}", serde_json::to_string(&docs).map_err(|e| e.to_string())?),
        "table" => {
            let rows: Vec<[String; 6]> = std::iter::once(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from))
                .chain(docs.iter().map(|d| [d.id.clone(), d.pid.to_string(), d.status.clone(), d.bundle.clone(), d.created.clone(), d.owner.clone()]))
                .collect();
            // Go's tabwriter as runc sets it up: cells at least 12 wide, 3 spaces of padding.
            let widths: Vec<usize> = (0..6).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
            for r in &rows {
                let line: Vec<String> = r.iter().enumerate().map(|(c, v)| if c < 5 { format!("{v:<w$}", w = (widths[c] + 3).max(12)) } else { v.clone() }).collect();
                println!("{}", line.join("").trim_end());
            }
        }
        f => return Err(format!("invalid format option {f:?}")),
    }
    Ok(0)
}

fn spec(rest: &[String]) -> CmdResult {
    let p = parse(rest, &[opt(&["bundle", "b"]), flag(&["rootless"])])?;
    let dir = PathBuf::from(p.get("bundle").unwrap_or("."));
    let path = dir.join("config.json");
    if path.exists() {
        return Err("File config.json exists. Remove it first".into());
    }
    let v = husk_core::spec::default_spec(p.is_set("rootless"));
    let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(0)
}

fn features(rest: &[String]) -> CmdResult {
    parse(rest, &[])?;
    print_json_pretty(&husk_core::features::features())?;
    Ok(0)
}

fn live_cgroup(root: &StateRoot, id: &str) -> Result<(husk_core::cgroups::Cgroup, Status), String> {
    container::load_cgroup(root, id).map_err(err)
}

fn ps(g: &mut Global, rest: &[String]) -> CmdResult {
    // Everything after the id is ps(1)'s own options (`ps ID -o pid,comm`), as in runc.
    let p = args::parse(rest, &[opt(&["format", "f"])], true)?;
    let id = id_arg(&p, "ps")?;
    let (cg, status) = live_cgroup(&g.root, &id)?;
    if status == Status::Stopped {
        return Err("container not running".into());
    }
    let pids = cg.pids().map_err(err)?;
    match p.get("format").unwrap_or("table") {
        "json" => println!("{}", serde_json::to_string(&pids).map_err(|e| e.to_string())?),
        "table" => {
            // runc shells out to ps(1) (default `-ef`) and keeps the rows of the container's pids.
            let given = p.positionals.get(1..).unwrap_or(&[]);
            let ps_args: Vec<&str> = if given.is_empty() { vec!["-ef"] } else { given.iter().map(String::as_str).collect() };
            let out = std::process::Command::new("ps").args(&ps_args).output().map_err(|e| format!("exec ps: {e}"))?;
            if !out.status.success() {
                return Err(format!("ps {}: {}", ps_args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or("");
            let pid_col = header.split_whitespace().position(|h| h == "PID").ok_or("couldn't find PID field in ps output")?;
            println!("{header}");
            for l in lines {
                if let Some(pid) = l.split_whitespace().nth(pid_col).and_then(|v| v.parse::<i32>().ok()) {
                    if pids.contains(&pid) {
                        println!("{l}");
                    }
                }
            }
        }
        f => return Err(format!("invalid format option {f:?}")),
    }
    Ok(0)
}

fn pause(g: &mut Global, rest: &[String], freeze: bool) -> CmdResult {
    let p = parse(rest, &[])?;
    let id = id_arg(&p, if freeze { "pause" } else { "resume" })?;
    if freeze { container::pause(&g.root, &id) } else { container::resume(&g.root, &id) }.map_err(err)?;
    Ok(0)
}
