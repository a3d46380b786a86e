//! Resource usage in the schema of runc's `events --stats` "data" (runc's types/events.go, 1.1):
//! the same field names, the same omitted zeros, the same v2-to-v1 conversions.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

use super::files::{self, keyed, keyed_all, parse_u64};
use super::{Cgroup, Place};
use crate::error::Result;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub cpuset: CpusetStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    pub intel_rdt: IntelRdtStats,
    /// Filled by whoever can see the container's network namespace; null here, as runc without it.
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct CpusetStats {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct BlkioStats {
    #[serde(rename = "ioServiceBytesRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioQueueRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_queued_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServiceTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioWaitTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioMergedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioTimeRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(rename = "sectorsRecursive", skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct HugetlbStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Always `{}`: husk has no Intel RDT support.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IntelRdtStats {}

/// Gathers every controller's numbers from wherever it lives (v1 directory or unified); files a
/// kernel does not have are skipped, as runc does.
pub fn collect(cg: &Cgroup) -> Result<Stats> {
    let mut s = Stats::default();
    let mut v2_cpu_read = false;
    match cg.place("cpuacct") {
        Place::V1(dir) => cpuacct_v1(dir, &mut s.cpu)?,
        Place::V2(dir) => {
            cpu_v2(dir, &mut s.cpu)?;
            v2_cpu_read = true;
        }
        Place::Missing => {}
    }
    match cg.place("cpu") {
        Place::V1(dir) => throttling_v1(dir, &mut s.cpu.throttling)?,
        Place::V2(dir) if !v2_cpu_read => cpu_v2(dir, &mut s.cpu)?,
        _ => {}
    }
    if let Place::V1(dir) = cg.place("cpuset") {
        cpuset_v1(dir, &mut s.cpuset)?;
    }
    match cg.place("memory") {
        Place::V1(dir) => memory_v1(dir, &mut s.memory)?,
        Place::V2(dir) => memory_v2(dir, &mut s.memory)?,
        Place::Missing => {}
    }
    match cg.place("pids") {
        Place::V1(dir) | Place::V2(dir) => pids(dir, &mut s.pids)?,
        Place::Missing => {}
    }
    match cg.place("blkio") {
        Place::V1(dir) => blkio_v1(dir, &mut s.blkio)?,
        Place::V2(dir) => io_v2(dir, &mut s.blkio)?,
        Place::Missing => {}
    }
    match cg.place("hugetlb") {
        Place::V1(dir) => hugetlb(dir, false, &mut s.hugetlb)?,
        Place::V2(dir) => hugetlb(dir, true, &mut s.hugetlb)?,
        Place::Missing => {}
    }
    Ok(s)
}

fn read_u64(dir: &Path, name: &str) -> Result<u64> {
    Ok(files::read_opt(dir, name)?.and_then(|v| parse_u64(&v)).unwrap_or(0))
}

fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace().filter_map(|n| n.parse().ok()).collect()
}

fn cpuacct_v1(dir: &Path, cpu: &mut CpuStats) -> Result<()> {
    cpu.usage.total = read_u64(dir, "cpuacct.usage")?;
    cpu.usage.percpu = numbers(&files::read_opt(dir, "cpuacct.usage_percpu")?.unwrap_or_default());
    // "cpu user system" then one line per CPU, in nanoseconds.
    if let Some(all) = files::read_opt(dir, "cpuacct.usage_all")? {
        for line in all.lines().skip(1) {
            if let [_, user, system] = numbers(line)[..] {
                cpu.usage.percpu_user.push(user);
                cpu.usage.percpu_kernel.push(system);
            }
        }
    }
    // cpuacct.stat counts clock ticks.
    if let Some(stat) = files::read_opt(dir, "cpuacct.stat")? {
        let tick_ns = 1_000_000_000 / clock_ticks();
        cpu.usage.user = keyed(&stat, "user").unwrap_or(0) * tick_ns;
        cpu.usage.kernel = keyed(&stat, "system").unwrap_or(0) * tick_ns;
    }
    Ok(())
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    }
}

