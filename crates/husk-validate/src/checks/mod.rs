//! One module per area of the config; each checks only what the config specifies.

mod capabilities;
mod cgroup;
mod devices;
mod exec;
mod files;
mod mounts;
mod namespaces;
mod paths;
mod process;
mod root;
mod security;
mod sysctl;

use crate::facts::Facts;
use crate::report::Report;

pub fn run_all(facts: &Facts, report: &mut Report) {
    process::check(facts, report);
    capabilities::check(facts, report);
    namespaces::check(facts, report);
    exec::check(facts, report);
    cgroup::check(facts, report);
    root::check(facts, report);
    mounts::check(facts, report);
    devices::check(facts, report);
    paths::check(facts, report);
    sysctl::check(facts, report);
    security::check(facts, report);
    files::check(facts, report);
}
