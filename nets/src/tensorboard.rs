//! TensorBoard event files, written directly.
//!
//! A file is a sequence of TFRecords — `u64` length, masked CRC32C of the length, the payload, the
//! masked CRC32C of the payload (all little-endian) — whose payloads are `Event` protobufs. Ember
//! needs three kinds of event: the `file_version` header, scalar summaries, and a
//! `SessionLog(START)` written when a run resumes, which tells TensorBoard to drop the steps the
//! killed process logged after its last checkpoint. That is a few dozen lines of protobuf, so
//! they are written here rather than through `tensorboard-rs` 0.5.9, which works (see
//! `shared/NOTES.md`) but panics on any I/O error (`expect("")` in its writer thread), cannot
//! report a failed write to the caller, and pulls in `image` 0.23 and `protobuf` 2.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{NetsError, Result};

/// Writes one `events.out.tfevents.*` file in a log directory.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates a new event file in `dir` (creating `dir`), named as TensorBoard expects:
    /// `events.out.tfevents.<seconds>.<host>.<pid>.<n>`, `n` making the name unique.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| NetsError::io(dir, e))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let host = hostname();
        let pid = std::process::id();
        for n in 0.. {
            let path = dir.join(format!("events.out.tfevents.{secs:010}.{host}.{pid}.{n}"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    let mut w = EventWriter {
                        path,
                        out: BufWriter::new(file),
                    };
                    w.write_event(&event(
                        wall_time(),
                        0,
                        EventBody::FileVersion("brain.Event:2"),
                    ))?;
                    w.flush()?;
                    return Ok(w);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(NetsError::io(path, e)),
            }
        }
        unreachable!("an unbounded range always yields a free name or an error")
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs a scalar under `tag` at `step`.
    pub fn scalar(&mut self, tag: &str, step: u64, value: f32) -> Result<()> {
        self.write_event(&event(wall_time(), step, EventBody::Scalar { tag, value }))
    }

    /// Marks a (re)start at `step`: TensorBoard discards events with a step at or after `step`
    /// that earlier files of the run logged (what a killed run wrote after its last checkpoint).
    pub fn session_start(&mut self, step: u64) -> Result<()> {
        self.write_event(&event(wall_time(), step, EventBody::SessionStart))
    }

    /// Flushes buffered events to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| NetsError::io(&self.path, e))
    }

    fn write_event(&mut self, payload: &[u8]) -> Result<()> {
        let len = (payload.len() as u64).to_le_bytes();
        let mut rec = Vec::with_capacity(payload.len() + 16);
        rec.extend_from_slice(&len);
        rec.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        rec.extend_from_slice(payload);
        rec.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
        self.out
            .write_all(&rec)
            .map_err(|e| NetsError::io(&self.path, e))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let clean: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if clean.is_empty() {
        "localhost".to_string()
    } else {
        clean
    }
}

// --- protobuf: just the fields of `tensorflow.Event` Ember writes ----------------------------

enum EventBody<'a> {
    FileVersion(&'a str),
    Scalar { tag: &'a str, value: f32 },
    SessionStart,
}

/// `Event { wall_time = 1 (double), step = 2 (int64), file_version = 3, summary = 5,
/// session_log = 7 }`; `Summary { repeated Value value = 1 }`, `Value { tag = 1,
/// simple_value = 2 (float) }`, `SessionLog { status = 1 (enum, START = 1) }`.
fn event(wall_time: f64, step: u64, body: EventBody<'_>) -> Vec<u8> {
    let mut e = Vec::with_capacity(64);
    key(&mut e, 1, 1);
    e.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        key(&mut e, 2, 0);
        varint(&mut e, step);
    }
    match body {
        EventBody::FileVersion(v) => bytes_field(&mut e, 3, v.as_bytes()),
        EventBody::Scalar { tag, value } => {
            let mut v = Vec::with_capacity(tag.len() + 8);
            bytes_field(&mut v, 1, tag.as_bytes());
            key(&mut v, 2, 5);
            v.extend_from_slice(&value.to_le_bytes());
            let mut summary = Vec::with_capacity(v.len() + 2);
            bytes_field(&mut summary, 1, &v);
            bytes_field(&mut e, 5, &summary);
        }
        EventBody::SessionStart => {
            let mut log = Vec::new();
            key(&mut log, 1, 0);
            varint(&mut log, 1);
            bytes_field(&mut e, 7, &log);
        }
    }
    e
}

fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
    varint(out, (field << 3) | wire);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(out: &mut Vec<u8>, field: u64, data: &[u8]) {
    key(out, field, 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

// --- CRC32C (Castagnoli), as TFRecord masks it -----------------------------------------------

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

/// CRC-32C of `data` (also what checkpoints use to detect corruption).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c_update(0, data)
}

/// Continues a CRC-32C over more data: `crc32c_update(crc32c(a), b) == crc32c(a ++ b)`.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC32C[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    c.rotate_right(15).wrapping_add(0xA282_EAD8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The CRC-32C check value (RFC 3720, B.4): "123456789" → 0xE3069283.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_update(crc32c(b"1234"), b"56789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn varints_encode_as_protobuf() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xAC, 0x02]);
    }

    #[test]
    fn records_are_framed_and_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalar("a/b", 7, 1.5).unwrap();
        w.flush().unwrap();
        let name = w.path().file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("events.out.tfevents."), "{name}");
        let bytes = std::fs::read(w.path()).unwrap();
        let mut at = 0;
        let mut n = 0;
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            let lcrc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(lcrc, masked_crc32c(&bytes[at..at + 8]));
            let data = &bytes[at + 12..at + 12 + len];
            let dcrc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
            assert_eq!(dcrc, masked_crc32c(data));
            at += 16 + len;
            n += 1;
        }
        assert_eq!(n, 2, "header and one scalar");
    }
}
