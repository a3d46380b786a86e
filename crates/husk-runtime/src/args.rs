//! runc's command-line grammar: global flags, a command, its flags and positionals.
//! Like Go's flag package, `-name` and `--name` are the same, and `--name=value` works.

use std::collections::HashMap;

/// A flag a command accepts: its names and whether it takes a value.
pub struct FlagSpec {
    pub names: &'static [&'static str],
    pub takes_value: bool,
}

pub const fn flag(names: &'static [&'static str]) -> FlagSpec {
    FlagSpec { names, takes_value: false }
}

pub const fn opt(names: &'static [&'static str]) -> FlagSpec {
    FlagSpec { names, takes_value: true }
}

#[derive(Debug, Default)]
pub struct Parsed {
    /// Keyed by the flag's first name; repeated flags keep every value.
    pub values: HashMap<&'static str, Vec<String>>,
    pub positionals: Vec<String>,
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(|s| s.as_str())
    }
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }
    /// A boolean flag: present (or `=true`) is true; `=false` is false.
    pub fn is_set(&self, name: &str) -> bool {
        matches!(self.get(name), Some(v) if v != "false" && v != "0")
    }
}

/// Parses `args`. With `stop_at_first_positional`, everything after the first positional is
/// positional too (exec's command line). Returns an error naming the unknown or incomplete flag.
pub fn parse(args: &[String], specs: &[FlagSpec], stop_at_first_positional: bool) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.positionals.extend(args[i..].iter().cloned());
            break;
        }
        if a.len() < 2 || !a.starts_with('-') || (stop_at_first_positional && !p.positionals.is_empty()) {
            p.positionals.push(a.clone());
            continue;
        }
        let body = a.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let spec = specs.iter().find(|s| s.names.contains(&name)).ok_or_else(|| format!("flag provided but not defined: -{name}"))?;
        let value = if spec.takes_value {
            match inline {
                Some(v) => v,
                None => {
                    let v = args.get(i).ok_or_else(|| format!("flag needs an argument: -{name}"))?;
                    i += 1;
                    v.clone()
                }
            }
        } else {
            inline.unwrap_or_else(|| "true".to_string())
        };
        p.values.entry(spec.names[0]).or_default().push(value);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_go_style_flags() {
        let specs = [opt(&["bundle", "b"]), flag(&["detach", "d"]), opt(&["pid-file"])];
        let p = parse(&s(&["-b", "/x", "--detach", "--pid-file=/p", "id1"]), &specs, false).unwrap();
        assert_eq!(p.get("bundle"), Some("/x"));
        assert!(p.is_set("detach"));
        assert_eq!(p.get("pid-file"), Some("/p"));
        assert_eq!(p.positionals, vec!["id1"]);
        let p = parse(&s(&["id1", "--bundle", "/y"]), &specs, false).unwrap();
        assert_eq!(p.get("bundle"), Some("/y"));
        assert!(parse(&s(&["--nope"]), &specs, false).unwrap_err().contains("-nope"));
        assert!(parse(&s(&["--bundle"]), &specs, false).is_err());
        let p = parse(&s(&["--detach=false", "x"]), &specs, false).unwrap();
        assert!(!p.is_set("detach"));
    }

    #[test]
    fn exec_stops_after_the_command_starts() {
        let specs = [flag(&["tty", "t"])];
        let p = parse(&s(&["-t", "id", "sh", "-c", "echo -t"]), &specs, true).unwrap();
        assert!(p.is_set("tty"));
        assert_eq!(p.positionals, vec!["id", "sh", "-c", "echo -t"]);
    }
}
