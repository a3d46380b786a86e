//! cgroup v1 resource files, one function per controller, in runc's order and with its semantics
//! (0 means "leave alone", -1 means "unlimited").

use std::path::Path;

use super::devices::v1_rule_line;
use super::files::{self, parse_u64};
use crate::error::{Error, Result};
use crate::spec::{BlockIo, Cpu, DeviceCgroup, HugepageLimit, Memory, NetPriority, Pids};

pub fn set_cpuset(dir: &Path, cpu: &Cpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus.as_deref().filter(|s| !s.is_empty()) {
        files::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems.as_deref().filter(|s| !s.is_empty()) {
        files::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// A new v1 cpuset has empty cpus and mems and refuses tasks; fill them from the parent. `fresh`:
/// we just made it, so it is known empty (or, with clone_children, already equal to the parent).
pub fn init_cpuset(dir: &Path, fresh: bool) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for name in ["cpuset.cpus", "cpuset.mems"] {
        if fresh || files::read(dir, name)?.trim().is_empty() {
            let inherited = files::read(parent, name)?;
            files::write(dir, name, inherited.trim())?;
        }
    }
    Ok(())
}

/// runc's target is a deny-all list plus the rules in order: reset with "a", then replay them.
pub fn set_devices(dir: &Path, rules: &[DeviceCgroup]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let lines = rules.iter().map(|rule| Ok((rule.allow, v1_rule_line(rule)?))).collect::<Result<Vec<_>>>()?;
    // One open file per list, one write(2) per rule (the kernel takes a rule per write): a dozen
    // rules then cost a dozen writes, not a dozen open/write/close rounds.
    let mut allow_file = None;
    let mut deny_file = None;
    let mut put = |allow: bool, line: &str| -> Result<()> {
        let (slot, name) = if allow { (&mut allow_file, "devices.allow") } else { (&mut deny_file, "devices.deny") };
        let path = dir.join(name);
        if slot.is_none() {
            *slot = Some(std::fs::OpenOptions::new().write(true).truncate(true).open(&path).map_err(|e| files::write_error(&path, line, e))?);
        }
        use std::io::Write;
        slot.as_mut().map(|f| f.write_all(line.as_bytes())).unwrap_or(Ok(())).map_err(|e| files::write_error(&path, line, e))
    };
    // A list that starts by denying type "a" resets the cgroup itself (the kernel ignores access there).
    if lines[0].0 || !lines[0].1.starts_with("a ") {
        put(false, "a")?;
    }
    for (allow, line) in lines {
        put(allow, &line)?;
    }
    Ok(())
}

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

pub fn set_memory(dir: &Path, memory: &Memory) -> Result<()> {
    let limit = memory.limit.unwrap_or(0);
    let mut swap = memory.swap.unwrap_or(0);
    if memory.check_before_update == Some(true) && limit > 0 {
        check_usage(dir, "memory.usage_in_bytes", limit)?;
    }
    // Unlimited memory with swap unspecified means unlimited swap too, where swap accounting exists.
    if limit == -1 && swap == 0 && dir.join(MEMSW_LIMIT).exists() {
        swap = -1;
    }
    // The kernel wants memory <= memory+swap at every step, so the order depends on the direction.
    let swap_first = limit != 0
        && swap != 0
        && (swap == -1
            || files::read(dir, LIMIT).ok().and_then(|v| parse_u64(&v)).is_some_and(|cur| cur < swap as u64));
    if swap_first {
        write_nonzero(dir, MEMSW_LIMIT, swap)?;
        set_memory_limit(dir, limit)?;
    } else {
        set_memory_limit(dir, limit)?;
        write_nonzero(dir, MEMSW_LIMIT, swap)?;
    }
    write_nonzero(dir, "memory.soft_limit_in_bytes", memory.reservation.unwrap_or(0))?;
    if memory.disable_oom_killer == Some(true) {
        files::write(dir, "memory.oom_control", "1")?;
    }
    match memory.swappiness {
        None => {}
        Some(v) if v as i64 == -1 => {}
        Some(v) if v <= 100 => files::write(dir, "memory.swappiness", &v.to_string())?,
        Some(v) => return Err(Error::spec("linux.resources.memory.swappiness", format!("{v} is out of range 0-100"))),
    }
    Ok(())
}

fn set_memory_limit(dir: &Path, limit: i64) -> Result<()> {
    if limit == 0 {
        return Ok(());
    }
    let path = dir.join(LIMIT);
    let value = limit.to_string();
    match files::write_path(&path, &value) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let usage = files::read(dir, "memory.usage_in_bytes").unwrap_or_default();
            let peak = files::read(dir, "memory.max_usage_in_bytes").unwrap_or_default();
            Err(Error::Other(format!(
                "unable to set memory limit to {limit} (current usage: {}, peak usage: {})",
                usage.trim(),
                peak.trim()
            )))
        }
        Err(e) => Err(files::write_error(&path, &value, e)),
        Ok(()) => Ok(()),
    }
}

