//! root.readonly (statvfs of /) and linux.rootfsPropagation (the propagation of the / mount).

use super::mounts::{check_propagation, Propagation};
use crate::facts::Facts;
use crate::mountinfo;
use crate::report::Report;
use crate::sys;
use serde_json::Value;
use std::path::Path;

pub fn check(facts: &Facts, report: &mut Report) {
    let readonly = facts.config.pointer("/root/readonly").and_then(Value::as_bool).unwrap_or(false);
    report.expect_eq_read("root.readonly (statvfs / ST_RDONLY)", readonly, sys::statvfs_readonly(Path::new("/")));
    if let Some(propagation) = facts.config.pointer("/linux/rootfsPropagation").and_then(Value::as_str) {
        let what = format!("linux.rootfsPropagation {propagation} (mountinfo of /)");
        let Some(expected) = Propagation::parse(propagation) else {
            report.fail(&what, "unknown propagation value");
            return;
        };
        let host_shared = facts.host.shared_sources.iter().any(|s| s == "/");
        let result = mountinfo::read_self().and_then(|mounts| {
            let root = mountinfo::find_last(&mounts, "/").ok_or("no mount at /")?;
            check_propagation(root, expected, host_shared)
        });
        report.check(&what, result);
    }
}
