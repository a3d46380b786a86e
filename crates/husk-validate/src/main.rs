//! husk-validate: runs as a container's process and checks what it observes against the bundle's
//! config.json (bind-mounted read-only at /husk-validate), printing one TAP line per check.
//! Exit status 0 iff every check passed.

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