/// linux.resources.memory.checkBeforeUpdate: refuse a limit below what is already in use.
pub fn check_usage(dir: &Path, usage_file: &str, limit: i64) -> Result<()> {
    if let Some(usage) = files::read_opt(dir, usage_file)?.and_then(|v| parse_u64(&v)) {
        if usage > limit as u64 {
            return Err(Error::Other(format!(
                "memory limit {limit} is below the current usage {usage} ({})",
                dir.join(usage_file).display()
            )));
        }
    }
    Ok(())
}

fn write_nonzero(dir: &Path, name: &str, value: i64) -> Result<()> {
    if value == 0 {
        return Ok(());
    }
    files::write(dir, name, &value.to_string())
}

pub fn set_cpu(dir: &Path, cpu: &Cpu) -> Result<()> {
    if let Some(shares) = cpu.shares.filter(|&s| s != 0) {
        files::write(dir, "cpu.shares", &shares.to_string())?;
        // The kernel clamps silently; runc reports the bound instead.
        let applied = files::read(dir, "cpu.shares")?.trim().parse::<u64>().unwrap_or(shares);
        if shares > applied {
            return Err(Error::Other(format!("the maximum allowed cpu-shares is {applied}")));
        } else if shares < applied {
            return Err(Error::Other(format!("the minimum allowed cpu-shares is {applied}")));
        }
    }
    let quota = cpu.quota.unwrap_or(0);
    let mut pending_period = None;
    if let Some(period) = cpu.period.filter(|&p| p != 0) {
        let value = period.to_string();
        let path = dir.join("cpu.cfs_period_us");
        match files::write_path(&path, &value) {
            Ok(()) => {}
            // A shorter period can exceed the parent's quota until the new quota is in: retry after.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && quota != 0 => pending_period = Some(value),
            Err(e) => return Err(files::write_error(&path, &value, e)),
        }
    }
    if quota != 0 {
        files::write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
        if let Some(period) = pending_period {
            files::write(dir, "cpu.cfs_period_us", &period)?;
        }
    }
    if let Some(burst) = cpu.burst {
        files::write(dir, "cpu.cfs_burst_us", &burst.to_string())?;
    }
    if let Some(idle) = cpu.idle {
        files::write(dir, "cpu.idle", &idle.to_string())?;
    }
    if let Some(period) = cpu.realtime_period.filter(|&p| p != 0) {
        files::write(dir, "cpu.rt_period_us", &period.to_string())?;
    }
    if let Some(runtime) = cpu.realtime_runtime.filter(|&r| r != 0) {
        files::write(dir, "cpu.rt_runtime_us", &runtime.to_string())?;
    }
    Ok(())
}

/// pids.max for runc's PidsLimit: 0 leaves it, a negative number is "max".
pub fn pids_max_value(pids: &Pids) -> Option<String> {
    match pids.limit {
        0 => None,
        l if l < 0 => Some("max".into()),
        l => Some(l.to_string()),
    }
}

pub fn set_pids(dir: &Path, pids: &Pids) -> Result<()> {
    match pids_max_value(pids) {
        Some(value) => files::write(dir, "pids.max", &value),
        None => Ok(()),
    }
}

