//! `update`: merge new resource limits into a live container's saved config and apply them to its cgroup.

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::spec::{BlockIo, Cpu, Memory, Network, Resources, ThrottleDevice};
use crate::state::{StateRoot, Status};

/// runc's warning when kernel memory limits are requested: cgroups have deprecated them.
pub const KERNEL_MEMORY_IGNORED: &str = "Kernel memory settings are ignored and will be removed";

/// Merges `request` into the container's `linux.resources`, applies the result to its cgroup and
/// saves it, so later updates and `events` see it. Values that mean "leave alone" (0, "", absent)
/// keep the saved ones; device rules cannot be changed (runc ignores them too). On failure the
/// previous limits are written back and the saved config is unchanged. Returns warnings.
pub fn update(root: &StateRoot, id: &str, request: &Resources) -> Result<Vec<String>> {
    let _lock = root.lock(id)?;
    let (mut st, status) = super::load(root, id)?;
    if status == Status::Stopped {
        return Err(Error::WrongState("container not running".into()));
    }
    let cg = st.cgroup.clone().ok_or_else(|| Error::Other(format!("container {id} has no cgroup to update")))?;
    let mut warnings = Vec::new();
    if request.memory.as_ref().is_some_and(|m| m.kernel.is_some() || m.kernel_tcp.is_some()) {
        warnings.push(KERNEL_MEMORY_IGNORED.to_string());
    }
    let linux = st.config.linux.get_or_insert_with(Default::default);
    let saved = linux.resources.clone().unwrap_or_default();
    let merged = merge_resources(&saved, request);
    if let Err(e) = apply_without_devices(&cg, &merged) {
        return Err(match apply_without_devices(&cg, &saved) {
            Ok(()) => e,
            Err(undo) => Error::Other(format!(
                "{e} (restoring the previous limits failed too: {undo}; the cgroup and state.json may disagree)"
            )),
        });
    }
    linux.resources = Some(merged);
    root.save(&st)?;
    Ok(warnings)
}

/// Device rules are re-applied by deny-all-then-allow, which would briefly cut the running
/// container off its devices; update never changes them.
fn apply_without_devices(cg: &Cgroup, resources: &Resources) -> Result<()> {
    let without_devices = Resources { devices: Vec::new(), ..resources.clone() };
    cg.apply(&without_devices)
}

