//! husk-runtime: a drop-in runc. Same subcommands, flags, exit codes and JSON.
//!
//! `no_main`: every containerd call is a new process, and std's start-up (finding the main
//! thread's stack through /proc/self/maps, an alternate signal stack and SIGSEGV/SIGBUS handlers
//! for stack-overflow reports) is a dozen syscalls per call that the runtime does not need.
//! `main` below keeps the two parts that matter: SIGPIPE ignored and fds 0-2 always open.
// Unit tests keep the test harness's own main.
#![cfg_attr(not(test), no_main)]

mod args;
mod commands;
mod events;
mod log;
mod sealed;
mod update;
mod wait;

use args::{flag, opt, FlagSpec};

const GLOBAL_FLAGS: &[FlagSpec] = &[
    opt(&["root"]),
    opt(&["log"]),
    opt(&["log-format"]),
    flag(&["debug"]),
    flag(&["systemd-cgroup"]),
    opt(&["rootless"]),
    opt(&["criu"]),
    flag(&["version", "v"]),
    flag(&["help", "h"]),
];

const USAGE: &str = "husk-runtime: a runc-compatible OCI container runtime

USAGE:
   husk-runtime [global options] command [command options] [arguments...]

COMMANDS:
   create    create a container
   start     executes the user defined process in a created container
   run       create and run a container
   state     output the state of a container
   kill      kill sends the specified signal (default: SIGTERM) to the container's init process
   delete    delete any resources held by the container often used with detached container
   list      lists containers started by husk-runtime with the given root
   spec      create a new specification file
   exec      execute new process inside the container
   ps        ps displays the processes running inside a container
   pause     pause suspends all processes inside the container
   resume    resumes all processes that have been previously paused
   update    update container resource constraints
   events    display container events such as OOM notifications, cpu, memory, and IO usage statistics
   features  show the enabled features

GLOBAL OPTIONS:
   --root value        root directory for storage of container state (default: \"/run/husk\")
   --log value         set the log file to write husk-runtime logs to (default is stderr)
   --log-format value  set the log format ('text' (default), or 'json')
   --debug             enable debug logging
   --systemd-cgroup    enable systemd cgroup support (not available: no systemd here)
   --rootless value    ignore cgroup permission errors ('true', 'false', or 'auto')
   --version, -v       print the version
   --help, -h          show help
";

pub struct Global {
    pub root: husk_core::state::StateRoot,
    pub log: log::Logger,
    pub rootless: bool,
}

/// /run/husk for root; an unprivileged user's own runtime dir otherwise, as runc does.
fn default_root(unprivileged: bool) -> String {
    if !unprivileged {
        return husk_core::state::DEFAULT_ROOT.to_string();
    }
    match std::env::var("XDG_RUNTIME_DIR") {
        Ok(dir) if !dir.is_empty() => format!("{dir}/husk"),
        // SAFETY: getuid cannot fail.
        _ => format!("/tmp/husk-{}", unsafe { libc::getuid() }),
    }
}

fn split_global(argv: &[String]) -> (Vec<String>, Option<String>, Vec<String>) {
    // Global flags come before the command; a flag that takes a value swallows the next word.
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let name = a.trim_start_matches('-').split('=').next().unwrap_or("");
        let takes = GLOBAL_FLAGS.iter().any(|f| f.takes_value && f.names.contains(&name));
        i += if takes && !a.contains('=') { 2 } else { 1 };
    }
    let i = i.min(argv.len());
    (argv[..i].to_vec(), argv.get(i).cloned(), argv.get(i + 1..).map(|s| s.to_vec()).unwrap_or_default())
}

/// The C entry point; glibc has already run std's argument capture (.init_array).
#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    startup();
    run_main();
    0
}

/// What std's runtime would do that matters here: fds 0-2 exist (a closed one is reopened on
/// /dev/null, so no file we open takes its number) and SIGPIPE is ignored (a closed pipe is an
/// EPIPE error, not death).
#[cfg_attr(test, allow(dead_code))]
fn startup() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: poll over a stack array; open/dup2 of /dev/null; signal(2) with SIG_IGN.
    unsafe {
        if libc::poll(fds.as_mut_ptr(), 3, 0) >= 0 {
            for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 && null != p.fd {
                    libc::dup2(null, p.fd);
                    libc::close(null);
                }
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

#[cfg_attr(test, allow(dead_code))]
fn run_main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (gargs, cmd, rest) = split_global(&argv);
    let g = match args::parse(&gargs, GLOBAL_FLAGS, false) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("husk-runtime: {e}");
            std::process::exit(1);
        }
    };
    if g.is_set("version") {
        // runc's layout: version, commit, spec, then the libraries it is built with.
        let (major, minor, micro) = husk_core::security::seccomp::library_version();
        println!(
            "husk-runtime version {}\ncommit: {}\nspec: {}\nlibseccomp: {major}.{minor}.{micro}",
            husk_core::VERSION,
            env!("HUSK_COMMIT"),
            husk_core::OCI_VERSION
        );
        return;
    }
    let format = match g.get("log-format").unwrap_or("text") {
        "text" => log::Format::Text,
        "json" => log::Format::Json,
        other => {
            eprintln!("husk-runtime: invalid log-format {other:?}: must be text or json");
            std::process::exit(1);
        }
    };
    let mut logger = match log::Logger::new(g.get("log"), format, g.is_set("debug")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("husk-runtime: {e}");
            std::process::exit(1);
        }
    };
    let cmd = match cmd {
        Some(c) if !g.is_set("help") => c,
        _ => {
            print!("{USAGE}");
            return;
        }
    };
    if g.is_set("systemd-cgroup") {
        logger.error("systemd cgroup driver requested, but systemd is not running on this host");
        std::process::exit(1);
    }
    // SAFETY: geteuid cannot fail.
    let unprivileged = unsafe { libc::geteuid() } != 0;
    let rootless = match g.get("rootless") {
        Some("true") => true,
        Some("false") => false,
        _ => unprivileged,
    };
    let mut global = Global {
        root: husk_core::state::StateRoot::new(g.get("root").map(String::from).unwrap_or_else(|| default_root(unprivileged))),
        log: logger,
        rootless,
    };
    global.log.log("debug", &format!("command {cmd} {rest:?}"));
    // The processes we clone must not be reachable through /proc/PID/exe (sealed.rs).
    if matches!(cmd.as_str(), "create" | "run" | "exec") && !global.rootless && !sealed::unprotected() {
        sealed::make_undumpable();
    }
    let seal = match sealed::policy() {
        Some(p) => p && matches!(cmd.as_str(), "create" | "run" | "exec"),
        None => cmd == "exec" && sealed::exec_needs_seal(&global.root, &rest),
    };
    if seal {
        if let Err(e) = sealed::ensure_sealed() {
            global.log.error(&e);
            std::process::exit(1);
        }
    }
    let code = match commands::dispatch(&mut global, &cmd, &rest) {
        Ok(code) => code,
        Err(msg) => {
            global.log.error(&msg);
            1
        }
    };
    std::process::exit(code);
}
