//! mounts: every config mount is in /proc/self/mountinfo at its destination with the right
//! type and source, the per-mount flags and propagation its options ask for, and the
//! filesystem data options (mode, ptmxmode, size) the kernel reports back.

use crate::facts::Facts;
use crate::mountinfo::{self, MountEntry};
use crate::report::Report;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Propagation {
    Shared,
    Slave,
    Private,
    Unbindable,
}

impl Propagation {
    pub fn parse(option: &str) -> Option<Propagation> {
        Some(match option {
            "shared" | "rshared" => Propagation::Shared,
            "slave" | "rslave" => Propagation::Slave,
            "private" | "rprivate" => Propagation::Private,
            "unbindable" | "runbindable" => Propagation::Unbindable,
            _ => return None,
        })
    }
}

/// Propagation as shown by mountinfo's optional fields. A slave of a mount with no shared
/// peers is indistinguishable from private, so `master:` is required only when the host
/// made the source shared.
pub fn check_propagation(entry: &MountEntry, expected: Propagation, source_shared_on_host: bool) -> Result<(), String> {
    let (shared, master, unbindable) = (entry.has_tag("shared"), entry.has_tag("master"), entry.has_tag("unbindable"));
    let ok = match expected {
        Propagation::Shared => shared,
        Propagation::Slave => !shared && !unbindable && (master || !source_shared_on_host),
        Propagation::Private => !shared && !master && !unbindable,
        Propagation::Unbindable => unbindable && !shared,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, mountinfo optional fields are {:?}", entry.optional))
    }
}

/// What a mount's `options` ask for; None where they say nothing.
#[derive(Debug, Default, PartialEq)]
pub struct MountOptions {
    pub bind: bool,
    pub readonly: Option<bool>,
    pub nosuid: Option<bool>,
    pub nodev: Option<bool>,
    pub noexec: Option<bool>,
    pub atime: Option<&'static str>,
    pub nodiratime: Option<bool>,
    pub propagation: Option<Propagation>,
    pub data: Vec<(String, String)>,
}

impl MountOptions {
    pub fn parse(options: &[String]) -> MountOptions {
        let mut parsed = MountOptions::default();
        for option in options {
            match option.as_str() {
                "bind" | "rbind" => parsed.bind = true,
                "ro" => parsed.readonly = Some(true),
                "rw" => parsed.readonly = Some(false),
                "nosuid" => parsed.nosuid = Some(true),
                "suid" => parsed.nosuid = Some(false),
                "nodev" => parsed.nodev = Some(true),
                "dev" => parsed.nodev = Some(false),
                "noexec" => parsed.noexec = Some(true),
                "exec" => parsed.noexec = Some(false),
                "noatime" => parsed.atime = Some("noatime"),
                "relatime" => parsed.atime = Some("relatime"),
                "strictatime" => parsed.atime = Some("strictatime"),
                "nodiratime" => parsed.nodiratime = Some(true),
                "diratime" => parsed.nodiratime = Some(false),
                other => {
                    if let Some(p) = Propagation::parse(other) {
                        parsed.propagation = Some(p);
                    } else if let Some((k, v)) = other.split_once('=') {
                        parsed.data.push((k.to_string(), v.to_string()));
                    }
                }
            }
        }
        parsed
    }
}

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(mounts) = facts.config.get("mounts").and_then(Value::as_array) else { return };
    let table = match mountinfo::read_self() {
        Ok(table) => table,
        Err(err) => return report.fail("read /proc/self/mountinfo", &err),
    };
    for (index, mount) in mounts.iter().enumerate() {
        let dest = mount.get("destination").and_then(Value::as_str).unwrap_or_default();
        if mounts[index + 1..].iter().any(|later| later.get("destination").and_then(Value::as_str) == Some(dest)) {
            report.note(&format!("mount {dest} is covered by a later mount at the same destination"));
            continue;
        }
        // Destinations are resolved inside the rootfs, as the runtime does.
        let resolved = std::fs::canonicalize(dest).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|_| dest.to_string());
        let Some(entry) = mountinfo::find_last(&table, &resolved) else {
            report.fail(&format!("mount {dest} is mounted"), &format!("no mount at {resolved} in /proc/self/mountinfo"));
            continue;
        };
        report.pass(&format!("mount {dest} is mounted"));
        let options = MountOptions::parse(&crate::facts::strings(mount.get("options")));
        let fstype = mount.get("type").and_then(Value::as_str).unwrap_or("");
        let bind = options.bind || fstype == "bind";
        if !bind {
            check_type_and_source(dest, mount, fstype, entry, report);
        }
        if fstype == "cgroup" && entry.fstype == "tmpfs" {
            // In the v1 layout the tmpfs only holds mount points; the hierarchies carry the flags.
            let hierarchies: Vec<&MountEntry> = table
                .iter()
                .filter(|e| e.mount_point.starts_with(&format!("{resolved}/")) && e.fstype.starts_with("cgroup"))
                .collect();
            let result = if hierarchies.is_empty() {
                Err("tmpfs without cgroup hierarchies below it".to_string())
            } else {
                hierarchies.iter().try_for_each(|h| check_flags(&options, false, h).map_err(|e| format!("{}: {e}", h.mount_point)))
            };
            report.check(&format!("mount {dest} flags (each cgroup hierarchy)"), result);
        } else {
            report.check(&format!("mount {dest} flags"), check_flags(&options, bind, entry));
        }
        if let Some(propagation) = options.propagation {
            let shared_on_host = facts.host.shared_sources.iter().any(|s| s == dest);
            report.check(&format!("mount {dest} propagation {propagation:?}"), check_propagation(entry, propagation, shared_on_host));
        }
        if !bind && fstype != "cgroup" && !options.data.is_empty() {
            report.check(&format!("mount {dest} data options"), check_data(&options.data, fstype, Path::new(&resolved), entry));
        }
    }
}

