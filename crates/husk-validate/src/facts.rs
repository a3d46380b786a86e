//! What the validator compares against: the bundle's config.json and the harness's host.json
//! (facts only the host can know: its namespace inodes, marker files, shared mount sources).
//! As an exec'd process (`--exec PROCESS_JSON`) the process it checks is that file's, not
//! config.json's `process`; everything else still comes from config.json.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_DIR: &str = "/husk-validate";

/// The directory holding config.json and host.json inside the container.
pub fn validate_dir() -> PathBuf {
    std::env::var_os("HUSK_VALIDATE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

pub struct Facts {
    /// config.json; for an exec, with `process` replaced by the exec'd process.
    pub config: Value,
    pub host: HostFacts,
    /// Set when the validator was exec'd into a running container rather than being its init.
    pub exec: Option<ExecFacts>,
}

pub struct ExecFacts {
    /// The process.json (path inside the container) the exec'd process is checked against.
    pub process_path: PathBuf,
}

#[derive(Debug, Default)]
pub struct HostFacts {
    /// Host namespace inode per /proc/self/ns name (pid, net, mnt, ...).
    pub namespaces: BTreeMap<String, u64>,
    /// Inode of the namespace at each configured `path`, keyed by config type (network, uts, ...).
    pub joined_namespaces: BTreeMap<String, u64>,
    /// Whether the process that ran the runtime already had no_new_privs (it is inherited).
    pub no_new_privs: bool,
    /// Files that must exist inside the container with exactly this content.
    pub files: Vec<(String, String)>,
    /// Paths that must not exist inside the container.
    pub absent_files: Vec<String>,
    /// Mount destinations (or "/" for the rootfs) whose source is a shared mount on the host,
    /// so a slave copy of them must show a master peer group.
    pub shared_sources: Vec<String>,
    /// For an exec: the init's namespace inode per /proc/<pid>/ns name, as the host read them
    /// (an exec'd process that is not root may not read /proc/1/ns itself).
    pub init_namespaces: BTreeMap<String, u64>,
    /// For an exec into a container without a new pid namespace: the init's pid (the host's).
    pub init_pid: Option<u32>,
}

impl Facts {
    /// `exec`: the exec'd process's process.json, whose content replaces config.json's `process`.
    pub fn load(dir: &Path, exec: Option<&Path>) -> Result<Facts, String> {
        let mut config = read_json(&dir.join("config.json"))?;
        let host_path = dir.join("host.json");
        let host = if host_path.exists() { HostFacts::from_json(&read_json(&host_path)?)? } else { HostFacts::default() };
        let exec = match exec {
            Some(path) => {
                let process = read_json(path)?;
                if !process.is_object() {
                    return Err(format!("{} is not a process object", path.display()));
                }
                let object = config.as_object_mut().ok_or("config.json is not an object")?;
                object.insert("process".to_string(), process);
                Some(ExecFacts { process_path: path.to_path_buf() })
            }
            None => None,
        };
        Ok(Facts { config, host, exec })
    }

    /// The init's pid as this process sees it: 1 in a new pid namespace, else the host's (its
    /// pid namespace is the host's then).
    pub fn init_pid(&self) -> Option<u32> {
        let new_pid_ns = self.config.pointer("/linux/namespaces").and_then(Value::as_array).into_iter().flatten().any(|ns| {
            ns.get("type").and_then(Value::as_str) == Some("pid") && ns.get("path").and_then(Value::as_str).is_none_or(str::is_empty)
        });
        if new_pid_ns { Some(1) } else { self.host.init_pid }
    }
}

impl HostFacts {
    pub fn from_json(v: &Value) -> Result<HostFacts, String> {
        let inode_map = |key: &str| -> Result<BTreeMap<String, u64>, String> {
            let mut map = BTreeMap::new();
            if let Some(obj) = v.get(key).and_then(Value::as_object) {
                for (name, inode) in obj {
                    let inode = inode.as_u64().ok_or_else(|| format!("host.json {key}.{name} is not an inode number"))?;
                    map.insert(name.clone(), inode);
                }
            }
            Ok(map)
        };
        let mut files = Vec::new();
        for file in v.get("files").and_then(Value::as_array).into_iter().flatten() {
            let path = file.get("path").and_then(Value::as_str).ok_or("host.json files[].path missing")?;
            let content = file.get("content").and_then(Value::as_str).ok_or("host.json files[].content missing")?;
            files.push((path.to_string(), content.to_string()));
        }
        Ok(HostFacts {
            namespaces: inode_map("namespaces")?,
            joined_namespaces: inode_map("joinedNamespaces")?,
            no_new_privs: v.get("noNewPrivs").and_then(Value::as_bool).unwrap_or(false),
            files,
            absent_files: strings(v.get("absentFiles")),
            shared_sources: strings(v.get("sharedSources")),
            init_namespaces: inode_map("initNamespaces")?,
            init_pid: match v.get("initPid") {
                None | Some(Value::Null) => None,
                Some(pid) => Some(pid.as_u64().and_then(|p| u32::try_from(p).ok()).ok_or("host.json initPid is not a pid")?),
            },
        })
    }
}

/// The strings of a JSON array (non-strings skipped); empty when absent.
pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_facts_parse_all_fields() {
        let v: Value = serde_json::from_str(
            r#"{"namespaces":{"pid":4026531836},"joinedNamespaces":{"network":7},"noNewPrivs":true,
               "files":[{"path":"/m","content":"x"}],"absentFiles":["/a"],"sharedSources":["/"],
               "initNamespaces":{"net":9},"initPid":42}"#,
        )
        .unwrap();
        let host = HostFacts::from_json(&v).unwrap();
        assert_eq!(host.namespaces["pid"], 4026531836);
        assert_eq!(host.joined_namespaces["network"], 7);
        assert!(host.no_new_privs);
        assert_eq!(host.files, vec![("/m".to_string(), "x".to_string())]);
        assert_eq!(host.absent_files, vec!["/a"]);
        assert_eq!(host.shared_sources, vec!["/"]);
        assert_eq!(host.init_namespaces["net"], 9);
        assert_eq!(host.init_pid, Some(42));
    }

    #[test]
    fn exec_process_replaces_the_config_process() {
        let dir = std::env::temp_dir().join(format!("husk-validate-facts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), r#"{"process":{"cwd":"/"},"hostname":"h"}"#).unwrap();
        std::fs::write(dir.join("exec.json"), r#"{"cwd":"/tmp"}"#).unwrap();
        let facts = Facts::load(&dir, Some(&dir.join("exec.json"))).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(facts.config.pointer("/process/cwd").and_then(Value::as_str), Some("/tmp"));
        assert_eq!(facts.config.get("hostname").and_then(Value::as_str), Some("h"));
        assert!(facts.exec.is_some());
        assert_eq!(facts.init_pid(), None);
    }
}