fn throttling_v1(dir: &Path, t: &mut Throttling) -> Result<()> {
    if let Some(stat) = files::read_opt(dir, "cpu.stat")? {
        t.periods = keyed(&stat, "nr_periods").unwrap_or(0);
        t.throttled_periods = keyed(&stat, "nr_throttled").unwrap_or(0);
        t.throttled_time = keyed(&stat, "throttled_time").unwrap_or(0);
    }
    Ok(())
}

/// v2 cpu.stat is in microseconds; runc reports nanoseconds.
fn cpu_v2(dir: &Path, cpu: &mut CpuStats) -> Result<()> {
    let Some(stat) = files::read_opt(dir, "cpu.stat")? else { return Ok(()) };
    for (key, value) in keyed_all(&stat) {
        match key {
            "usage_usec" => cpu.usage.total = value * 1000,
            "user_usec" => cpu.usage.user = value * 1000,
            "system_usec" => cpu.usage.kernel = value * 1000,
            "nr_periods" => cpu.throttling.periods = value,
            "nr_throttled" => cpu.throttling.throttled_periods = value,
            "throttled_usec" => cpu.throttling.throttled_time = value * 1000,
            _ => {}
        }
    }
    Ok(())
}

/// "0-3,8" -> [0, 1, 2, 3, 8].
pub fn parse_cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((lo, hi)) => {
                if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
                    out.extend(lo..=hi);
                }
            }
            None => out.extend(part.parse::<u16>().ok()),
        }
    }
    out
}

fn cpuset_v1(dir: &Path, c: &mut CpusetStats) -> Result<()> {
    c.cpus = parse_cpu_list(&files::read_opt(dir, "cpuset.cpus")?.unwrap_or_default());
    c.mems = parse_cpu_list(&files::read_opt(dir, "cpuset.mems")?.unwrap_or_default());
    c.cpu_exclusive = read_u64(dir, "cpuset.cpu_exclusive")?;
    c.mem_hardwall = read_u64(dir, "cpuset.mem_hardwall")?;
    c.mem_exclusive = read_u64(dir, "cpuset.mem_exclusive")?;
    c.memory_migrate = read_u64(dir, "cpuset.memory_migrate")?;
    c.memory_spread_page = read_u64(dir, "cpuset.memory_spread_page")?;
    c.memory_spread_slab = read_u64(dir, "cpuset.memory_spread_slab")?;
    c.memory_pressure = read_u64(dir, "cpuset.memory_pressure")?;
    c.sched_load_balance = read_u64(dir, "cpuset.sched_load_balance")?;
    c.sched_relax_domain_level =
        files::read_opt(dir, "cpuset.sched_relax_domain_level")?.and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    Ok(())
}

fn memory_raw(dir: &Path, m: &mut MemoryStats) -> Result<()> {
    if let Some(stat) = files::read_opt(dir, "memory.stat")? {
        m.raw = keyed_all(&stat).map(|(k, v)| (k.to_string(), v)).collect();
    }
    Ok(())
}

/// memory.<prefix>usage_in_bytes and friends; absent files (no swap or kmem accounting) read 0.
fn memory_entry_v1(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    Ok(MemoryEntry {
        usage: read_u64(dir, &format!("{prefix}usage_in_bytes"))?,
        max: read_u64(dir, &format!("{prefix}max_usage_in_bytes"))?,
        failcnt: read_u64(dir, &format!("{prefix}failcnt"))?,
        limit: read_u64(dir, &format!("{prefix}limit_in_bytes"))?,
    })
}

fn memory_v1(dir: &Path, m: &mut MemoryStats) -> Result<()> {
    memory_raw(dir, m)?;
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = memory_entry_v1(dir, "memory.")?;
    m.swap = memory_entry_v1(dir, "memory.memsw.")?;
    m.kernel = memory_entry_v1(dir, "memory.kmem.")?;
    m.kernel_tcp = memory_entry_v1(dir, "memory.kmem.tcp.")?;
    Ok(())
}

