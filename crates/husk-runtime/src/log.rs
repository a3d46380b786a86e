//! runc-style logging: `--log FILE --log-format text|json`; containerd reads the last
//! `"level":"error"` line of the JSON log to show the user why a call failed.

use std::io::Write;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub struct Logger {
    file: Option<std::fs::File>,
    format: Format,
    pub debug: bool,
}

fn json_escape(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Logger {
    pub fn new(path: Option<&str>, format: Format, debug: bool) -> Result<Logger, String> {
        let file = match path {
            Some(p) if !p.is_empty() => Some(
                std::fs::OpenOptions::new().create(true).append(true).open(p).map_err(|e| format!("open log file {p}: {e}"))?,
            ),
            _ => None,
        };
        Ok(Logger { file, format, debug })
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = husk_core::state::rfc3339_now();
        match self.format {
            Format::Json => format!("{{\"level\":\"{level}\",\"msg\":{},\"time\":\"{time}\"}}\n", json_escape(msg)),
            Format::Text => format!("time=\"{time}\" level={level} msg={}\n", json_escape(msg)),
        }
    }

    pub fn log(&mut self, level: &str, msg: &str) {
        if level == "debug" && !self.debug {
            return;
        }
        let line = self.line(level, msg);
        match &mut self.file {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None if level != "error" => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            None => {}
        }
    }

    /// An error goes to the log and, as runc does, to stderr for whoever ran us.
    pub fn error(&mut self, msg: &str) {
        self.log("error", msg);
        let _ = writeln!(std::io::stderr(), "{}", self.line("error", msg).trim_end());
    }

    pub fn warn(&mut self, msg: &str) {
        self.log("warning", msg);
    }
}
