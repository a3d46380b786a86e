//! Host-planted facts: marker files that must be visible with exact content (the rootfs is the
//! bundle's, bind sources show through) and paths that must not be (non-recursive binds).

use crate::facts::Facts;
use crate::report::Report;
use std::path::Path;

pub fn check(facts: &Facts, report: &mut Report) {
    for (path, content) in &facts.host.files {
        let got = std::fs::read_to_string(path).map_err(|e| e.to_string());
        report.expect_eq_read(&format!("marker {path} has the host's content"), content.clone(), got);
    }
    for path in &facts.host.absent_files {
        report.expect_eq(&format!("{path} is not visible"), false, Path::new(path).exists());
    }
}
