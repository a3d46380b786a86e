//! /proc/self/mountinfo parsing (proc(5)): per-mount options, optional propagation fields,
//! filesystem type, source and superblock options.

#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    pub root: String,
    pub mount_point: String,
    pub options: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
}

impl MountEntry {
    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    /// The propagation tags ("shared:N", "master:N", "propagate_from:N", "unbindable").
    pub fn has_tag(&self, prefix: &str) -> bool {
        self.optional.iter().any(|t| t == prefix || t.starts_with(&format!("{prefix}:")))
    }

    /// The value of a superblock option `key=value`.
    pub fn super_option(&self, key: &str) -> Option<&str> {
        self.super_options.iter().find_map(|o| o.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }
}

pub fn read_self() -> Result<Vec<MountEntry>, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("read /proc/self/mountinfo: {e}"))?;
    Ok(parse(&text))
}

pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

/// The topmost mount at `mount_point` (later lines stack over earlier ones).
pub fn find_last<'a>(entries: &'a [MountEntry], mount_point: &str) -> Option<&'a MountEntry> {
    entries.iter().rev().find(|e| e.mount_point == mount_point)
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let separator = fields.iter().position(|f| *f == "-")?;
    if separator < 6 || fields.len() < separator + 3 {
        return None;
    }
    Some(MountEntry {
        root: unescape(fields[3]),
        mount_point: unescape(fields[4]),
        options: fields[5].split(',').map(str::to_string).collect(),
        optional: fields[6..separator].iter().map(|s| s.to_string()).collect(),
        fstype: fields[separator + 1].to_string(),
        source: unescape(fields[separator + 2]),
        super_options: fields.get(separator + 3).map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default(),
    })
}

// The kernel escapes space, tab, newline and backslash as \ooo octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let value = bytes[i + 1..i + 4].iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(value as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
36 35 98:0 /mnt1 /mnt\\040dir rw,nosuid shared:1 master:2 - ext3 /dev/root rw,errors=continue
40 22 0:30 / /proc ro,nodev unbindable - tmpfs shm ro,size=65536k,mode=755
";

    #[test]
    fn parses_fields_tags_and_escapes() {
        let mounts = parse(SAMPLE);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[1].mount_point, "/mnt dir");
        assert_eq!(mounts[1].root, "/mnt1");
        assert!(mounts[1].has_tag("shared") && mounts[1].has_tag("master"));
        assert!(!mounts[1].has_tag("unbindable"));
        assert!(mounts[1].has_option("nosuid"));
        assert_eq!(mounts[1].fstype, "ext3");
        assert_eq!(mounts[1].source, "/dev/root");
        assert_eq!(mounts[2].super_option("size"), Some("65536k"));
        assert_eq!(mounts[2].super_option("mode"), Some("755"));
    }

    #[test]
    fn find_last_returns_topmost() {
        let mounts = parse(SAMPLE);
        let top = find_last(&mounts, "/proc").unwrap();
        assert_eq!(top.fstype, "tmpfs");
        assert!(top.has_tag("unbindable"));
        assert!(find_last(&mounts, "/nope").is_none());
    }
}