fn memory_v2(dir: &Path, m: &mut MemoryStats) -> Result<()> {
    memory_raw(dir, m)?;
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    m.usage = MemoryEntry {
        usage: read_u64(dir, "memory.current")?,
        limit: read_u64(dir, "memory.max")?,
        max: read_u64(dir, "memory.peak")?,
        failcnt: 0,
    };
    // v1 reported swap as memory+swap; runc keeps that meaning on v2.
    let swap_limit = read_u64(dir, "memory.swap.max")?;
    m.swap = MemoryEntry {
        usage: read_u64(dir, "memory.swap.current")? + m.usage.usage,
        limit: if swap_limit == u64::MAX { swap_limit } else { swap_limit.saturating_add(m.usage.limit) },
        max: 0,
        failcnt: 0,
    };
    Ok(())
}

/// pids.current and pids.max, identical on v1 and v2; an unlimited max reads 0, as in runc.
fn pids(dir: &Path, p: &mut PidsStats) -> Result<()> {
    p.current = read_u64(dir, "pids.current")?;
    p.limit = match read_u64(dir, "pids.max")? {
        u64::MAX => 0,
        limit => limit,
    };
    Ok(())
}

/// Lines "8:0 Read 4096" (or "8:0 4096"); "Total n" lines are skipped.
pub fn parse_blkio(text: &str) -> Vec<BlkioEntry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split([' ', ':']).filter(|f| !f.is_empty()).collect();
        let (major, minor, op, value) = match fields[..] {
            [major, minor, op, value] => (major, minor, op, value),
            [major, minor, value] => (major, minor, "", value),
            _ => continue,
        };
        if let (Ok(major), Ok(minor), Ok(value)) = (major.parse(), minor.parse(), value.parse()) {
            out.push(BlkioEntry { major, minor, op: op.to_string(), value });
        }
    }
    out
}

fn blkio_v1(dir: &Path, b: &mut BlkioStats) -> Result<()> {
    // runc's order: the first group whose first file has data wins (BFQ debug, BFQ, CFQ, throttle).
    type Field = fn(&mut BlkioStats) -> &mut Vec<BlkioEntry>;
    let serviced: Field = |b| &mut b.io_serviced_recursive;
    let bytes: Field = |b| &mut b.io_service_bytes_recursive;
    let debug: [(&str, Field); 8] = [
        ("sectors_recursive", |b| &mut b.sectors_recursive),
        ("io_service_time_recursive", |b| &mut b.io_service_time_recursive),
        ("io_wait_time_recursive", |b| &mut b.io_wait_time_recursive),
        ("io_merged_recursive", |b| &mut b.io_merged_recursive),
        ("io_queued_recursive", |b| &mut b.io_queued_recursive),
        ("time_recursive", |b| &mut b.io_time_recursive),
        ("io_serviced_recursive", serviced),
        ("io_service_bytes_recursive", bytes),
    ];
    let groups: [(&str, &[(&str, Field)]); 5] = [
        ("blkio.bfq.", &debug),
        ("blkio.bfq.", &[("io_serviced_recursive", serviced), ("io_service_bytes_recursive", bytes)]),
        ("blkio.", &debug),
        ("blkio.throttle.", &[("io_serviced_recursive", serviced), ("io_service_bytes_recursive", bytes)]),
        ("blkio.throttle.", &[("io_serviced", serviced), ("io_service_bytes", bytes)]),
    ];
    for (prefix, group) in groups {
        let first = parse_blkio(&files::read_opt(dir, &format!("{prefix}{}", group[0].0))?.unwrap_or_default());
        if first.is_empty() {
            continue;
        }
        *(group[0].1)(b) = first;
        for (name, field) in &group[1..] {
            *field(b) = parse_blkio(&files::read_opt(dir, &format!("{prefix}{name}"))?.unwrap_or_default());
        }
        return Ok(());
    }
    Ok(())
}