pub fn set_blkio(dir: &Path, io: &BlockIo) -> Result<()> {
    // CFQ's files if present, else BFQ's (newer kernels).
    let (weight_file, weight_device_file) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(weight) = io.weight.filter(|&w| w != 0) {
        files::write(dir, weight_file, &weight.to_string())?;
    }
    if let Some(weight) = io.leaf_weight.filter(|&w| w != 0) {
        files::write(dir, "blkio.leaf_weight", &weight.to_string())?;
    }
    for wd in &io.weight_device {
        if let Some(weight) = wd.weight.filter(|&w| w != 0) {
            files::write(dir, weight_device_file, &format!("{}:{} {weight}", wd.major, wd.minor))?;
        }
        if let Some(weight) = wd.leaf_weight.filter(|&w| w != 0) {
            files::write(dir, "blkio.leaf_weight_device", &format!("{}:{} {weight}", wd.major, wd.minor))?;
        }
    }
    let throttles = [
        ("blkio.throttle.read_bps_device", &io.throttle_read_bps_device),
        ("blkio.throttle.write_bps_device", &io.throttle_write_bps_device),
        ("blkio.throttle.read_iops_device", &io.throttle_read_iops_device),
        ("blkio.throttle.write_iops_device", &io.throttle_write_iops_device),
    ];
    for (file, devices) in throttles {
        for td in devices {
            files::write(dir, file, &format!("{}:{} {}", td.major, td.minor, td.rate))?;
        }
    }
    Ok(())
}

/// A page size from the spec ("2MB", "1GB") must be a plain file-name component.
pub fn checked_page_size(limit: &HugepageLimit) -> Result<&str> {
    let size = limit.page_size.as_str();
    if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::spec("linux.resources.hugepageLimits.pageSize", format!("invalid page size {size:?}")));
    }
    Ok(size)
}

pub fn set_hugetlb(dir: &Path, limits: &[HugepageLimit]) -> Result<()> {
    for limit in limits {
        let size = checked_page_size(limit)?;
        files::write(dir, &format!("hugetlb.{size}.limit_in_bytes"), &limit.limit.to_string())?;
    }
    Ok(())
}

pub fn set_net_cls(dir: &Path, class_id: u32) -> Result<()> {
    files::write(dir, "net_cls.classid", &class_id.to_string())
}

pub fn set_net_prio(dir: &Path, priorities: &[NetPriority]) -> Result<()> {
    for p in priorities {
        files::write(dir, "net_prio.ifpriomap", &format!("{} {}", p.name, p.priority))?;
    }
    Ok(())
}

/// rdma.max lines ("mlx5_1 hca_handle=3 hca_object=10000"), same on v1 and v2, from the spec's
/// `rdma` map of device -> {hcaHandles, hcaObjects}.
pub fn rdma_lines(rdma: &serde_json::Value) -> Result<Vec<String>> {
    const FIELD: &str = "linux.resources.rdma";
    let devices = rdma.as_object().ok_or_else(|| Error::spec(FIELD, "must be an object"))?;
    let mut lines = Vec::new();
    for (device, limits) in devices {
        if device.is_empty() || device.contains(char::is_whitespace) {
            return Err(Error::spec(FIELD, format!("invalid device name {device:?}")));
        }
        let mut line = device.clone();
        for (key, name) in [("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object")] {
            match limits.get(key) {
                None | Some(serde_json::Value::Null) => {}
                Some(v) => {
                    let n =
                        v.as_u64().ok_or_else(|| Error::spec(format!("{FIELD}.{device}.{key}"), "must be a number"))?;
                    line.push_str(&format!(" {name}={n}"));
                }
            }
        }
        if line.len() > device.len() {
            lines.push(line);
        }
    }
    Ok(lines)
}

pub fn set_rdma(dir: &Path, lines: &[String]) -> Result<()> {
    for line in lines {
        files::write(dir, "rdma.max", line)?;
    }
    Ok(())
}
