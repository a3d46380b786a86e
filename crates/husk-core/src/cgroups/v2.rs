//! cgroup v2 (unified) resource files and controller delegation, with runc's v1-to-v2 conversions.

use std::io;
use std::path::Path;

use super::files;
use super::v1::{check_usage, checked_page_size, pids_max_value};
use crate::error::{Error, Result};
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory, Pids};

/// cpu.shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), as runc and crun 1.8 do.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000), runc's linear mapping.
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// memory.swap.max from the spec's memory+swap total (runc's ConvertMemorySwapToCgroupV2Value):
/// None leaves it alone, -1 is "max".
pub fn swap_max_value(limit: i64, swap: i64) -> Result<Option<String>> {
    const FIELD: &str = "linux.resources.memory.swap";
    // Unlimited memory with swap unspecified means both unlimited, as on v1.
    if limit == -1 && swap == 0 {
        return Ok(Some("max".into()));
    }
    match swap {
        0 => Ok(None),
        -1 => Ok(Some("max".into())),
        _ if limit == 0 || limit == -1 => Err(Error::spec(FIELD, "unable to set swap limit without memory limit")),
        _ if limit < 0 => Err(Error::spec(FIELD, format!("invalid memory value: {limit}"))),
        _ if swap < limit => {
            Err(Error::spec(FIELD, format!("memory+swap limit {swap} should be >= memory limit {limit}")))
        }
        _ => Ok(Some((swap - limit).to_string())),
    }
}

/// runc's numToStr: 0 is unset, -1 is "max".
fn limit_value(value: i64) -> Option<String> {
    match value {
        0 => None,
        -1 => Some("max".into()),
        v => Some(v.to_string()),
    }
}

/// Writes a v2 file; a missing file usually means the controller is not enabled for this cgroup.
pub fn write(dir: &Path, name: &str, value: &str) -> Result<()> {
    let path = dir.join(name);
    files::write_path(&path, value).map_err(|e| {
        let missing = e.kind() == io::ErrorKind::NotFound;
        let err = files::write_error(&path, value, e);
        match (missing, name.split_once('.')) {
            (true, Some((controller, _))) if controller != "cgroup" => Error::Other(format!(
                "{err} (is the {controller} controller enabled in {}/cgroup.subtree_control?)",
                dir.parent().unwrap_or(dir).display()
            )),
            _ => err,
        }
    })
}

