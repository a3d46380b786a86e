//! cgroups v1, hybrid and v2: placement of a container's processes, resources, stats, freezer.
//!
//! A [`Cgroup`] is the set of directories one container occupies: one per mounted v1 hierarchy
//! and/or one in the unified (cgroup2) hierarchy. Each controller's settings go to wherever that
//! controller is mounted, so a hybrid host (v1 controllers, cgroup2 for the rest, e.g. hugetlb)
//! needs no special case beyond joining both trees, as runc does.

mod devices;
pub mod devices_bpf;
mod files;
mod freezer;
mod lifecycle;
mod mountinfo;
mod path;
mod resources;
mod stats;
mod v1;
mod v2;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::spec::Resources;

pub use devices::effective_rules as effective_device_rules;
pub use resources::resources_for;
pub use stats::Stats;
pub use v2::{blkio_weight_to_io_weight, shares_to_weight};

/// Which cgroup hierarchies the host mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hierarchy {
    /// Only v1 hierarchies.
    V1,
    /// v1 hierarchies plus cgroup2 (systemd's "hybrid": /sys/fs/cgroup/unified).
    Hybrid,
    /// Only cgroup2, usually at /sys/fs/cgroup.
    V2,
}

/// The host's layout, from /proc/self/mountinfo (read once per process).
pub fn detect() -> Hierarchy {
    mountinfo::mounts().hierarchy()
}

