//! `events`: `--stats` prints one stats event; otherwise a stream of stats (every `--interval`,
//! a Go duration, default 5s) and OOM events, one JSON line each, until the container stops.

use std::io::Write;
use std::time::Duration;

use husk_core::container::{self, Event};

use crate::args::{self, flag, opt, FlagSpec};
use crate::Global;

const EVENTS_FLAGS: &[FlagSpec] = &[opt(&["interval"]), flag(&["stats"])];

const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

pub fn events(g: &mut Global, rest: &[String]) -> Result<i32, String> {
    let p = args::parse(rest, EVENTS_FLAGS, false)?;
    let id = crate::commands::id_arg(&p, "events")?;
    let interval_nanos = match p.get("interval") {
        Some(v) => go_duration_nanos(v).ok_or_else(|| format!("invalid value {v:?} for flag -interval: parse error"))?,
        None => DEFAULT_INTERVAL.as_nanos() as i128,
    };
    // runc's order: a missing container, then the interval, then a stopped container.
    container::load(&g.root, &id).map_err(|e| e.to_string())?;
    if interval_nanos <= 0 {
        return Err("duration interval must be greater than 0".into());
    }
    let interval = Duration::from_nanos(u64::try_from(interval_nanos).unwrap_or(u64::MAX));
    if p.is_set("stats") {
        let stats = container::stats(&g.root, &id).map_err(|e| e.to_string())?;
        print_event(&Event::stats(&id, stats));
        return Ok(0);
    }
    let log = &mut g.log;
    container::watch(&g.root, &id, interval, |event| match event {
        Ok(event) => print_event(&event),
        Err(e) => {
            log.error(&e.to_string());
            true
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(0)
}

/// One compact JSON line, flushed at once; false when stdout is gone (the stream then ends).
fn print_event(event: &Event) -> bool {
    let Ok(line) = serde_json::to_string(event) else { return true };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
}

/// Go's time.ParseDuration: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or "0"; in nanoseconds.
fn go_duration_nanos(s: &str) -> Option<i128> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_end);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len())),
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_end = after.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let unit_nanos: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
        // Go keeps at most the precision an int64 holds; 18 fraction digits is plenty for ns.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        let frac: i128 = if frac_digits.is_empty() { 0 } else { frac_digits.parse().ok()? };
        total = total.checked_add(whole.checked_mul(unit_nanos)? + frac * unit_nanos / 10i128.pow(frac_digits.len() as u32))?;
        if total > i64::MAX as i128 {
            return None;
        }
        rest = next;
    }
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::go_duration_nanos as d;

    #[test]
    fn parses_go_durations() {
        assert_eq!(d("5s"), Some(5_000_000_000));
        assert_eq!(d("100ms"), Some(100_000_000));
        assert_eq!(d("1.5s"), Some(1_500_000_000));
        assert_eq!(d(".5s"), Some(500_000_000));
        assert_eq!(d("1h30m"), Some(5_400_000_000_000));
        assert_eq!(d("300us"), Some(300_000));
        assert_eq!(d("2µs"), Some(2_000));
        assert_eq!(d("-1s"), Some(-1_000_000_000));
        assert_eq!(d("0"), Some(0));
        for bad in ["", "1", "abc", "5", "s", ".s", "1x", "1s2", "9999999999h"] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
    }
}
