//! husk-validate: runs as a container's process and checks what it observes against the bundle's
//! config.json, printing one TAP line per check. Exit status 0 iff every check passed.
//!
//! The harness bind-mounts a directory read-only at /husk-validate (HUSK_VALIDATE_DIR overrides)
//! holding this binary, a copy of config.json, and host.json: what only the host knows (its
//! namespace inodes, marker files, shared mount sources; see `facts::HostFacts`). Each check
//! runs only when the config specifies what it checks.

mod checks;
mod facts;
mod mountinfo;
mod report;
mod sys;

use report::Report;

fn main() {
    let mut report = Report::new();
    match facts::Facts::load(&facts::validate_dir()) {
        Ok(facts) => checks::run_all(&facts, &mut report),
        Err(err) => report.fail("load the bundle's config.json and host.json", &err),
    }
    std::process::exit(report.finish());
}
