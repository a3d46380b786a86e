//! Tests against this host's real cgroup tree (they run as root) and against fake cgroup trees in
//! a temp directory for the file mappings. Every real cgroup is named husk-test-cg-<pid>-<n> and
//! destroyed even when an assertion fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::spec::{BlockIo, Cpu, HugepageLimit, Memory, Network, Pids, ThrottleDevice};

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("husk-test-cg-{}-{}-{tag}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("read {}/{name}: {e}", dir.display()))
        .trim()
        .to_string()
}

/// Destroys the cgroup and reaps the child whatever happens in the test body.
struct Cleanup {
    cg: Cgroup,
    child: Option<Child>,
}

impl Cleanup {
    fn new(cg: Cgroup) -> Self {
        Cleanup { cg, child: None }
    }

    fn spawn_sleeper(&mut self) -> i32 {
        let child = Command::new("sleep").arg("60").spawn().expect("spawn sleep");
        let pid = child.id() as i32;
        self.child = Some(child);
        pid
    }

    /// Destroys for real (the test asserts it worked) and reaps the child.
    fn destroy(&mut self) -> Result<()> {
        let result = self.cg.destroy();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        result
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.destroy();
    }
}

/// Serialises the tests that may delegate controllers at the unified root, and on drop takes back
/// what they delegated, so a controller stays free to be mounted as v1 by others.
struct UnifiedRootRestore {
    _lock: std::sync::MutexGuard<'static, ()>,
    file: Option<PathBuf>,
    before: Vec<String>,
}

impl UnifiedRootRestore {
    fn new() -> Self {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let file = mountinfo::mounts().unified.as_ref().map(|m| m.mountpoint.join("cgroup.subtree_control"));
        let before = file.as_ref().map(|f| words(f)).unwrap_or_default();
        UnifiedRootRestore { _lock: lock, file, before }
    }
}

fn words(file: &Path) -> Vec<String> {
    fs::read_to_string(file).unwrap_or_default().split_whitespace().map(str::to_string).collect()
}

impl Drop for UnifiedRootRestore {
    fn drop(&mut self) {
        let Some(file) = &self.file else { return };
        for added in words(file).iter().filter(|c| !self.before.contains(c)) {
            let _ = fs::write(file, format!("-{added}"));
        }
    }
}

fn real_host_has(hierarchy: &[Hierarchy]) -> bool {
    let found = detect();
    if !hierarchy.contains(&found) {
        eprintln!("skipped: host cgroup layout is {found:?}");
        return false;
    }
    true
}

fn hugetlb_2mb_available() -> bool {
    Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists()
}

/// hugetlb can be set for `cg` when it has a v1 hugetlb dir, or cgroup2 offers the controller: a
/// v1 hugetlb hierarchy that was unmounted but still lives holds it away from both.
fn hugetlb_usable(cg: &Cgroup) -> bool {
    hugetlb_2mb_available()
        && (cg.v1_dirs().contains_key("hugetlb")
            || cg.unified().is_some_and(|u| {
                std::fs::read_to_string(u.mount.join("cgroup.controllers")).is_ok_and(|c| c.split_whitespace().any(|x| x == "hugetlb"))
            }))
}