/// io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." into v1's byte and op tables.
pub fn parse_io_stat(text: &str, b: &mut BlkioStats) {
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some((major, minor)) = parts.next().and_then(|d| d.split_once(':')) else { continue };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else { continue };
        for item in parts {
            let Some((key, value)) = item.split_once('=') else { continue };
            let Ok(value) = value.parse::<u64>() else { continue };
            let (table, op) = match key {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            table.push(BlkioEntry { major, minor, op: op.to_string(), value });
        }
    }
}

fn io_v2(dir: &Path, b: &mut BlkioStats) -> Result<()> {
    if let Some(stat) = files::read_opt(dir, "io.stat")? {
        parse_io_stat(&stat, b);
    }
    Ok(())
}

/// Huge page sizes as the cgroup files name them ("2MB", "1GB"), from /sys/kernel/mm/hugepages.
pub fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else { return Vec::new() };
    let mut sizes: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("hugepages-")?.strip_suffix("kB")?.parse().ok())
        .map(page_size_name)
        .collect();
    sizes.sort();
    sizes
}

/// runc's units.CustomSize("%g%s", bytes, 1024, B/KB/MB/GB/TB/PB).
pub fn page_size_name(kib: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut value = kib as f64 * 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value}{}", UNITS[unit])
}

fn hugetlb(dir: &Path, v2: bool, out: &mut BTreeMap<String, HugetlbStats>) -> Result<()> {
    for size in hugepage_sizes() {
        let prefix = format!("hugetlb.{size}.");
        let entry = if v2 {
            HugetlbStats {
                usage: read_u64(dir, &format!("{prefix}current"))?,
                max: 0,
                failcnt: files::read_opt(dir, &format!("{prefix}events"))?.and_then(|t| keyed(&t, "max")).unwrap_or(0),
            }
        } else {
            HugetlbStats {
                usage: read_u64(dir, &format!("{prefix}usage_in_bytes"))?,
                max: read_u64(dir, &format!("{prefix}max_usage_in_bytes"))?,
                failcnt: read_u64(dir, &format!("{prefix}failcnt"))?,
            }
        };
        out.insert(size, entry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lists_and_page_sizes() {
        assert_eq!(parse_cpu_list("0-3,8\n"), vec![0, 1, 2, 3, 8]);
        assert_eq!(parse_cpu_list(""), Vec::<u16>::new());
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1_048_576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }

    #[test]
    fn parses_blkio_and_io_stat() {
        let v1 = parse_blkio("8:0 Read 4096\n8:0 Write 0\n8:16 512\nTotal 4096\n");
        assert_eq!(v1[0], BlkioEntry { major: 8, minor: 0, op: "Read".into(), value: 4096 });
        assert_eq!(v1[2], BlkioEntry { major: 8, minor: 16, op: String::new(), value: 512 });
        assert_eq!(v1.len(), 3);
        let mut b = BlkioStats::default();
        parse_io_stat("254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n", &mut b);
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_serviced_recursive[1].op, "Write");
    }

    #[test]
    fn empty_stats_serialize_like_runc() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(v["cpu"], serde_json::json!({"usage": {"kernel": 0, "user": 0}, "throttling": {}}));
        assert_eq!(v["memory"]["kernelTCP"], serde_json::json!({"limit": 0, "failcnt": 0}));
        assert_eq!(v["pids"], serde_json::json!({}));
        assert_eq!(v["blkio"], serde_json::json!({}));
        assert_eq!(v["hugetlb"], serde_json::json!({}));
        assert_eq!(v["intel_rdt"], serde_json::json!({}));
        assert!(v["network_interfaces"].is_null());
        assert_eq!(v["cpuset"]["sched_relax_domain_level"], 0);
    }
}