/// `saved` with every value `request` sets; per-device and per-size lists are upserted by key.
pub fn merge_resources(saved: &Resources, request: &Resources) -> Resources {
    let mut out = saved.clone();
    if let Some(memory) = &request.memory {
        merge_memory(out.memory.get_or_insert_with(Default::default), memory);
    }
    if let Some(cpu) = &request.cpu {
        merge_cpu(out.cpu.get_or_insert_with(Default::default), cpu);
    }
    if let Some(limit) = request.pids.as_ref().map(|p| p.limit).filter(|&l| l != 0) {
        out.pids.get_or_insert_with(Default::default).limit = limit;
    }
    if let Some(io) = &request.block_io {
        merge_block_io(out.block_io.get_or_insert_with(Default::default), io);
    }
    for limit in &request.hugepage_limits {
        match out.hugepage_limits.iter_mut().find(|l| l.page_size == limit.page_size) {
            Some(existing) => existing.limit = limit.limit,
            None => out.hugepage_limits.push(limit.clone()),
        }
    }
    if let Some(network) = &request.network {
        merge_network(out.network.get_or_insert_with(Default::default), network);
    }
    if let Some(rdma) = request.rdma.as_ref().and_then(|r| r.as_object()) {
        let saved_rdma = out.rdma.get_or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(devices) = saved_rdma.as_object_mut() {
            devices.extend(rdma.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    out.unified.extend(request.unified.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

/// A value the cgroup writers treat as "leave alone" (0) does not replace the saved one.
fn set_nonzero<T: Copy + Default + PartialEq>(saved: &mut Option<T>, requested: Option<T>) {
    if let Some(v) = requested.filter(|v| *v != T::default()) {
        *saved = Some(v);
    }
}

fn set_some<T: Clone>(saved: &mut Option<T>, requested: &Option<T>) {
    if requested.is_some() {
        saved.clone_from(requested);
    }
}

fn merge_memory(saved: &mut Memory, request: &Memory) {
    set_nonzero(&mut saved.limit, request.limit);
    set_nonzero(&mut saved.reservation, request.reservation);
    set_nonzero(&mut saved.swap, request.swap);
    // Unlimited memory without a swap value means unlimited swap too (runc's rule); the cgroup
    // writers derive that from an unset swap, and only where swap accounting exists.
    if request.limit == Some(-1) && request.swap.unwrap_or(0) == 0 {
        saved.swap = None;
    }
    set_some(&mut saved.swappiness, &request.swappiness);
    set_some(&mut saved.disable_oom_killer, &request.disable_oom_killer);
    set_some(&mut saved.use_hierarchy, &request.use_hierarchy);
    set_some(&mut saved.check_before_update, &request.check_before_update);
}

fn merge_cpu(saved: &mut Cpu, request: &Cpu) {
    set_nonzero(&mut saved.shares, request.shares);
    set_nonzero(&mut saved.quota, request.quota);
    set_nonzero(&mut saved.period, request.period);
    set_nonzero(&mut saved.realtime_runtime, request.realtime_runtime);
    set_nonzero(&mut saved.realtime_period, request.realtime_period);
    set_some(&mut saved.burst, &request.burst);
    set_some(&mut saved.idle, &request.idle);
    if request.cpus.as_deref().is_some_and(|s| !s.is_empty()) {
        saved.cpus.clone_from(&request.cpus);
    }
    if request.mems.as_deref().is_some_and(|s| !s.is_empty()) {
        saved.mems.clone_from(&request.mems);
    }
}

fn merge_block_io(saved: &mut BlockIo, request: &BlockIo) {
    set_nonzero(&mut saved.weight, request.weight);
    set_nonzero(&mut saved.leaf_weight, request.leaf_weight);
    for wd in &request.weight_device {
        match saved.weight_device.iter_mut().find(|d| (d.major, d.minor) == (wd.major, wd.minor)) {
            Some(existing) => {
                set_nonzero(&mut existing.weight, wd.weight);
                set_nonzero(&mut existing.leaf_weight, wd.leaf_weight);
            }
            None => saved.weight_device.push(wd.clone()),
        }
    }
    upsert_throttles(&mut saved.throttle_read_bps_device, &request.throttle_read_bps_device);
    upsert_throttles(&mut saved.throttle_write_bps_device, &request.throttle_write_bps_device);
    upsert_throttles(&mut saved.throttle_read_iops_device, &request.throttle_read_iops_device);
    upsert_throttles(&mut saved.throttle_write_iops_device, &request.throttle_write_iops_device);
}

/// A rate of 0 lifts a device's limit, so it replaces the saved rate like any other.
fn upsert_throttles(saved: &mut Vec<ThrottleDevice>, request: &[ThrottleDevice]) {
    for td in request {
        match saved.iter_mut().find(|d| (d.major, d.minor) == (td.major, td.minor)) {
            Some(existing) => existing.rate = td.rate,
            None => saved.push(td.clone()),
        }
    }
}

fn merge_network(saved: &mut Network, request: &Network) {
    set_nonzero(&mut saved.class_id, request.class_id);
    for p in &request.priorities {
        match saved.priorities.iter_mut().find(|s| s.name == p.name) {
            Some(existing) => existing.priority = p.priority,
            None => saved.priorities.push(p.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{HugepageLimit, Pids};

    fn resources(json: serde_json::Value) -> Resources {
        serde_json::from_value(json).expect("valid LinuxResources")
    }

    fn merged(saved: serde_json::Value, request: serde_json::Value) -> serde_json::Value {
        serde_json::to_value(merge_resources(&resources(saved), &resources(request))).unwrap()
    }

    #[test]
    fn request_values_replace_saved_ones_and_zeros_keep_them() {
        let out = merged(
            serde_json::json!({"memory": {"limit": 100, "swap": 200}, "cpu": {"shares": 512, "cpus": "0"}, "pids": {"limit": 10}}),
            serde_json::json!({"memory": {"limit": 150, "reservation": 0}, "cpu": {"shares": 0, "quota": 5000, "cpus": ""}, "pids": {"limit": 0}}),
        );
        assert_eq!(out["memory"], serde_json::json!({"limit": 150, "swap": 200}));
        assert_eq!(out["cpu"], serde_json::json!({"shares": 512, "quota": 5000, "cpus": "0"}));
        assert_eq!(out["pids"], serde_json::json!({"limit": 10}));
    }

    #[test]
    fn unlimited_memory_without_swap_unsets_swap() {
        let out = merged(serde_json::json!({"memory": {"limit": 100, "swap": 200}}), serde_json::json!({"memory": {"limit": -1}}));
        assert_eq!(out["memory"], serde_json::json!({"limit": -1}));
        let out = merged(serde_json::json!({"memory": {"limit": 100}}), serde_json::json!({"memory": {"limit": -1, "swap": -1}}));
        assert_eq!(out["memory"], serde_json::json!({"limit": -1, "swap": -1}));
    }

    #[test]
    fn lists_are_upserted_by_key_and_devices_ignored() {
        let saved = Resources {
            hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 1 }],
            pids: Some(Pids { limit: 5 }),
            ..Default::default()
        };
        let request = resources(serde_json::json!({
            "devices": [{"allow": true, "access": "rwm"}],
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4}, {"pageSize": "1GB", "limit": 0}],
            "blockIO": {"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 10}]},
            "unified": {"memory.high": "1000"}
        }));
        let out = serde_json::to_value(merge_resources(&saved, &request)).unwrap();
        assert_eq!(out["hugepageLimits"], serde_json::json!([{"pageSize": "2MB", "limit": 4}, {"pageSize": "1GB", "limit": 0}]));
        assert_eq!(out["blockIO"], serde_json::json!({"weight": 300, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 10}]}));
        assert_eq!(out["unified"], serde_json::json!({"memory.high": "1000"}));
        assert_eq!(out["pids"], serde_json::json!({"limit": 5}));
        assert!(out.get("devices").is_none(), "device rules are not updatable: {out}");
        let again = merge_resources(&resources(out), &resources(serde_json::json!({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}]}})));
        assert_eq!(again.block_io.unwrap().throttle_read_bps_device[0].rate, 0);
    }
}
