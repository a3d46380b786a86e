//! Image exports: layer unpack on the thread pool. Results resolve as `{ok, stats}` or
//! `{ok: false, code, message}` so husk-image's own error codes reach JS unchanged.

use std::path::PathBuf;

use husk_image::{Compression, UnpackOptions, WhiteoutMode};
use serde_json::{json, Value};

use crate::env::{Args, JsError};
use crate::export::{job, Job};

/// `unpackLayer(blobPath, destDir, options): Promise<UnpackOutcome>`
pub fn unpack_layer(args: &Args) -> Result<Job, JsError> {
    let blob = PathBuf::from(args.string(0, "blobPath")?);
    let dest = PathBuf::from(args.string(1, "destDir")?);
    let options = unpack_options(&args.json(2, "options")?)?;
    Ok(job(move || {
        let outcome = match husk_image::unpack_layer_file(&blob, &dest, &options) {
            Ok(stats) => json!({ "ok": true, "stats": stats }),
            Err(err) => json!({ "ok": false, "code": err.code(), "message": err.to_string() }),
        };
        Ok(outcome.to_string())
    }))
}

fn unpack_options(value: &Value) -> Result<UnpackOptions, JsError> {
    let invalid = |msg: String| {
        JsError::from(husk_core::Error::InvalidArgument(format!(
            "argument options: {msg}"
        )))
    };
    let text = |key: &str| -> Result<Option<String>, JsError> {
        match value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(format!("{key}: expected a string, got {other}"))),
        }
    };
    let whiteouts = match text("whiteouts")?.as_deref() {
        None | Some("overlay") => WhiteoutMode::Overlay,
        Some("flatten") => WhiteoutMode::Flatten,
        Some(other) => {
            return Err(invalid(format!(
                "whiteouts: \"{other}\" is not overlay or flatten"
            )))
        }
    };
    let compression = match text("compression")?.as_deref() {
        None | Some("auto") => Compression::Auto,
        Some("gzip") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some("none") => Compression::None,
        Some(other) => {
            return Err(invalid(format!(
                "compression: \"{other}\" is not auto, gzip, zstd or none"
            )))
        }
    };
    let mut options = UnpackOptions {
        whiteouts,
        compression,
        expected_digest: text("expectedDigest")?,
        expected_diff_id: text("expectedDiffId")?,
        ..UnpackOptions::default()
    };
    match value.get("sameOwner") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => options.same_owner = *b,
        Some(other) => {
            return Err(invalid(format!(
                "sameOwner: expected a boolean, got {other}"
            )))
        }
    }
    match value.get("lowerDirs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(dirs)) => {
            for dir in dirs {
                let dir = dir
                    .as_str()
                    .ok_or_else(|| invalid(format!("lowerDirs: {dir} is not a string")))?;
                options.lower_dirs.push(PathBuf::from(dir));
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "lowerDirs: expected an array, got {other}"
            )))
        }
    }
    Ok(options)
}