/// Controllers a container can be limited by: every mounted v1 controller and whatever the
/// unified root offers, for the `features` document.
pub fn supported_controllers() -> Vec<String> {
    let mounts = mountinfo::mounts();
    let mut out: Vec<String> = mounts.v1.keys().filter(|c| !c.starts_with("name=")).cloned().collect();
    if let Some(unified) = &mounts.unified {
        if let Ok(text) = files::read_path(&unified.mountpoint.join("cgroup.controllers")) {
            out.extend(text.split_whitespace().map(str::to_string));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Device rules on cgroup2 are enforced by an eBPF program attached to the container's cgroup
/// ([`devices_bpf`]); when the kernel refuses it, `create` fails rather than run the container
/// with its rules unenforced (rootless containers excepted, as in runc).
pub fn v2_devices_enforced() -> bool {
    true
}

/// One hierarchy's directory for the container, with the mount it lives under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDir {
    pub mount: PathBuf,
    pub path: PathBuf,
}

/// The directories one container occupies, resolved once and kept in the container's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cgroup {
    /// v1 controller (or "name=systemd") -> directory; co-mounted controllers share one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    v1: BTreeMap<String, CgroupDir>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unified: Option<CgroupDir>,
    /// Directories `create` made (parents first), so `destroy` takes back exactly those parents.
    #[serde(default, skip_serializing_if = "CreatedDirs::is_empty")]
    created: CreatedDirs,
}

/// Where a controller's files are for this container.
pub(crate) enum Place<'a> {
    V1(&'a Path),
    V2(&'a Path),
    Missing,
}

impl Cgroup {
    /// Resolves like runc's fs driver: an absolute cgroupsPath is relative to each hierarchy's
    /// mount, a relative one (default: the container id) to this process's own cgroup (on pure
    /// v2 its parent). `..` may not climb out.
    pub fn resolve(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let mounts = mountinfo::mounts();
        let inner = path::inner_path(cgroups_path, id)?;
        let own = if inner.absolute {
            None
        } else {
            Some(mountinfo::own_cgroups().map_err(|e| Error::io("read own cgroup", "/proc/self/cgroup", e))?)
        };
        let dirs = path::resolve_dirs(mounts, own.as_ref(), &inner)?;
        let dir = |controller: &String, path: PathBuf| {
            let mount = mounts.v1[controller].mountpoint.clone();
            (controller.clone(), CgroupDir { mount, path })
        };
        Ok(Cgroup {
            v1: dirs.v1.into_iter().map(|(c, p)| dir(&c, p)).collect(),
            unified: dirs
                .unified
                .zip(mounts.unified.as_ref())
                .map(|(path, m)| CgroupDir { mount: m.mountpoint.clone(), path }),
            created: CreatedDirs::default(),
        })
    }

    /// A cgroup at explicit directories, for tests and for callers that resolved paths themselves.
    pub fn from_dirs(v1: BTreeMap<String, CgroupDir>, unified: Option<CgroupDir>) -> Cgroup {
        Cgroup { v1, unified, created: CreatedDirs::default() }
    }

    pub fn hierarchy(&self) -> Hierarchy {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (false, true) => Hierarchy::Hybrid,
            (true, true) => Hierarchy::V2,
            _ => Hierarchy::V1,
        }
    }

    /// runc's state.json `cgroup_paths`: controller -> directory, "" for the unified one.
    pub fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut out: BTreeMap<String, PathBuf> = self.v1.iter().map(|(c, d)| (c.clone(), d.path.clone())).collect();
        if let Some(u) = &self.unified {
            out.insert(String::new(), u.path.clone());
        }
        out
    }

    pub fn v1_dirs(&self) -> &BTreeMap<String, CgroupDir> {
        &self.v1
    }

    pub fn unified(&self) -> Option<&CgroupDir> {
        self.unified.as_ref()
    }

    pub fn unified_dir(&self) -> Option<&Path> {
        self.unified.as_ref().map(|u| u.path.as_path())
    }

    /// Whether any real v1 controller is used (named hierarchies like name=systemd control nothing).
    fn has_v1_controllers(&self) -> bool {
        self.v1.keys().any(|k| !k.starts_with("name="))
    }

    /// Each directory once (co-mounted v1 controllers share one), v1 first.
    fn unique_dirs(&self) -> Vec<&CgroupDir> {
        let mut out: Vec<&CgroupDir> = Vec::with_capacity(self.v1.len() + 1);
        for dir in self.v1.values().chain(self.unified.as_ref()) {
            if !out.iter().any(|d| d.path == dir.path) {
                out.push(dir);
            }
        }
        out
    }

    /// The directory listing the container's processes: unified if joined (it has them all),
    /// else devices as runc uses, else any.
    fn primary_dir(&self) -> Option<&Path> {
        let dir = self.unified.as_ref().or_else(|| self.v1.get("devices")).or_else(|| self.v1.values().next());
        dir.map(|d| d.path.as_path())
    }

    pub(crate) fn place(&self, controller: &str) -> Place<'_> {
        match (self.v1.get(controller), &self.unified) {
            (Some(dir), _) => Place::V1(&dir.path),
            (None, Some(unified)) => Place::V2(&unified.path),
            (None, None) => Place::Missing,
        }
    }

    /// mkdir -p in every hierarchy; a new v1 cpuset inherits cpus/mems; on cgroup2 every
    /// ancestor delegates the controllers it has. Undoes its mkdirs on failure.
    pub fn create(&self) -> Result<()> {
        let made = lifecycle::create(self)?;
        self.created.lock().extend(made);
        Ok(())
    }

    /// Moves `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        lifecycle::add_pid(self, pid)
    }

    /// Moves `pid` into the container's cgroup2 directory only (nothing without cgroup2).
    pub fn add_pid_unified(&self, pid: i32) -> Result<()> {
        match &self.unified {
            Some(u) => files::write(&u.path, "cgroup.procs", &pid.to_string()),
            None => Ok(()),
        }
    }

    /// Makes the cgroup2 directory alone (mkdir -p, recorded for `destroy`) and opens it, for
    /// clone3's CLONE_INTO_CGROUP; `create` later finds it made. None without cgroup2.
    pub fn create_unified(&self) -> Result<Option<std::os::fd::OwnedFd>> {
        let Some(dir) = &self.unified else { return Ok(None) };
        let mut made = Vec::new();
        let r = files::mkdir_all(&dir.path, &dir.mount, &mut made);
        self.created.lock().extend(made);
        r.map_err(|e| Error::io("create cgroup", dir.path.display().to_string(), e))?;
        let f = std::fs::File::open(&dir.path).map_err(|e| Error::io("open cgroup", dir.path.display().to_string(), e))?;
        Ok(Some(f.into()))
    }

    /// The `tasks` file of each v1 directory (co-mounted controllers share one): a process that
    /// writes "0" there moves itself without the kernel's global cgroup_threadgroup_rwsem,
    /// whose first writer after a quiet spell waits a whole RCU grace period (~7 ms here).
    pub fn v1_task_files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for dir in self.v1.values() {
            let f = dir.path.join("tasks");
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    /// Writes every resource in `r` (pass [`resources_for`] at create time so runc's default
    /// device rules are included); an empty device list leaves device rules untouched.
    pub fn apply(&self, r: &Resources) -> Result<()> {
        resources::apply(self, r)
    }

    /// Kills what is left (cgroup.kill, else freeze + SIGKILL), waits until empty, removes every
    /// directory deepest first, then the parents `create` made. Succeeds if already gone.
    pub fn destroy(&self) -> Result<()> {
        let leaves: Vec<PathBuf> = self.unique_dirs().iter().map(|d| d.path.clone()).collect();
        let parents: Vec<PathBuf> = self.created.lock().iter().filter(|d| !leaves.contains(d)).cloned().collect();
        lifecycle::destroy(self, &parents)?;
        self.created.lock().clear();
        Ok(())
    }

    pub fn freeze(&self) -> Result<()> {
        match self.place("freezer") {
            Place::V1(dir) => freezer::freeze_v1(dir),
            Place::V2(dir) => freezer::freeze_v2(dir),
            Place::Missing => Err(Error::Other("cannot freeze: the freezer cgroup controller is not mounted".into())),
        }
    }

    pub fn thaw(&self) -> Result<()> {
        match self.place("freezer") {
            Place::V1(dir) => freezer::thaw_v1(dir),
            Place::V2(dir) => freezer::thaw_v2(dir),
            Place::Missing => Err(Error::Other("cannot thaw: the freezer cgroup controller is not mounted".into())),
        }
    }

    pub fn is_frozen(&self) -> Result<bool> {
        match self.place("freezer") {
            Place::V1(dir) => freezer::is_frozen_v1(dir),
            Place::V2(dir) => freezer::is_frozen_v2(dir),
            Place::Missing => Ok(false),
        }
    }

    /// Every pid in the container's cgroup and the cgroups below it.
    pub fn pids(&self) -> Result<Vec<i32>> {
        lifecycle::pids(self)
    }

    /// Usage in the shape of runc's `events --stats` "data".
    pub fn stats(&self) -> Result<serde_json::Value> {
        let stats = self.stats_typed()?;
        serde_json::to_value(stats).map_err(|e| Error::Other(format!("encode cgroup stats: {e}")))
    }

    pub fn stats_typed(&self) -> Result<Stats> {
        stats::collect(self)
    }

    /// How many times the kernel OOM-killed a process in this cgroup (0 without a memory controller).
    pub fn oom_kill_count(&self) -> Result<u64> {
        match self.place("memory") {
            Place::V1(dir) => {
                let text = files::read_opt(dir, "memory.oom_control")?.unwrap_or_default();
                Ok(files::keyed(&text, "oom_kill").unwrap_or(0))
            }
            Place::V2(dir) => v2::memory_event(dir, "oom_kill"),
            Place::Missing => Ok(0),
        }
    }
}

/// The directories `create` made, behind a lock so `create(&self)` can record them.
#[derive(Default)]
struct CreatedDirs(Mutex<Vec<PathBuf>>);

impl CreatedDirs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl Clone for CreatedDirs {
    fn clone(&self) -> Self {
        CreatedDirs(Mutex::new(self.lock().clone()))
    }
}

impl std::fmt::Debug for CreatedDirs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lock().iter()).finish()
    }
}

impl Serialize for CreatedDirs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.lock().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CreatedDirs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Vec::<PathBuf>::deserialize(deserializer).map(|dirs| CreatedDirs(Mutex::new(dirs)))
    }
}

#[cfg(test)]
mod tests;
