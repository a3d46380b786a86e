//! A container cgroup's life: making its directories, putting processes in, listing them, and
//! killing what is left before removing every directory again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::{self, Backoff};
use super::{v1, v2, Cgroup};
use crate::error::{Error, Result};

/// How long killed processes may take to leave the cgroup.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long rmdir may keep failing with EBUSY (dying tasks still being released).
const RMDIR_TIMEOUT: Duration = Duration::from_secs(2);

pub fn create(cg: &Cgroup) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    match create_dirs(cg, &mut created) {
        Ok(()) => Ok(created),
        Err(e) => {
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            Err(e)
        }
    }
}

fn create_dirs(cg: &Cgroup, created: &mut Vec<PathBuf>) -> Result<()> {
    for dir in cg.unique_dirs() {
        files::mkdir_all(&dir.path, &dir.mount, created)
            .map_err(|e| Error::io("create cgroup", dir.path.display().to_string(), e))?;
    }
    if let Some(cpuset) = cg.v1_dirs().get("cpuset") {
        // Parents first, so each new cpuset inherits from an initialised one.
        for dir in created.iter().filter(|d| d.starts_with(&cpuset.mount)) {
            v1::init_cpuset(dir, true)?;
        }
        if !created.contains(&cpuset.path) {
            v1::init_cpuset(&cpuset.path, false)?;
        }
    }
    // Pure v2 delegates everything up front, as runc; hybrid with real v1 controllers only on
    // demand in `apply`, since a controller in use on cgroup2 can no longer be mounted as v1.
    if let Some(unified) = cg.unified().filter(|_| !cg.has_v1_controllers()) {
        v2::enable_controllers(&unified.mount, &unified.path, None);
    }
    Ok(())
}

pub fn add_pid(cg: &Cgroup, pid: i32) -> Result<()> {
    let value = pid.to_string();
    for dir in cg.unique_dirs() {
        files::write(&dir.path, "cgroup.procs", &value)?;
    }
    Ok(())
}

/// Every pid listed in `dir` and its descendant cgroups.
pub fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> io::Result<()> {
    let text = files::read_path(&dir.join("cgroup.procs"))?;
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            match procs_recursive(&entry.path(), out) {
                // A child cgroup removed while we walk is simply gone.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
    }
    Ok(())
}

/// The container's pids; a cgroup that no longer exists has none.
pub fn pids(cg: &Cgroup) -> Result<Vec<i32>> {
    let Some(dir) = cg.primary_dir() else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    match procs_recursive(dir, &mut out) {
        Ok(()) => Ok(out),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io("list cgroup processes", dir.display().to_string(), e)),
    }
}

fn sigkill(pids: &[i32]) {
    for &pid in pids {
        // SAFETY: kill has no memory-safety preconditions; ESRCH (already gone) is fine.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// SIGKILLs every process in the container's cgroup and waits until none is left; on hybrid the
/// unified directory holds every process too and has cgroup.kill.
pub fn kill_all(cg: &Cgroup) -> Result<()> {
    let freezer = cg.v1_dirs().get("freezer").map(|f| f.path.as_path());
    match (cg.unified(), cg.primary_dir()) {
        (Some(unified), _) => kill_all_v2(&unified.path, freezer),
        (None, Some(dir)) => kill_all_v1(dir, freezer),
        (None, None) => Ok(()),
    }
}

/// cgroup.kill; a v1 freezer (hybrid) is thawed after it, or the frozen tasks could not die.
fn kill_all_v2(dir: &Path, v1_freezer: Option<&Path>) -> Result<()> {
    let populated = |dir: &Path| match v2::populated(dir) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("read cgroup.events", dir.display().to_string(), e)),
    };
    if !populated(dir)? {
        return Ok(());
    }
    let has_kill = v2::kill(dir).map_err(|e| files::write_error(&dir.join("cgroup.kill"), "1", e))?;
    if let Some(freezer) = v1_freezer {
        let _ = files::write_path(&freezer.join("freezer.state"), "THAWED");
    }
    let mut backoff = Backoff::new(KILL_TIMEOUT);
    while populated(dir)? {
        if !has_kill {
            let mut pids = Vec::new();
            let _ = procs_recursive(dir, &mut pids);
            sigkill(&pids);
        }
        if !backoff.sleep() {
            return Err(Error::Other(format!("processes remain in {} after SIGKILL", dir.display())));
        }
    }
    Ok(())
}

/// Without cgroup.kill: freeze (so nothing forks behind our back), SIGKILL each pid, thaw, repeat.
fn kill_all_v1(dir: &Path, freezer: Option<&Path>) -> Result<()> {
    let mut backoff = Backoff::new(KILL_TIMEOUT);
    loop {
        let mut pids = Vec::new();
        match procs_recursive(dir, &mut pids) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("list cgroup processes", dir.display().to_string(), e)),
            Ok(()) if pids.is_empty() => return Ok(()),
            Ok(()) => {}
        }
        if let Some(freezer) = freezer {
            let _ = files::write_path(&freezer.join("freezer.state"), "FROZEN");
        }
        sigkill(&pids);
        if let Some(freezer) = freezer {
            let _ = files::write_path(&freezer.join("freezer.state"), "THAWED");
        }
        if !backoff.sleep() {
            return Err(Error::Other(format!("processes remain in {} after SIGKILL", dir.display())));
        }
    }
}

fn is_busy(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY))
}

/// rmdir of a cgroup and every cgroup below it, deepest first, retrying while the kernel still
/// reports it busy; a cgroup that is already gone is fine.
pub fn remove_tree(dir: &Path) -> Result<()> {
    let mut backoff = Backoff::new(RMDIR_TIMEOUT);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if is_busy(&e) => {
                // Child cgroups the container made, or a process only this hierarchy still holds.
                remove_children(dir);
                let mut pids = Vec::new();
                let _ = procs_recursive(dir, &mut pids);
                sigkill(&pids);
                if fs::remove_dir(dir).is_ok() {
                    return Ok(());
                }
                if !backoff.sleep() {
                    return Err(Error::io("remove cgroup", dir.display().to_string(), e));
                }
            }
            Err(e) => return Err(Error::io("remove cgroup", dir.display().to_string(), e)),
        }
    }
}

fn remove_children(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let child = entry.path();
            remove_children(&child);
            let _ = fs::remove_dir(&child);
        }
    }
}

/// Kills what is left, removes the container's directories, then the parents `create` made
/// (best effort: another container may have moved in below them).
pub fn destroy(cg: &Cgroup, created_parents: &[PathBuf]) -> Result<()> {
    kill_all(cg)?;
    let mut first_error = None;
    for dir in cg.unique_dirs() {
        if let Err(e) = remove_tree(&dir.path) {
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    for dir in created_parents.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
    Ok(())
}
