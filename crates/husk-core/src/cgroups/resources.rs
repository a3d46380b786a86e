//! Applying linux.resources: each controller's settings go to wherever that controller lives (its
//! v1 directory, else the unified one), in runc's order, `unified` last so it can override.

use super::{v1, v2, Cgroup, Hierarchy, Place};
use crate::error::{Error, Result};
use crate::spec::{Cpu, Linux, Resources};

/// linux.resources with the device rules runc really enforces (the spec's, then its defaults).
pub fn resources_for(linux: &Linux) -> Resources {
    let mut resources = linux.resources.clone().unwrap_or_default();
    resources.devices = super::devices::effective_rules(&resources.devices, &linux.devices);
    resources
}

fn cpuset_requested(cpu: &Cpu) -> bool {
    cpu.cpus.as_deref().is_some_and(|s| !s.is_empty()) || cpu.mems.as_deref().is_some_and(|s| !s.is_empty())
}

fn cpu_requested(cpu: &Cpu) -> bool {
    cpu.shares.unwrap_or(0) != 0
        || cpu.quota.unwrap_or(0) != 0
        || cpu.period.unwrap_or(0) != 0
        || cpu.burst.is_some()
        || cpu.idle.is_some()
        || cpu.realtime_period.unwrap_or(0) != 0
        || cpu.realtime_runtime.unwrap_or(0) != 0
}

fn not_mounted(controller: &str) -> Error {
    Error::Other(format!("cannot apply {controller} limits: the {controller} cgroup controller is not mounted"))
}

/// On hybrid, enables in the unified tree just the controllers this request sets there.
fn delegate_on_unified(cg: &Cgroup, r: &Resources) {
    let Some(unified) = cg.unified() else { return };
    let mut wanted: Vec<&str> = Vec::new();
    let mut want = |v1_name: &str, v2_name: &'static str, requested: bool| {
        if requested && matches!(cg.place(v1_name), Place::V2(_)) {
            wanted.push(v2_name);
        }
    };
    let cpu = r.cpu.as_ref();
    want("cpuset", "cpuset", cpu.is_some_and(cpuset_requested));
    want("cpu", "cpu", cpu.is_some_and(cpu_requested));
    want("memory", "memory", r.memory.is_some());
    want("pids", "pids", r.pids.as_ref().is_some_and(|p| p.limit != 0));
    want("blkio", "io", r.block_io.is_some());
    want("hugetlb", "hugetlb", !r.hugepage_limits.is_empty());
    want("rdma", "rdma", r.rdma.is_some());
    wanted.extend(r.unified.keys().filter_map(|k| k.split_once('.')).map(|(controller, _)| controller));
    if !wanted.is_empty() {
        v2::enable_controllers(&unified.mount, &unified.path, Some(&wanted));
    }
}

pub fn apply(cg: &Cgroup, r: &Resources) -> Result<()> {
    let hierarchy = cg.hierarchy();
    if !r.unified.is_empty() && hierarchy == Hierarchy::V1 {
        return Err(Error::spec("linux.resources.unified", "cannot be used on cgroup v1"));
    }
    for key in r.unified.keys() {
        v2::check_unified_key(key)?;
    }
    if cg.has_v1_controllers() {
        delegate_on_unified(cg, r);
    }

    if let Some(cpu) = r.cpu.as_ref().filter(|c| cpuset_requested(c)) {
        match cg.place("cpuset") {
            Place::V1(dir) => v1::set_cpuset(dir, cpu)?,
            Place::V2(dir) => v2::set_cpuset(dir, cpu)?,
            Place::Missing => return Err(not_mounted("cpuset")),
        }
    }
    match cg.place("devices") {
        Place::V1(dir) => v1::set_devices(dir, &r.devices)?,
        // cgroup2 has no devices controller: an eBPF program, attached last (below).
        Place::V2(_) => {}
        Place::Missing if r.devices.is_empty() => {}
        Place::Missing => return Err(not_mounted("devices")),
    }
    if let Some(memory) = &r.memory {
        match cg.place("memory") {
            Place::V1(dir) => v1::set_memory(dir, memory)?,
            Place::V2(dir) => v2::set_memory(dir, memory)?,
            Place::Missing if memory.limit.is_none() && memory.swap.is_none() && memory.reservation.is_none() => {}
            Place::Missing => return Err(not_mounted("memory")),
        }
    }
    if let Some(cpu) = r.cpu.as_ref().filter(|c| cpu_requested(c)) {
        match cg.place("cpu") {
            Place::V1(dir) => v1::set_cpu(dir, cpu)?,
            Place::V2(dir) => v2::set_cpu(dir, cpu)?,
            Place::Missing => return Err(not_mounted("cpu")),
        }
    }
    if let Some(pids) = r.pids.as_ref().filter(|p| p.limit != 0) {
        match cg.place("pids") {
            Place::V1(dir) => v1::set_pids(dir, pids)?,
            Place::V2(dir) => v2::set_pids(dir, pids)?,
            Place::Missing => return Err(not_mounted("pids")),
        }
    }
    if let Some(io) = &r.block_io {
        match cg.place("blkio") {
            Place::V1(dir) => v1::set_blkio(dir, io)?,
            Place::V2(dir) => v2::set_io(dir, io)?,
            Place::Missing => return Err(not_mounted("blkio")),
        }
    }
    if !r.hugepage_limits.is_empty() {
        match cg.place("hugetlb") {
            Place::V1(dir) => v1::set_hugetlb(dir, &r.hugepage_limits)?,
            Place::V2(dir) => v2::set_hugetlb(dir, &r.hugepage_limits)?,
            Place::Missing => return Err(not_mounted("hugetlb")),
        }
    }
    if let Some(network) = &r.network {
        // v2 has no net_cls/net_prio; runc ignores them there, and so on hybrid without the v1 mount.
        if let Some(class_id) = network.class_id.filter(|&c| c != 0) {
            match cg.place("net_cls") {
                Place::V1(dir) => v1::set_net_cls(dir, class_id)?,
                _ if hierarchy == Hierarchy::V1 => return Err(not_mounted("net_cls")),
                _ => {}
            }
        }
        if !network.priorities.is_empty() {
            match cg.place("net_prio") {
                Place::V1(dir) => v1::set_net_prio(dir, &network.priorities)?,
                _ if hierarchy == Hierarchy::V1 => return Err(not_mounted("net_prio")),
                _ => {}
            }
        }
    }
    if let Some(rdma) = &r.rdma {
        let lines = v1::rdma_lines(rdma)?;
        if !lines.is_empty() {
            match cg.place("rdma") {
                Place::V1(dir) => v1::set_rdma(dir, &lines)?,
                Place::V2(dir) => {
                    for line in &lines {
                        v2::write(dir, "rdma.max", line)?;
                    }
                }
                Place::Missing => return Err(not_mounted("rdma")),
            }
        }
    }
    if !r.unified.is_empty() {
        if let Some(dir) = cg.unified_dir() {
            v2::set_unified(dir, &r.unified)?;
        }
    }
    // The device filter replaces the previous one (on hybrid hosts the v1 controller above does
    // it whenever mounted). Last, because loading it needs privileges a rootless create lacks:
    // that create ignores the error, as runc does, and every other limit is in place by then.
    if let (Place::V2(dir), false) = (cg.place("devices"), r.devices.is_empty()) {
        super::devices_bpf::apply(dir, &r.devices)?;
    }
    Ok(())
}