#[test]
fn lifecycle_on_the_real_v1_or_hybrid_tree() {
    if !real_host_has(&[Hierarchy::V1, Hierarchy::Hybrid]) {
        return;
    }
    let _restore = UnifiedRootRestore::new();
    let name = unique("life");
    let cg = Cgroup::resolve(Some(&format!("/{name}")), "ignored").unwrap();
    let mut guard = Cleanup::new(cg.clone());
    cg.create().unwrap();
    let memory = cg.v1_dirs()["memory"].path.clone();
    assert_eq!(memory, cg.v1_dirs()["memory"].mount.join(&name));
    assert!(memory.is_dir());

    let pid = guard.spawn_sleeper();
    cg.add_pid(pid).unwrap();
    for dir in cg.paths().values() {
        assert!(read(dir, "cgroup.procs").lines().any(|l| l == pid.to_string()), "{pid} not in {}", dir.display());
    }

    let mut linux = crate::spec::Linux::default();
    let mut resources = Resources {
        memory: Some(Memory { limit: Some(64 << 20), reservation: Some(32 << 20), ..Default::default() }),
        pids: Some(Pids { limit: 32 }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        devices: vec![crate::spec::DeviceCgroup { allow: false, access: Some("rwm".into()), ..Default::default() }],
        ..Default::default()
    };
    let hugetlb_on_unified = cg.hierarchy() == Hierarchy::Hybrid && !cg.v1_dirs().contains_key("hugetlb");
    let hugetlb = hugetlb_usable(&cg);
    if hugetlb {
        resources.hugepage_limits = vec![HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }];
    }
    linux.resources = Some(resources);
    cg.apply(&resources_for(&linux)).unwrap();

    let dirs = cg.v1_dirs();
    assert_eq!(read(&memory, "memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
    assert_eq!(read(&dirs["pids"].path, "pids.max"), "32");
    assert_eq!(read(&dirs["cpu"].path, "cpu.shares"), "512");
    assert_eq!(read(&dirs["cpu"].path, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&dirs["cpu"].path, "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&dirs["cpuset"].path, "cpuset.cpus"), "0");
    assert_eq!(read(&dirs["cpuset"].path, "cpuset.mems"), "0");
    // Exactly runc's list for its default spec.
    let devices = read(&dirs["devices"].path, "devices.list");
    let expected = "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm";
    let mut got: Vec<&str> = devices.lines().collect();
    let mut want: Vec<&str> = expected.lines().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    if hugetlb {
        match dirs.get("hugetlb") {
            Some(h) => assert_eq!(read(&h.path, "hugetlb.2MB.limit_in_bytes"), (4u64 << 20).to_string()),
            None if hugetlb_on_unified => {
                assert_eq!(read(cg.unified_dir().unwrap(), "hugetlb.2MB.max"), (4u64 << 20).to_string())
            }
            None => {}
        }
    }

    assert_eq!(cg.pids().unwrap(), vec![pid]);
    let stats = cg.stats().unwrap();
    assert_eq!(stats["memory"]["usage"]["limit"], 64u64 << 20);
    assert!(stats["memory"]["raw"].as_object().is_some_and(|raw| raw.contains_key("rss")));
    assert_eq!(stats["pids"]["current"], 1);
    assert_eq!(stats["pids"]["limit"], 32);
    // The sleeper exec'd before it joined, so its counters may still read 0; the shape is runc's.
    assert!(stats["cpu"]["usage"]["percpu"].as_array().is_some_and(|a| !a.is_empty()), "{stats}");
    assert!(stats["cpu"]["usage"]["kernel"].is_u64());
    assert_eq!(stats["cpuset"]["cpus"], serde_json::json!([0]));
    if hugetlb {
        assert!(stats["hugetlb"]["2MB"].is_object(), "{stats}");
    }
    assert_eq!(cg.oom_kill_count().unwrap(), 0);

    assert!(!cg.is_frozen().unwrap());
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    // A paused container can still be destroyed: frozen tasks are thawed so SIGKILL lands.
    cg.freeze().unwrap();
    guard.destroy().unwrap();
    for dir in cg.paths().values() {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    // Idempotent: a second destroy of what is gone succeeds.
    cg.destroy().unwrap();
}

#[test]
fn default_path_is_the_id_under_own_cgroup_and_parents_made_are_removed() {
    if !real_host_has(&[Hierarchy::V1, Hierarchy::Hybrid, Hierarchy::V2]) {
        return;
    }
    let id = unique("id");
    let cg = Cgroup::resolve(None, &id).unwrap();
    let mut guard = Cleanup::new(cg.clone());
    let own = mountinfo::own_cgroups().unwrap();
    if let (Some(memory), Some(own_memory)) = (cg.v1_dirs().get("memory"), own.v1.get("memory")) {
        let expected = memory.mount.join(own_memory.trim_start_matches('/')).join(&id);
        assert_eq!(memory.path, expected);
    }
    cg.create().unwrap();
    guard.destroy().unwrap();
    assert!(cg.paths().values().all(|d| !d.exists()));

    let parent = unique("parent");
    let cg = Cgroup::resolve(Some(&format!("/{parent}/child")), "x").unwrap();
    let mut guard = Cleanup::new(cg.clone());
    cg.create().unwrap();
    let parents: Vec<PathBuf> = cg.paths().values().map(|d| d.parent().unwrap().to_path_buf()).collect();
    assert!(parents.iter().all(|p| p.is_dir()));
    // What the state file keeps still knows which parents to take back.
    let restored: Cgroup = serde_json::from_value(serde_json::to_value(&cg).unwrap()).unwrap();
    assert_eq!(restored.paths(), cg.paths());
    restored.destroy().unwrap();
    assert!(parents.iter().all(|p| !p.exists()), "parents left: {parents:?}");
    guard.destroy().unwrap();
}

#[test]
fn nested_cgroups_and_their_processes_are_removed_by_destroy() {
    if !real_host_has(&[Hierarchy::V1, Hierarchy::Hybrid]) {
        return;
    }
    let name = unique("nested");
    let cg = Cgroup::resolve(Some(&format!("/{name}")), "x").unwrap();
    let mut guard = Cleanup::new(cg.clone());
    cg.create().unwrap();
    let pids_dir = cg.v1_dirs()["pids"].path.clone();
    fs::create_dir(pids_dir.join("inner")).unwrap();
    let pid = guard.spawn_sleeper();
    cg.add_pid(pid).unwrap();
    fs::write(pids_dir.join("inner/cgroup.procs"), pid.to_string()).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    guard.destroy().unwrap();
    assert!(!pids_dir.exists());
}

/// The v2 code path against the real cgroup2 mount (on a hybrid host only core files and
/// hugetlb exist there).
fn real_unified_mount() -> Option<PathBuf> {
    let mount = mountinfo::mounts().unified.as_ref()?.mountpoint.clone();
    if detect() == Hierarchy::V2 {
        // A pure v2 host is exercised by the other tests; keep this one to the hybrid mount.
        return None;
    }
    Some(mount)
}

#[test]
fn v2_code_path_on_the_real_unified_mount() {
    let Some(mount) = real_unified_mount() else {
        eprintln!("skipped: no separate cgroup2 mount");
        return;
    };
    let _restore = UnifiedRootRestore::new();
    let path = mount.join(unique("v2"));
    let cg = Cgroup::from_dirs(BTreeMap::new(), Some(CgroupDir { mount: mount.clone(), path: path.clone() }));
    assert_eq!(cg.hierarchy(), Hierarchy::V2);
    let mut guard = Cleanup::new(cg.clone());
    cg.create().unwrap();
    assert!(path.is_dir());
    let pid = guard.spawn_sleeper();
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid]);

    let mut resources = Resources::default();
    resources.unified.insert("cgroup.max.descendants".into(), "7".into());
    // Device rules on v2 are an eBPF program attached to the cgroup (devices_bpf_tests.rs tests
    // what it enforces).
    resources.devices =
        vec![crate::spec::DeviceCgroup { allow: false, access: Some("rwm".into()), ..Default::default() }];
    let available = read(&mount, "cgroup.controllers");
    if available.split_whitespace().any(|c| c == "hugetlb") && hugetlb_2mb_available() {
        assert!(read(&mount, "cgroup.subtree_control").split_whitespace().any(|c| c == "hugetlb"));
        resources.hugepage_limits = vec![HugepageLimit { page_size: "2MB".into(), limit: 2 << 20 }];
    }
    cg.apply(&resources).unwrap();
    assert_eq!(read(&path, "cgroup.max.descendants"), "7");
    let filters = devices_bpf::attached(&path).unwrap();
    assert_eq!(filters.iter().filter(|p| p.name == devices_bpf::PROG_NAME).count(), 1, "{filters:?}");
    // Applied again (as `update` would with device rules): replaced, not stacked; none: untouched.
    cg.apply(&resources).unwrap();
    cg.apply(&Resources::default()).unwrap();
    let again = devices_bpf::attached(&path).unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(again[0].id, filters[0].id);
    if !resources.hugepage_limits.is_empty() {
        assert_eq!(read(&path, "hugetlb.2MB.max"), (2u64 << 20).to_string());
        let stats = cg.stats().unwrap();
        assert_eq!(stats["hugetlb"]["2MB"]["failcnt"], 0, "{stats}");
    }
    // A controller that is not there is named in the error.
    let missing = Resources { pids: Some(Pids { limit: 5 }), ..Default::default() };
    if !available.split_whitespace().any(|c| c == "pids") {
        let err = cg.apply(&missing).unwrap_err().to_string();
        assert!(err.contains("pids.max") && err.contains("\"5\""), "{err}");
    }

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert!(read(&path, "cgroup.events").lines().any(|l| l == "frozen 1"));
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    // destroy kills through cgroup.kill and waits for the cgroup to empty.
    guard.destroy().unwrap();
    assert!(!path.exists());
}

/// A fake hierarchy: regular files stand in for cgroupfs ones, so writes can be read back.
struct FakeTree {
    root: PathBuf,
}

impl FakeTree {
    fn new(tag: &str, files: &[(&str, &str)]) -> Self {
        let root = std::env::temp_dir().join(unique(tag));
        for (name, content) in files {
            let path = root.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        FakeTree { root }
    }

    fn dir(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

impl Drop for FakeTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

const V2_LEAF_FILES: &[&str] = &[
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "memory.high",
    "cpu.weight",
    "cpu.max",
    "cpu.max.burst",
    "cpu.idle",
    "pids.max",
    "io.weight",
    "io.max",
    "hugetlb.2MB.max",
    "cpuset.cpus",
    "cpuset.mems",
    "rdma.max",
];

#[test]
fn v2_resources_go_to_the_right_files() {
    let mut files: Vec<(String, &str)> = vec![
        ("cgroup.controllers".into(), "cpuset cpu io memory hugetlb pids\n"),
        ("cgroup.subtree_control".into(), ""),
    ];
    files.extend(V2_LEAF_FILES.iter().map(|f| (format!("c1/{f}"), "")));
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let tree = FakeTree::new("fake-v2", &refs);
    let leaf = tree.dir("c1");
    let cg = Cgroup::from_dirs(BTreeMap::new(), Some(CgroupDir { mount: tree.root.clone(), path: leaf.clone() }));
    cg.create().unwrap();
    assert_eq!(read(&tree.root, "cgroup.subtree_control"), "+cpuset +cpu +io +memory +hugetlb +pids");

    let mut resources = Resources {
        memory: Some(Memory {
            limit: Some(100 << 20),
            reservation: Some(50 << 20),
            swap: Some(300 << 20),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            period: Some(100_000),
            burst: Some(1000),
            idle: Some(0),
            cpus: Some("0-1".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        pids: Some(Pids { limit: -1 }),
        block_io: Some(BlockIo {
            weight: Some(500),
            throttle_read_bps_device: vec![ThrottleDevice { major: 8, minor: 0, rate: 1000 }],
            ..Default::default()
        }),
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 4 << 20 }],
        network: Some(Network { class_id: Some(7), priorities: vec![] }),
        ..Default::default()
    };
    resources.unified.insert("memory.high".into(), "200M".into());
    resources.rdma = Some(serde_json::json!({"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}));
    cg.apply(&resources).unwrap();
    let expect = [
        ("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000".to_string()),
        ("memory.max", (100u64 << 20).to_string()),
        ("memory.low", (50u64 << 20).to_string()),
        ("memory.swap.max", (200u64 << 20).to_string()),
        ("memory.high", "200M".into()),
        ("cpu.weight", "39".into()),
        ("cpu.max", "50000 100000".into()),
        ("cpu.max.burst", "1000".into()),
        ("cpu.idle", "0".into()),
        ("pids.max", "max".into()),
        ("io.weight", "4950".into()),
        ("io.max", "8:0 rbps=1000".into()),
        ("hugetlb.2MB.max", (4u64 << 20).to_string()),
        ("cpuset.cpus", "0-1".into()),
        ("cpuset.mems", "0".into()),
    ];
    for (file, value) in expect {
        assert_eq!(read(&leaf, file), value, "{file}");
    }

    // A `unified` key that tries to leave the directory is refused before anything is written.
    let mut bad = Resources { pids: Some(Pids { limit: 3 }), ..Default::default() };
    bad.unified.insert("../cgroup.subtree_control".into(), "x".into());
    assert!(cg.apply(&bad).is_err());
    assert_eq!(read(&leaf, "pids.max"), "max");
}

#[test]
fn v2_period_alone_keeps_the_quota_and_swap_equal_to_memory_disables_swap() {
    let files: Vec<(String, &str)> = V2_LEAF_FILES.iter().map(|f| (format!("c1/{f}"), "")).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    let tree = FakeTree::new("fake-v2b", &refs);
    let leaf = tree.dir("c1");
    fs::write(leaf.join("cpu.max"), "20000 100000\n").unwrap();
    let cg = Cgroup::from_dirs(BTreeMap::new(), Some(CgroupDir { mount: tree.root.clone(), path: leaf.clone() }));
    let resources = Resources {
        cpu: Some(Cpu { period: Some(50_000), ..Default::default() }),
        memory: Some(Memory { limit: Some(1 << 20), swap: Some(1 << 20), ..Default::default() }),
        ..Default::default()
    };
    cg.apply(&resources).unwrap();
    assert_eq!(read(&leaf, "cpu.max"), "20000 50000");
    assert_eq!(read(&leaf, "memory.swap.max"), "0");
}

#[test]
fn v1_resources_go_to_the_right_files() {
    let controllers = ["memory", "cpu", "cpuset", "pids", "blkio", "hugetlb", "net_cls", "net_prio"];
    let leaf_files = [
        "memory/c1/memory.limit_in_bytes",
        "memory/c1/memory.memsw.limit_in_bytes",
        "memory/c1/memory.soft_limit_in_bytes",
        "memory/c1/memory.swappiness",
        "memory/c1/memory.oom_control",
        "cpu/c1/cpu.shares",
        "cpu/c1/cpu.cfs_quota_us",
        "cpu/c1/cpu.cfs_period_us",
        "cpu/c1/cpu.rt_runtime_us",
        "cpuset/c1/cpuset.cpus",
        "cpuset/c1/cpuset.mems",
        "pids/c1/pids.max",
        "blkio/c1/blkio.weight",
        "blkio/c1/blkio.throttle.write_iops_device",
        "hugetlb/c1/hugetlb.2MB.limit_in_bytes",
        "net_cls/c1/net_cls.classid",
        "net_prio/c1/net_prio.ifpriomap",
    ];
    let files: Vec<(&str, &str)> = leaf_files.iter().map(|f| (*f, "")).collect();
    let tree = FakeTree::new("fake-v1", &files);
    let v1: BTreeMap<String, CgroupDir> = controllers
        .iter()
        .map(|c| (c.to_string(), CgroupDir { mount: tree.dir(c), path: tree.dir(&format!("{c}/c1")) }))
        .collect();
    let cg = Cgroup::from_dirs(v1, None);
    assert_eq!(cg.hierarchy(), Hierarchy::V1);
    let mut resources = Resources {
        memory: Some(Memory {
            limit: Some(100 << 20),
            swap: Some(300 << 20),
            reservation: Some(50 << 20),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(2048),
            quota: Some(25_000),
            period: Some(50_000),
            realtime_runtime: Some(950),
            cpus: Some("1".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 99 }),
        block_io: Some(BlockIo {
            weight: Some(300),
            throttle_write_iops_device: vec![ThrottleDevice { major: 254, minor: 0, rate: 77 }],
            ..Default::default()
        }),
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 2 << 20 }],
        network: Some(Network {
            class_id: Some(0x10001),
            priorities: vec![crate::spec::NetPriority { name: "eth0".into(), priority: 5 }],
        }),
        ..Default::default()
    };
    cg.apply(&resources).unwrap();
    let expect = [
        ("memory/c1/memory.limit_in_bytes", (100u64 << 20).to_string()),
        ("memory/c1/memory.memsw.limit_in_bytes", (300u64 << 20).to_string()),
        ("memory/c1/memory.soft_limit_in_bytes", (50u64 << 20).to_string()),
        ("memory/c1/memory.swappiness", "10".into()),
        ("memory/c1/memory.oom_control", "1".into()),
        ("cpu/c1/cpu.shares", "2048".into()),
        ("cpu/c1/cpu.cfs_quota_us", "25000".into()),
        ("cpu/c1/cpu.cfs_period_us", "50000".into()),
        ("cpu/c1/cpu.rt_runtime_us", "950".into()),
        ("cpuset/c1/cpuset.cpus", "1".into()),
        ("cpuset/c1/cpuset.mems", "0".into()),
        ("pids/c1/pids.max", "99".into()),
        ("blkio/c1/blkio.weight", "300".into()),
        ("blkio/c1/blkio.throttle.write_iops_device", "254:0 77".into()),
        ("hugetlb/c1/hugetlb.2MB.limit_in_bytes", (2u64 << 20).to_string()),
        ("net_cls/c1/net_cls.classid", "65537".into()),
        ("net_prio/c1/net_prio.ifpriomap", "eth0 5".into()),
    ];
    for (file, value) in expect {
        assert_eq!(read(&tree.root, file), value, "{file}");
    }
    // `unified` has no meaning on pure v1, and the devices controller is required for device rules.
    resources = Resources::default();
    resources.unified.insert("memory.high".into(), "1".into());
    assert!(cg.apply(&resources).is_err());
    let devices = Resources {
        devices: vec![crate::spec::DeviceCgroup { allow: false, access: Some("rwm".into()), ..Default::default() }],
        ..Default::default()
    };
    assert!(cg.apply(&devices).unwrap_err().to_string().contains("devices"));
}

#[test]
fn v2_stats_follow_runc_conversions() {
    let files: &[(&str, &str)] = &[
        (
            "c1/cpu.stat",
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 30\n",
        ),
        ("c1/memory.current", "4096\n"),
        ("c1/memory.max", "max\n"),
        ("c1/memory.stat", "anon 100\nfile 2048\n"),
        ("c1/memory.swap.current", "10\n"),
        ("c1/memory.swap.max", "max\n"),
        ("c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"),
        ("c1/pids.current", "3\n"),
        ("c1/pids.max", "max\n"),
        ("c1/io.stat", "8:0 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n"),
    ];
    let tree = FakeTree::new("fake-v2-stats", files);
    let leaf = tree.dir("c1");
    let cg = Cgroup::from_dirs(BTreeMap::new(), Some(CgroupDir { mount: tree.root.clone(), path: leaf }));
    let s = cg.stats().unwrap();
    assert_eq!(s["cpu"]["usage"]["total"], 1_500_000);
    assert_eq!(s["cpu"]["usage"]["user"], 1_000_000);
    assert_eq!(s["cpu"]["usage"]["kernel"], 500_000);
    assert_eq!(
        s["cpu"]["throttling"],
        serde_json::json!({"periods": 4, "throttledPeriods": 2, "throttledTime": 30_000})
    );
    assert_eq!(s["memory"]["cache"], 2048);
    assert_eq!(s["memory"]["usage"], serde_json::json!({"limit": u64::MAX, "usage": 4096, "failcnt": 0}));
    assert_eq!(s["memory"]["swap"]["usage"], 4106);
    assert_eq!(s["memory"]["swap"]["limit"], u64::MAX);
    assert_eq!(s["memory"]["raw"]["anon"], 100);
    assert_eq!(s["pids"], serde_json::json!({"current": 3}));
    assert_eq!(
        s["blkio"]["ioServiceBytesRecursive"],
        serde_json::json!([{"major": 8, "op": "Read", "value": 512}, {"major": 8, "op": "Write", "value": 1024}])
    );
    assert_eq!(s["blkio"]["ioServicedRecursive"][1]["value"], 2);
    assert_eq!(cg.oom_kill_count().unwrap(), 1);
}

#[test]
fn hierarchy_comes_from_the_dirs_and_paths_use_runc_keys() {
    let dir = |p: &str| CgroupDir { mount: PathBuf::from("/m"), path: PathBuf::from(p) };
    let mut v1 = BTreeMap::new();
    v1.insert("cpu".to_string(), dir("/m/cpu/x"));
    let hybrid = Cgroup::from_dirs(v1.clone(), Some(dir("/m/unified/x")));
    assert_eq!(hybrid.hierarchy(), Hierarchy::Hybrid);
    assert_eq!(hybrid.paths()[""], PathBuf::from("/m/unified/x"));
    assert!(matches!(hybrid.place("cpu"), Place::V1(_)));
    assert!(matches!(hybrid.place("hugetlb"), Place::V2(_)));
    assert!(matches!(Cgroup::from_dirs(v1, None).place("hugetlb"), Place::Missing));
    assert!(v2_devices_enforced());
    assert!(!supported_controllers().is_empty() || detect() == Hierarchy::V1);
}

#[test]
fn hybrid_puts_hugetlb_on_the_unified_side_and_delegates_only_on_demand() {
    let tree = FakeTree::new(
        "fake-hybrid",
        &[
            ("memory/c1/memory.limit_in_bytes", ""),
            ("unified/cgroup.controllers", "hugetlb\n"),
            ("unified/cgroup.subtree_control", ""),
            ("unified/c1/hugetlb.2MB.max", ""),
        ],
    );
    let mut v1 = BTreeMap::new();
    v1.insert("memory".to_string(), CgroupDir { mount: tree.dir("memory"), path: tree.dir("memory/c1") });
    let unified = CgroupDir { mount: tree.dir("unified"), path: tree.dir("unified/c1") };
    let cg = Cgroup::from_dirs(v1, Some(unified));
    assert_eq!(cg.hierarchy(), Hierarchy::Hybrid);
    cg.create().unwrap();
    assert_eq!(read(&tree.dir("unified"), "cgroup.subtree_control"), "", "create must not delegate on hybrid");
    let memory_only =
        Resources { memory: Some(Memory { limit: Some(1 << 20), ..Default::default() }), ..Default::default() };
    cg.apply(&memory_only).unwrap();
    assert_eq!(read(&tree.dir("unified"), "cgroup.subtree_control"), "");
    assert_eq!(read(&tree.dir("memory/c1"), "memory.limit_in_bytes"), (1u64 << 20).to_string());
    let hugetlb = Resources {
        hugepage_limits: vec![HugepageLimit { page_size: "2MB".into(), limit: 2 << 20 }],
        ..Default::default()
    };
    cg.apply(&hugetlb).unwrap();
    assert_eq!(read(&tree.dir("unified"), "cgroup.subtree_control"), "+hugetlb");
    assert_eq!(read(&tree.dir("unified/c1"), "hugetlb.2MB.max"), (2u64 << 20).to_string());
}
