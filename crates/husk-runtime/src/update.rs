//! `update`: runc's per-resource flags, or a LinuxResources JSON from `--resources FILE|-`, into
//! `container::update`, with runc's value syntax and error words.

use std::io::Read;

use husk_core::container;
use husk_core::spec::{BlockIo, Cpu, Memory, Pids, Resources};

use crate::args::{self, opt, FlagSpec, Parsed};
use crate::Global;

const UPDATE_FLAGS: &[FlagSpec] = &[
    opt(&["resources", "r"]),
    opt(&["blkio-weight"]),
    opt(&["cpu-period"]),
    opt(&["cpu-quota"]),
    opt(&["cpu-burst"]),
    // runc spells it --cpu-share; --cpu-shares is what people (and docker) type.
    opt(&["cpu-share", "cpu-shares"]),
    opt(&["cpu-rt-period"]),
    opt(&["cpu-rt-runtime"]),
    opt(&["cpuset-cpus"]),
    opt(&["cpuset-mems"]),
    opt(&["cpu-idle"]),
    opt(&["kernel-memory"]),
    opt(&["kernel-memory-tcp"]),
    opt(&["memory"]),
    opt(&["memory-reservation"]),
    opt(&["memory-swap"]),
    opt(&["pids-limit"]),
    opt(&["l3-cache-schema"]),
    opt(&["mem-bw-schema"]),
];

pub fn update(g: &mut Global, rest: &[String]) -> Result<i32, String> {
    let p = args::parse(rest, UPDATE_FLAGS, false)?;
    let id = crate::commands::id_arg(&p, "update")?;
    // runc looks the container up before reading any value, so a missing one is reported first.
    container::load(&g.root, &id).map_err(|e| e.to_string())?;
    let request = match p.get("resources").filter(|r| !r.is_empty()) {
        Some(source) => read_resources(source)?,
        None => resources_from_flags(&p)?,
    };
    if p.get("l3-cache-schema").is_some_and(|v| !v.is_empty()) {
        return Err("Intel RDT/CAT: l3 cache schema is not enabled (husk does not support Intel RDT)".into());
    }
    if p.get("mem-bw-schema").is_some_and(|v| !v.is_empty()) {
        return Err("Intel RDT/MBA: memory bandwidth schema is not enabled (husk does not support Intel RDT)".into());
    }
    for warning in container::update(&g.root, &id, &request).map_err(|e| e.to_string())? {
        g.log.warn(&warning);
    }
    Ok(0)
}

/// The first JSON value of the file or stdin, as Go's json.Decoder reads it (the rest is ignored).
fn read_resources(source: &str) -> Result<Resources, String> {
    let mut data = Vec::new();
    let read = if source == "-" {
        std::io::stdin().read_to_end(&mut data)
    } else {
        std::fs::File::open(source).and_then(|mut f| f.read_to_end(&mut data))
    };
    read.map_err(|e| format!("open {source}: {e}"))?;
    match serde_json::Deserializer::from_slice(&data).into_iter::<Resources>().next() {
        Some(Ok(resources)) => Ok(resources),
        Some(Err(e)) => Err(format!("decode resources from {source}: {e}")),
        None => Err(format!("decode resources from {source}: EOF")),
    }
}

fn resources_from_flags(p: &Parsed) -> Result<Resources, String> {
    let value = |name: &str| p.get(name).filter(|v| !v.is_empty());
    let mut memory = Memory::default();
    for (name, field) in [
        ("memory", &mut memory.limit),
        ("memory-swap", &mut memory.swap),
        ("memory-reservation", &mut memory.reservation),
        ("kernel-memory", &mut memory.kernel),
        ("kernel-memory-tcp", &mut memory.kernel_tcp),
    ] {
        if let Some(v) = value(name) {
            let bytes = if v == "-1" { Ok(-1) } else { ram_in_bytes(v) };
            *field = Some(bytes.map_err(|e| format!("invalid value for {name}: {e}"))?);
        }
    }
    let mut cpu = Cpu { cpus: value("cpuset-cpus").map(str::to_string), mems: value("cpuset-mems").map(str::to_string), ..Cpu::default() };
    for (name, field) in [
        ("cpu-burst", &mut cpu.burst),
        ("cpu-period", &mut cpu.period),
        ("cpu-rt-period", &mut cpu.realtime_period),
        ("cpu-share", &mut cpu.shares),
    ] {
        if let Some(v) = value(name) {
            *field = Some(v.parse::<u64>().map_err(|_| format!("invalid value for {name}: strconv.ParseUint: parsing {v:?}: invalid syntax"))?);
        }
    }
    for (name, field) in [("cpu-quota", &mut cpu.quota), ("cpu-rt-runtime", &mut cpu.realtime_runtime), ("cpu-idle", &mut cpu.idle)] {
        if let Some(v) = value(name) {
            *field = Some(v.parse::<i64>().map_err(|_| format!("invalid value for {name}: strconv.ParseInt: parsing {v:?}: invalid syntax"))?);
        }
    }
    let int_flag = |name: &str| -> Result<Option<i64>, String> {
        p.get(name).map(|v| go_int(v).ok_or_else(|| format!("invalid value {v:?} for flag -{name}: parse error"))).transpose()
    };
    let weight = match int_flag("blkio-weight")? {
        Some(w) => Some(u16::try_from(w).map_err(|_| format!("invalid value for blkio-weight: {w} is out of range 10-1000"))?),
        None => None,
    };
    Ok(Resources {
        memory: Some(memory),
        cpu: Some(cpu),
        block_io: weight.map(|w| BlockIo { weight: Some(w), ..BlockIo::default() }),
        pids: int_flag("pids-limit")?.map(|limit| Pids { limit }),
        ..Resources::default()
    })
}

