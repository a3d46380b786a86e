//! husk-validate: runs as a container's process and checks what it observes against the bundle's
//! config.json, printing one TAP line per check. Exit status 0 iff every check passed.
//!
//! The harness bind-mounts a directory read-only at /husk-validate (HUSK_VALIDATE_DIR overrides)
//! holding this binary, a copy of config.json, and host.json: what only the host knows (its
//! namespace inodes, marker files, shared mount sources; see `facts::HostFacts`). Each check
//! runs only when the config specifies what it checks.
//!
//! `husk-validate --exec PROCESS_JSON` is the form for a process started by `exec` in a running
//! container: the process-level checks then use PROCESS_JSON (a path inside the container, the
//! process the runtime was given) instead of config.json's `process`, and the "exec" checks
//! compare its namespaces and cgroup with the init's.

mod checks;
mod facts;
mod mountinfo;
mod report;
mod sys;

use report::Report;

use std::path::PathBuf;

fn main() {
    let mut report = Report::new();
    let loaded = exec_arg(std::env::args_os().skip(1).collect()).and_then(|exec| facts::Facts::load(&facts::validate_dir(), exec.as_deref()));
    match loaded {
        Ok(facts) => checks::run_all(&facts, &mut report),
        Err(err) => report.fail("load the bundle's config.json and host.json", &err),
    }
    std::process::exit(report.finish());
}

/// No arguments (the init), or `--exec PROCESS_JSON`.
fn exec_arg(args: Vec<std::ffi::OsString>) -> Result<Option<PathBuf>, String> {
    match args.as_slice() {
        [] => Ok(None),
        [flag, path] if flag == "--exec" => Ok(Some(PathBuf::from(path))),
        _ => Err(format!("usage: husk-validate [--exec PROCESS_JSON], got {args:?}")),
    }
}
