//! The state root: one directory per container holding `state.json` (written atomically) and,
//! while the container is created but not started, the `exec.fifo` its init waits on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::cgroups::Cgroup;
use crate::error::{Error, Result};
use crate::spec::Spec;

pub const DEFAULT_ROOT: &str = "/run/husk";
pub(crate) const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// What husk persists about a container; `state` and `list` derive the live status from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it.
    pub start_time: u64,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub cgroup: Option<Cgroup>,
    /// The config the container was created from (poststop hooks and exec need it after the bundle may be gone).
    pub config: Spec,
    #[serde(default)]
    pub rootless: bool,
}

/// The runtime-spec state document, with runc's extra fields (rootfs, created, owner).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateDoc {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: String,
    pub rootfs: String,
    pub created: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
}

/// The state root directory (`--root`).
#[derive(Debug, Clone)]
pub struct StateRoot {
    pub path: PathBuf,
}

impl StateRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateRoot { path: path.into() }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Makes `<root>/<id>` (0711); fails with AlreadyExists when the id is taken.
    pub fn create_dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        fs::DirBuilder::new().recursive(true).mode(0o711).create(&self.path)
            .map_err(|e| Error::io("create state root", self.path.display().to_string(), e))?;
        let dir = self.dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::AlreadyExists(id.to_string())),
            Err(e) => Err(Error::io("create state dir", dir.display().to_string(), e)),
        }
    }

    pub fn load(&self, id: &str) -> Result<ContainerState> {
        validate_id(id)?;
        let file = self.dir(id).join(STATE_FILE);
        let data = match fs::read(&file) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound(id.to_string())),
            Err(e) => return Err(Error::io("read state", file.display().to_string(), e)),
        };
        serde_json::from_slice(&data).map_err(|e| Error::Other(format!("{}: corrupt state: {e}", file.display())))
    }

    /// Writes state.json atomically: temp file, rename. No fsync: runtime state lives on tmpfs
    /// (/run) and means nothing after a reboot, and a sync costs more than the whole `start`.
    pub fn save(&self, st: &ContainerState) -> Result<()> {
        let dir = self.dir(&st.id);
        let tmp = dir.join(".state.json.tmp");
        let file = dir.join(STATE_FILE);
        let data = serde_json::to_vec(st).map_err(|e| Error::Other(format!("encode state: {e}")))?;
        let mut f = fs::File::create(&tmp).map_err(|e| Error::io("write state", tmp.display().to_string(), e))?;
        f.write_all(&data)
            .map_err(|e| Error::io("write state", tmp.display().to_string(), e))?;
        fs::rename(&tmp, &file).map_err(|e| Error::io("rename state", file.display().to_string(), e))
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove state dir", dir.display().to_string(), e)),
        }
    }

    /// Takes an exclusive lock on the container's state dir for the life of the returned fd.
    pub fn lock(&self, id: &str) -> Result<OwnedFd> {
        validate_id(id)?;
        let dir = self.dir(id);
        let c = crate::util::cstring(dir.as_os_str())?;
        // SAFETY: plain open(2) of a NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOENT) {
                return Err(Error::NotFound(id.to_string()));
            }
            return Err(Error::io("open state dir", dir.display().to_string(), e));
        }
        // SAFETY: fd was just opened and is owned here.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: flock on a valid fd.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(Error::io("lock state dir", dir.display().to_string(), std::io::Error::last_os_error()));
        }
        Ok(fd)
    }

    /// Ids of every container under the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let rd = match fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read state root", self.path.display().to_string(), e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// Container ids as runc accepts them: `[A-Za-z0-9_+.-]+`, not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "." && id != ".."
        && id.len() <= 1024
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+.-".contains(&b));
    if ok { Ok(()) } else { Err(Error::InvalidArgument(format!("invalid container id {id:?}: must match [A-Za-z0-9_+.-]+"))) }
}

impl ContainerState {
    /// The live status: from the init's /proc entry, the exec fifo and the freezer.
    pub fn status(&self, root: &StateRoot) -> Status {
        if self.pid <= 0 || !process_alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if root.dir(&self.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        if let Some(cg) = &self.cgroup {
            if cg.is_frozen().unwrap_or(false) {
                return Status::Paused;
            }
        }
        Status::Running
    }

    pub fn doc(&self, status: Status, owner: &str) -> StateDoc {
        StateDoc {
            oci_version: crate::OCI_VERSION.to_string(),
            id: self.id.clone(),
            pid: if status == Status::Stopped { 0 } else { self.pid },
            status: status.as_str().to_string(),
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            annotations: self.annotations.clone(),
            owner: owner.to_string(),
        }
    }
}

/// Field 22 (starttime) of /proc/PID/stat and the state letter; None when the process is gone.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parens: the fields after the last ')' are fixed.
    let rest = &data[data.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// True while the process exists, is not a zombie and is the one that was started at `start_time`.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    matches!(proc_stat(pid), Some((s, t)) if s != 'Z' && s != 'X' && (start_time == 0 || t == start_time))
}

/// RFC 3339 UTC time with nanoseconds, as Go's time.RFC3339Nano prints it.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let frac = if nanos == 0 {
        String::new()
    } else {
        let s = format!(".{nanos:09}");
        s.trim_end_matches('0').to_string()
    };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Owner name of a path, as runc's `list` shows it.
pub fn owner_name(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let uid = match fs::metadata(path) { Ok(m) => m.uid(), Err(_) => return String::new() };
    if let Ok(passwd) = fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2] == uid.to_string() {
                return f[0].to_string();
            }
        }
    }
    format!("#{uid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000, 123_000_000), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400, 1), "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn validates_ids() {
        assert!(validate_id("abc-1_2.3+x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "../x"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_own_stat() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(start > 0);
        assert!(process_alive(std::process::id() as i32, start));
        assert!(!process_alive(std::process::id() as i32, start + 1));
    }
}