/// An integer as Go's strconv.ParseInt(s, 0, 64) reads it: sign, then decimal, 0x, 0o, 0b or 0 (octal).
fn go_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        (8, oct)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (2, bin)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// docker/go-units RAMInBytes as runc 1.1 links it: `^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`,
/// binary multiples, the fraction truncated.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let number_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    let number_ok = number.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !number_ok {
        return Err(invalid());
    }
    let mut rest = suffix.strip_prefix(' ').unwrap_or(suffix).chars().peekable();
    let shift = match rest.peek().map(|c| c.to_ascii_lowercase()) {
        Some(unit @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            rest.next();
            10 * (1 + "kmgtp".find(unit).unwrap_or(0) as u32)
        }
        _ => 0,
    };
    rest.next_if(|c| c.eq_ignore_ascii_case(&'i'));
    rest.next_if(|c| c.eq_ignore_ascii_case(&'b'));
    if rest.next().is_some() {
        return Err(invalid());
    }
    // The pattern lets "1.2.3" through to ParseFloat, which then refuses it.
    let size: f64 = number.parse().map_err(|_| format!("strconv.ParseFloat: parsing {number:?}: invalid syntax"))?;
    Ok((size * (1u64 << shift) as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_like_runc() {
        assert_eq!(ram_in_bytes("12345"), Ok(12345));
        assert_eq!(ram_in_bytes("200m"), Ok(200 << 20));
        assert_eq!(ram_in_bytes("1.5g"), Ok(1_610_612_736));
        assert_eq!(ram_in_bytes("100MiB"), Ok(100 << 20));
        assert_eq!(ram_in_bytes("10MB"), Ok(10 << 20));
        assert_eq!(ram_in_bytes("300 m"), Ok(300 << 20));
        assert_eq!(ram_in_bytes("10kib"), Ok(10 << 10));
        assert_eq!(ram_in_bytes("7b"), Ok(7));
        for bad in ["abc", "10x", "-5", "1e3", "0x10", " 5m", "10kbb", "m", ""] {
            assert_eq!(ram_in_bytes(bad), Err(format!("invalid size: '{bad}'")), "{bad:?}");
        }
        assert_eq!(ram_in_bytes("1.5.5m"), Err("strconv.ParseFloat: parsing \"1.5.5\": invalid syntax".into()));
    }

    #[test]
    fn parses_go_ints() {
        assert_eq!(go_int("42"), Some(42));
        assert_eq!(go_int("-1"), Some(-1));
        assert_eq!(go_int("0x10"), Some(16));
        assert_eq!(go_int("010"), Some(8));
        assert_eq!(go_int("0"), Some(0));
        assert_eq!(go_int("x"), None);
        assert_eq!(go_int(""), None);
        assert_eq!(go_int("99999999999999999999"), None);
    }

    #[test]
    fn flags_set_only_what_is_given() {
        let argv: Vec<String> = ["--memory", "64m", "--cpu-shares", "512", "--pids-limit", "20", "--cpuset-cpus", "0", "id"].iter().map(|s| s.to_string()).collect();
        let p = args::parse(&argv, UPDATE_FLAGS, false).unwrap();
        let r = serde_json::to_value(resources_from_flags(&p).unwrap()).unwrap();
        assert_eq!(r, serde_json::json!({"memory": {"limit": 67108864}, "cpu": {"shares": 512, "cpus": "0"}, "pids": {"limit": 20}}));
        let argv: Vec<String> = ["--cpu-quota", "x", "id"].iter().map(|s| s.to_string()).collect();
        let p = args::parse(&argv, UPDATE_FLAGS, false).unwrap();
        assert!(resources_from_flags(&p).unwrap_err().starts_with("invalid value for cpu-quota"));
    }
}
