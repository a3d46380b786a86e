//! linux.sysctl: each key reads back its value from /proc/sys.

use crate::facts::Facts;
use crate::report::Report;
use serde_json::Value;

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(sysctl) = facts.config.pointer("/linux/sysctl").and_then(Value::as_object) else { return };
    for (key, value) in sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let want = value.as_str().map(normalize).unwrap_or_default();
        let got = std::fs::read_to_string(&path).map(|s| normalize(&s)).map_err(|e| format!("read {path}: {e}"));
        report.expect_eq_read(&format!("linux.sysctl {key}"), want, got);
    }
}

// The kernel separates multi-value sysctls with tabs; the config may use spaces.
fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}
