//! Device access rules: runc's default allow list and the v1 devices.allow/devices.deny lines.

use crate::error::{Error, Result};
use crate::spec::{Device, DeviceCgroup};

/// A rule runc adds by default; `path` is the device node it belongs to, if any.
struct DefaultRule {
    path: Option<&'static str>,
    typ: &'static str,
    major: Option<i64>,
    minor: Option<i64>,
    access: &'static str,
}

const fn rule(
    path: Option<&'static str>,
    typ: &'static str,
    major: Option<i64>,
    minor: Option<i64>,
    access: &'static str,
) -> DefaultRule {
    DefaultRule { path, typ, major, minor, access }
}

/// What runc allows after the spec's own rules (specconv's AllowedDevices): mknod of any device,
/// the standard character devices, /dev/pts/*, /dev/ptmx and /dev/net/tun.
const DEFAULT_ALLOWED: &[DefaultRule] = &[
    rule(None, "c", None, None, "m"),
    rule(None, "b", None, None, "m"),
    rule(Some("/dev/null"), "c", Some(1), Some(3), "rwm"),
    rule(Some("/dev/random"), "c", Some(1), Some(8), "rwm"),
    rule(Some("/dev/full"), "c", Some(1), Some(7), "rwm"),
    rule(Some("/dev/tty"), "c", Some(5), Some(0), "rwm"),
    rule(Some("/dev/zero"), "c", Some(1), Some(5), "rwm"),
    rule(Some("/dev/urandom"), "c", Some(1), Some(9), "rwm"),
    rule(None, "c", Some(136), None, "rwm"),
    rule(None, "c", Some(5), Some(2), "rwm"),
    rule(None, "c", Some(10), Some(200), "rwm"),
];

fn allow(typ: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceCgroup {
    DeviceCgroup { allow: true, typ: Some(typ.to_string()), major, minor, access: Some(access.to_string()) }
}

/// The rules runc enforces for a spec: its resources.devices, then runc's defaults, minus a
/// default whose node linux.devices redefines (runc's createDevices; linux.devices grant nothing).
pub fn effective_rules(spec_rules: &[DeviceCgroup], linux_devices: &[Device]) -> Vec<DeviceCgroup> {
    let redefined = |path: Option<&str>| path.is_some_and(|p| linux_devices.iter().any(|d| d.path == p));
    let defaults = DEFAULT_ALLOWED.iter().filter(|d| !redefined(d.path));
    spec_rules.iter().cloned().chain(defaults.map(|d| allow(d.typ, d.major, d.minor, d.access))).collect()
}

/// A device type a rule names; `All` ("a") resets the whole list instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum DevType {
    All,
    Block,
    Char,
}

/// Access bits, with the kernel's values (BPF_DEVCG_ACC_*): mknod, read, write.
pub(super) const ACC_MKNOD: u8 = 1;
pub(super) const ACC_READ: u8 = 2;
pub(super) const ACC_WRITE: u8 = 4;
pub(super) const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One linux.resources.devices entry, checked: `None` major/minor is the wildcard `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rule {
    pub allow: bool,
    pub typ: DevType,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// Checks a spec rule once for both enforcers (the v1 files and the v2 eBPF program): type
/// a/b/c (u = c), numbers absent or negative for `*` and at most u32, access non-empty "rwm".
pub(super) fn parse_rule(rule: &DeviceCgroup) -> Result<Rule> {
    let typ = match rule.typ.as_deref().unwrap_or("a") {
        "" | "a" => DevType::All,
        "c" | "u" => DevType::Char,
        "b" => DevType::Block,
        other => return Err(Error::spec("linux.resources.devices.type", format!("unknown device type {other:?}"))),
    };
    let number = |field: &str, n: Option<i64>| match n {
        Some(n) if n > i64::from(u32::MAX) => {
            Err(Error::spec(format!("linux.resources.devices.{field}"), format!("{n} is out of range")))
        }
        Some(n) if n >= 0 => Ok(Some(n as u32)),
        _ => Ok(None),
    };
    let text = rule.access.as_deref().unwrap_or("");
    let mut access = 0;
    for c in text.chars() {
        access |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0xff,
        };
    }
    if access == 0 || access > ACC_ALL {
        return Err(Error::spec("linux.resources.devices.access", format!("invalid access {text:?}")));
    }
    Ok(Rule { allow: rule.allow, typ, major: number("major", rule.major)?, minor: number("minor", rule.minor)?, access })
}

impl std::fmt::Display for Rule {
    /// The devices.list syntax: "c 1:3 rwm", "a *:* rwm".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let typ = match self.typ {
            DevType::All => 'a',
            DevType::Block => 'b',
            DevType::Char => 'c',
        };
        let number = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        write!(f, "{typ} {}:{} {}", number(self.major), number(self.minor), access_string(self.access))
    }
}

/// Access bits as "rwm" letters, in that order.
fn access_string(access: u8) -> String {
    [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')].iter().filter(|(bit, _)| access & bit != 0).map(|(_, c)| c).collect()
}

/// The line written to devices.allow or devices.deny: "c 1:3 rwm", "a *:* rwm".
pub fn v1_rule_line(rule: &DeviceCgroup) -> Result<String> {
    parse_rule(rule).map(|r| r.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_lines_match_the_kernel_syntax() {
        let deny_all = DeviceCgroup { allow: false, typ: None, major: None, minor: None, access: Some("rwm".into()) };
        assert_eq!(v1_rule_line(&deny_all).unwrap(), "a *:* rwm");
        assert_eq!(v1_rule_line(&allow("c", Some(1), Some(3), "rw")).unwrap(), "c 1:3 rw");
        assert_eq!(v1_rule_line(&allow("c", Some(136), Some(-1), "rwm")).unwrap(), "c 136:* rwm");
        assert!(v1_rule_line(&allow("x", None, None, "rwm")).is_err());
        assert!(v1_rule_line(&allow("c", None, None, "rwx")).is_err());
        assert!(v1_rule_line(&allow("c", None, None, "")).is_err());
    }

    #[test]
    fn effective_rules_append_defaults_not_redefined_by_linux_devices() {
        let deny_all = DeviceCgroup { allow: false, access: Some("rwm".into()), ..Default::default() };
        let rules = effective_rules(&[deny_all], &[]);
        assert_eq!(rules.len(), DEFAULT_ALLOWED.len() + 1);
        assert_eq!(v1_rule_line(&rules[0]).unwrap(), "a *:* rwm");
        assert_eq!(v1_rule_line(rules.last().unwrap()).unwrap(), "c 10:200 rwm");
        let null = Device { typ: "c".into(), path: "/dev/null".into(), major: 1, minor: 3, ..Default::default() };
        let rules = effective_rules(&[], &[null]);
        assert_eq!(rules.len(), DEFAULT_ALLOWED.len() - 1);
        assert!(rules.iter().all(|r| r.minor != Some(3) || r.major != Some(1)));
    }
}