fn check_type_and_source(dest: &str, mount: &Value, fstype: &str, entry: &MountEntry, report: &mut Report) {
    if fstype == "cgroup" {
        // cgroup v1 and hybrid hosts get a tmpfs with one cgroup mount per hierarchy below it.
        let ok = matches!(entry.fstype.as_str(), "cgroup" | "cgroup2" | "tmpfs");
        report.check(&format!("mount {dest} type cgroup"), if ok { Ok(()) } else { Err(format!("got {}", entry.fstype)) });
        return;
    }
    report.expect_eq(&format!("mount {dest} type"), fstype, entry.fstype.as_str());
    if let Some(source) = mount.get("source").and_then(Value::as_str) {
        report.expect_eq(&format!("mount {dest} source"), source, entry.source.as_str());
    }
}

fn check_flags(options: &MountOptions, bind: bool, entry: &MountEntry) -> Result<(), String> {
    // A bind mount keeps the source's flags for anything its options leave unsaid.
    let default = if bind { None } else { Some(false) };
    let mut problems = Vec::new();
    let mut flag = |wanted: Option<bool>, set_name: &str, clear_name: Option<&str>| {
        let Some(wanted) = wanted else { return };
        let has = entry.has_option(set_name);
        if wanted != has {
            problems.push(if wanted { format!("missing {set_name}") } else { format!("unexpected {set_name}") });
        }
        if let (false, Some(clear)) = (wanted, clear_name) {
            if !entry.has_option(clear) {
                problems.push(format!("missing {clear}"));
            }
        }
    };
    flag(options.readonly.or(default), "ro", Some("rw"));
    flag(options.nosuid.or(default), "nosuid", None);
    flag(options.nodev.or(default), "nodev", None);
    flag(options.noexec.or(default), "noexec", None);
    flag(options.nodiratime, "nodiratime", None);
    match options.atime {
        Some("strictatime") => flag(Some(false), "noatime", None),
        Some(atime) => flag(Some(true), atime, None),
        None => {}
    }
    if options.atime == Some("strictatime") && entry.has_option("relatime") {
        problems.push("unexpected relatime (strictatime asked)".to_string());
    }
    if options.atime == Some("noatime") && entry.has_option("relatime") {
        problems.push("unexpected relatime (noatime asked)".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (mountinfo options {:?})", problems.join(", "), entry.options.join(",")))
    }
}

fn check_data(data: &[(String, String)], fstype: &str, path: &Path, entry: &MountEntry) -> Result<(), String> {
    let mut problems = Vec::new();
    for (key, value) in data {
        match key.as_str() {
            "mode" | "ptmxmode" => {
                let Ok(want) = u32::from_str_radix(value, 8) else { continue };
                let shown = entry.super_option(key).and_then(|v| u32::from_str_radix(v, 8).ok());
                let got = match shown {
                    Some(mode) => Some(mode),
                    // tmpfs hides its default mode (1777) from mountinfo; the root directory shows it.
                    None if fstype == "tmpfs" && key == "mode" => std::fs::metadata(path).ok().map(|m| m.mode() & 0o7777),
                    None => continue,
                };
                match got {
                    Some(got) if got != want => problems.push(format!("{key}: expected {want:o}, got {got:o}")),
                    None => problems.push(format!("{key}: cannot stat {}", path.display())),
                    _ => {}
                }
            }
            "size" => {
                let (Some(want), Some(got)) = (parse_size(value), entry.super_option("size").and_then(parse_size)) else { continue };
                if want != got {
                    problems.push(format!("size: expected {want} bytes, got {got}"));
                }
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{} (mountinfo super options {:?})", problems.join(", "), entry.super_options.join(",")))
    }
}

/// "65536k" / "64m" / "1g" / "4096" → bytes rounded up to pages, as tmpfs stores it; None for "%".
fn parse_size(value: &str) -> Option<u64> {
    let (digits, unit) = match value.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => value.split_at(i),
        None => (value, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let bytes = match unit.to_ascii_lowercase().as_str() {
        "" => n,
        "k" => n << 10,
        "m" => n << 20,
        "g" => n << 30,
        _ => return None,
    };
    Some(bytes.div_ceil(4096) * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        MountOptions::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_parse_last_word_wins() {
        let o = opts(&["rbind", "ro", "rw", "nosuid", "rslave", "mode=755", "strictatime"]);
        assert!(o.bind);
        assert_eq!(o.readonly, Some(false));
        assert_eq!(o.nosuid, Some(true));
        assert_eq!(o.nodev, None);
        assert_eq!(o.propagation, Some(Propagation::Slave));
        assert_eq!(o.atime, Some("strictatime"));
        assert_eq!(o.data, vec![("mode".to_string(), "755".to_string())]);
    }

    #[test]
    fn flags_default_to_clear_for_new_mounts_only() {
        let entry = &mountinfo::parse("1 0 0:1 / /x rw,nosuid,relatime - tmpfs tmpfs rw\n")[0];
        assert!(check_flags(&opts(&[]), false, entry).is_err());
        assert!(check_flags(&opts(&["nosuid"]), false, entry).is_ok());
        assert!(check_flags(&opts(&["rbind"]), true, entry).is_ok());
        assert!(check_flags(&opts(&["rbind", "ro"]), true, entry).is_err());
        assert!(check_flags(&opts(&["nosuid", "strictatime"]), false, entry).is_err());
    }

    #[test]
    fn propagation_from_optional_fields() {
        let shared = &mountinfo::parse("1 0 0:1 / /x rw shared:3 - tmpfs t rw\n")[0];
        let slave = &mountinfo::parse("1 0 0:1 / /x rw master:3 - tmpfs t rw\n")[0];
        let private = &mountinfo::parse("1 0 0:1 / /x rw - tmpfs t rw\n")[0];
        assert!(check_propagation(shared, Propagation::Shared, false).is_ok());
        assert!(check_propagation(slave, Propagation::Slave, true).is_ok());
        assert!(check_propagation(private, Propagation::Slave, false).is_ok());
        assert!(check_propagation(private, Propagation::Slave, true).is_err());
        assert!(check_propagation(slave, Propagation::Private, false).is_err());
    }

    #[test]
    fn sizes_normalize_to_pages() {
        assert_eq!(parse_size("65536k"), Some(64 << 20));
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("50%"), None);
    }
}