pub fn set_cpuset(dir: &Path, cpu: &Cpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus.as_deref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems.as_deref().filter(|s| !s.is_empty()) {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

pub fn set_memory(dir: &Path, memory: &Memory) -> Result<()> {
    let limit = memory.limit.unwrap_or(0);
    let swap = memory.swap.unwrap_or(0);
    let reservation = memory.reservation.unwrap_or(0);
    if limit == 0 && swap == 0 && reservation == 0 {
        return Ok(());
    }
    if memory.check_before_update == Some(true) && limit > 0 {
        check_usage(dir, "memory.current", limit)?;
    }
    // Memory equal to memory+swap converts to 0: no swap at all.
    if let Some(value) = swap_max_value(limit, swap)? {
        let path = dir.join("memory.swap.max");
        match files::write_path(&path, &value) {
            // Without swap accounting, "no swap" and "unlimited swap" both already hold.
            Err(e) if e.kind() == io::ErrorKind::NotFound && (value == "max" || value == "0") => {}
            Err(e) => return Err(files::write_error(&path, &value, e)),
            Ok(()) => {}
        }
    }
    if let Some(value) = limit_value(limit) {
        write(dir, "memory.max", &value)?;
    }
    if let Some(value) = limit_value(reservation) {
        write(dir, "memory.low", &value)?;
    }
    Ok(())
}

pub fn set_cpu(dir: &Path, cpu: &Cpu) -> Result<()> {
    if let Some(weight) = cpu.shares.map(shares_to_weight).filter(|&w| w != 0) {
        write(dir, "cpu.weight", &weight.to_string())?;
    }
    if let Some(idle) = cpu.idle {
        write(dir, "cpu.idle", &idle.to_string())?;
    }
    let quota = cpu.quota.unwrap_or(0);
    let period = cpu.period.unwrap_or(0);
    if quota != 0 || period != 0 {
        let quota = match quota {
            q if q > 0 => q.to_string(),
            q if q < 0 => "max".to_string(),
            // Only the period changes: keep the quota that is there (runc would reset it to max).
            _ => files::read_opt(dir, "cpu.max")?
                .and_then(|v| v.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "max".into()),
        };
        let value = if period != 0 { format!("{quota} {period}") } else { quota };
        write(dir, "cpu.max", &value)?;
    }
    if let Some(burst) = cpu.burst {
        write(dir, "cpu.max.burst", &burst.to_string())?;
    }
    Ok(())
}

pub fn set_pids(dir: &Path, pids: &Pids) -> Result<()> {
    match pids_max_value(pids) {
        Some(value) => write(dir, "pids.max", &value),
        None => Ok(()),
    }
}

pub fn set_io(dir: &Path, io: &BlockIo) -> Result<()> {
    let weight = io.weight.unwrap_or(0);
    // BFQ takes blkio-style weights directly, per device too; else io.weight with runc's conversion.
    let bfq = (weight != 0 || !io.weight_device.is_empty()) && dir.join("io.bfq.weight").exists();
    if weight != 0 {
        match bfq {
            true => write(dir, "io.bfq.weight", &weight.to_string())?,
            false => write(dir, "io.weight", &blkio_weight_to_io_weight(weight).to_string())?,
        }
    }
    for wd in &io.weight_device {
        if let Some(w) = wd.weight.filter(|&w| w != 0) {
            match bfq {
                true => write(dir, "io.bfq.weight", &format!("{}:{} {w}", wd.major, wd.minor))?,
                false => {
                    write(dir, "io.weight", &format!("{}:{} {}", wd.major, wd.minor, blkio_weight_to_io_weight(w)))?
                }
            }
        }
    }
    let throttles = [
        ("rbps", &io.throttle_read_bps_device),
        ("wbps", &io.throttle_write_bps_device),
        ("riops", &io.throttle_read_iops_device),
        ("wiops", &io.throttle_write_iops_device),
    ];
    for (key, devices) in throttles {
        for td in devices {
            // A rate of 0 removes the limit, as it does on v1.
            let rate = if td.rate == 0 { "max".to_string() } else { td.rate.to_string() };
            write(dir, "io.max", &format!("{}:{} {key}={rate}", td.major, td.minor))?;
        }
    }
    Ok(())
}

pub fn set_hugetlb(dir: &Path, limits: &[HugepageLimit]) -> Result<()> {
    for limit in limits {
        let size = checked_page_size(limit)?;
        write(dir, &format!("hugetlb.{size}.max"), &limit.limit.to_string())?;
    }
    Ok(())
}

/// A `unified` key must name a file in the cgroup's own directory.
pub fn check_unified_key(key: &str) -> Result<()> {
    let plain = !key.is_empty() && !key.starts_with('.') && !key.contains(['/', '\0']);
    if !plain {
        return Err(Error::spec(
            format!("linux.resources.unified[{key:?}]"),
            "must be a file name in the cgroup directory",
        ));
    }
    if !key.contains('.') {
        return Err(Error::spec(
            format!("linux.resources.unified[{key:?}]"),
            "must be in the form CONTROLLER.PARAMETER",
        ));
    }
    Ok(())
}

pub fn set_unified(dir: &Path, unified: &std::collections::BTreeMap<String, String>) -> Result<()> {
    for (key, value) in unified {
        check_unified_key(key)?;
        write(dir, key, value)?;
    }
    Ok(())
}

/// Enables in every cgroup from `mount` down to `dir`'s parent the controllers it has but does not
/// yet delegate: all of them (`only` None, pure v2 like runc) or just those named. Best effort, as
/// runc: a cgroup with processes of its own cannot delegate, and a missing controller then
/// surfaces, named, when its limit is written.
pub fn enable_controllers(mount: &Path, dir: &Path, only: Option<&[&str]>) {
    let Ok(rel) = dir.strip_prefix(mount) else { return };
    let mut current = mount.to_path_buf();
    for component in rel.components() {
        enable_available(&current, only);
        current.push(component);
    }
}

fn enable_available(dir: &Path, only: Option<&[&str]>) {
    let (Ok(available), Ok(enabled)) =
        (files::read_path(&dir.join("cgroup.controllers")), files::read_path(&dir.join("cgroup.subtree_control")))
    else {
        return;
    };
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    let missing: Vec<String> = available
        .split_whitespace()
        .filter(|c| !enabled.contains(c) && only.is_none_or(|only| only.contains(c)))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return;
    }
    let path = dir.join("cgroup.subtree_control");
    if files::write_path(&path, &missing.join(" ")).is_err() {
        for one in &missing {
            let _ = files::write_path(&path, one);
        }
    }
}

/// cgroup.events "populated": whether any process is left in the cgroup or below it.
pub fn populated(dir: &Path) -> io::Result<bool> {
    let events = files::read_path(&dir.join("cgroup.events"))?;
    Ok(files::keyed(&events, "populated").unwrap_or(0) != 0)
}

/// SIGKILLs everything in the cgroup tree at once; false if the kernel predates cgroup.kill (5.14).
pub fn kill(dir: &Path) -> io::Result<bool> {
    match files::write_path(&dir.join("cgroup.kill"), "1") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir.exists() => Ok(false),
        Err(e) => Err(e),
    }
}

/// The memory.events counter; runc reads the same for oom_kill.
pub fn memory_event(dir: &Path, key: &str) -> Result<u64> {
    Ok(files::read_opt(dir, "memory.events")?.and_then(|t| files::keyed(&t, key)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_match_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_converted_from_memory_plus_swap() {
        assert_eq!(swap_max_value(0, 0).unwrap(), None);
        assert_eq!(swap_max_value(-1, 0).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max_value(100, -1).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max_value(100, 300).unwrap().as_deref(), Some("200"));
        assert_eq!(swap_max_value(100, 100).unwrap().as_deref(), Some("0"));
        assert!(swap_max_value(0, 100).is_err());
        assert!(swap_max_value(200, 100).is_err());
    }

    #[test]
    fn unified_keys_cannot_traverse() {
        assert!(check_unified_key("memory.high").is_ok());
        for bad in ["", "../memory.max", "a/b.c", ".hidden", "..", "nodot", "x\0.y"] {
            assert!(check_unified_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}
