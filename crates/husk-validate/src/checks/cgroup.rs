//! linux.resources read back from the container's own cgroup as /sys/fs/cgroup shows it (with or
//! without a cgroup namespace runtimes mount the container's cgroup there): memory limit and
//! reservation, pids limit, cpu shares, quota and period. cgroup v1 (a hierarchy per controller
//! under /sys/fs/cgroup) or v2 (cgroup.controllers in /sys/fs/cgroup).

use crate::facts::Facts;
use crate::report::Report;
use serde_json::Value;
use std::path::Path;

const ROOT: &str = "/sys/fs/cgroup";

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(resources) = facts.config.pointer("/linux/resources") else { return };
    let int = |pointer: &str| resources.pointer(pointer).and_then(Value::as_i64);
    let (memory, reservation, pids) = (int("/memory/limit"), int("/memory/reservation"), int("/pids/limit"));
    let (shares, quota, period) = (int("/cpu/shares"), int("/cpu/quota"), int("/cpu/period"));
    if [memory, reservation, pids, shares, quota, period].iter().all(Option::is_none) {
        return;
    }
    let mounted = facts.config.get("mounts").and_then(Value::as_array).into_iter().flatten().any(|m| {
        m.get("destination").and_then(Value::as_str).map(|d| d.trim_end_matches('/')) == Some(ROOT) && m.get("type").and_then(Value::as_str) == Some("cgroup")
    });
    if !mounted {
        report.note("linux.resources set but no cgroup mount at /sys/fs/cgroup; limits not read back");
        return;
    }
    if Path::new(ROOT).join("cgroup.controllers").exists() {
        check_v2(report, memory, reservation, pids, quota, period);
        if shares.is_some() {
            report.note("linux.resources.cpu.shares on cgroup v2 becomes cpu.weight by a runtime-specific formula; not checked");
        }
    } else {
        check_v1(report, memory, reservation, pids, shares, quota, period);
    }
}

fn read(file: &str) -> Result<String, String> {
    let path = Path::new(ROOT).join(file);
    std::fs::read_to_string(&path).map(|s| s.trim().to_string()).map_err(|e| format!("read {}: {e}", path.display()))
}

/// The kernel keeps memory limits in whole pages.
fn page_floor(bytes: i64) -> String {
    // SAFETY: sysconf only reads a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as i64;
    (bytes / page * page).to_string()
}

/// A pids limit of 0 or less means no limit.
fn pids_max(limit: i64) -> String {
    if limit > 0 { limit.to_string() } else { "max".to_string() }
}

fn check_v1(report: &mut Report, memory: Option<i64>, reservation: Option<i64>, pids: Option<i64>, shares: Option<i64>, quota: Option<i64>, period: Option<i64>) {
    let mut expect = |what: &str, file: &str, expected: Option<String>| {
        if let Some(expected) = expected {
            report.expect_eq_read(&format!("linux.resources.{what} ({file})"), expected, read(file));
        }
    };
    expect("memory.limit", "memory/memory.limit_in_bytes", memory.filter(|m| *m > 0).map(page_floor));
    expect("memory.reservation", "memory/memory.soft_limit_in_bytes", reservation.filter(|m| *m > 0).map(page_floor));
    expect("pids.limit", "pids/pids.max", pids.map(pids_max));
    expect("cpu.shares", "cpu/cpu.shares", shares.map(|s| s.to_string()));
    expect("cpu.quota", "cpu/cpu.cfs_quota_us", quota.map(|q| q.to_string()));
    expect("cpu.period", "cpu/cpu.cfs_period_us", period.map(|p| p.to_string()));
}

fn check_v2(report: &mut Report, memory: Option<i64>, reservation: Option<i64>, pids: Option<i64>, quota: Option<i64>, period: Option<i64>) {
    let mut expect = |what: &str, file: &str, expected: Option<String>| {
        if let Some(expected) = expected {
            report.expect_eq_read(&format!("linux.resources.{what} ({file})"), expected, read(file));
        }
    };
    expect("memory.limit", "memory.max", memory.filter(|m| *m > 0).map(page_floor));
    expect("memory.reservation", "memory.low", reservation.filter(|m| *m > 0).map(page_floor));
    expect("pids.limit", "pids.max", pids.map(pids_max));
    if quota.is_some() || period.is_some() {
        let quota = quota.filter(|q| *q > 0).map_or_else(|| "max".to_string(), |q| q.to_string());
        expect("cpu.quota and cpu.period", "cpu.max", Some(format!("{quota} {}", period.unwrap_or(100_000))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_as_the_kernel_reports_them() {
        assert_eq!(pids_max(64), "64");
        assert_eq!(pids_max(-1), "max");
        assert_eq!(page_floor(64 * 1024 * 1024), (64 * 1024 * 1024).to_string());
    }
}
