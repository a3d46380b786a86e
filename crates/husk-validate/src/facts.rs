//! What the validator compares against: the bundle's config.json and the harness's host.json
//! (facts only the host can know: its namespace inodes, marker files, shared mount sources).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_DIR: &str = "/husk-validate";

/// The directory holding config.json and host.json inside the container.
pub fn validate_dir() -> PathBuf {
    std::env::var_os("HUSK_VALIDATE_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

pub struct Facts {
    pub config: Value,
    pub host: HostFacts,
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
}

impl Facts {
    pub fn load(dir: &Path) -> Result<Facts, String> {
        let config = read_json(&dir.join("config.json"))?;
        let host_path = dir.join("host.json");
        let host = if host_path.exists() { HostFacts::from_json(&read_json(&host_path)?)? } else { HostFacts::default() };
        Ok(Facts { config, host })
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
               "files":[{"path":"/m","content":"x"}],"absentFiles":["/a"],"sharedSources":["/"]}"#,
        )
        .unwrap();
        let host = HostFacts::from_json(&v).unwrap();
        assert_eq!(host.namespaces["pid"], 4026531836);
        assert_eq!(host.joined_namespaces["network"], 7);
        assert!(host.no_new_privs);
        assert_eq!(host.files, vec![("/m".to_string(), "x".to_string())]);
        assert_eq!(host.absent_files, vec!["/a"]);
        assert_eq!(host.shared_sources, vec!["/"]);
    }
}
