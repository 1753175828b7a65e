//! TensorBoard event files, written directly.
//!
//! A file is a sequence of TFRecords — `u64` length, masked CRC32C of the length, the payload, the
//! masked CRC32C of the payload (all little-endian) — whose payloads are `Event` protobufs. Ember
//! needs three kinds of event: the `file_version` header, scalar summaries, and a
//! `SessionLog(START)` written when a run resumes, which tells TensorBoard to drop the steps the
//! killed process logged after its last checkpoint. That is a few dozen lines of protobuf, so
//! they are written (and, for `ember plot`, read back by [`read_scalars`]) here rather than
//! through `tensorboard-rs` 0.5.9, which works but panics on any I/O error (`expect("")` in its
//! writer thread), cannot report a failed write to the caller, and pulls in `image` 0.23 and
//! `protobuf` 2.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::crc::crc32c;
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

// --- reading: scalars back from event files (for `ember plot`) --------------------------------

/// One logged scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarEvent {
    /// The global step it was logged at.
    pub step: u64,
    /// Seconds since the Unix epoch when it was written.
    pub wall_time: f64,
    /// The value.
    pub value: f32,
}

/// The largest event file [`read_scalars`] reads (1 GiB); only regular files are read.
pub const EVENT_FILE_LIMIT: u64 = 1 << 30;

/// Every scalar in a run's log directory, by tag, each series sorted by step.
///
/// Reads all `events.out.tfevents.*` files of `dir` in the order they were created and applies
/// resume markers as TensorBoard does: a `SessionLog(START)` at step `s` in a later file drops
/// what earlier files logged at steps `>= s` (a killed run's steps after its last checkpoint).
/// A record cut short at the end of a file (a process killed mid-write) ends that file; a
/// checksum mismatch anywhere else is an error naming the file and byte offset. Only
/// `simple_value` scalars are read (what Ember, PyTorch's and TensorFlow 1's writers log).
pub fn read_scalars(dir: impl AsRef<Path>) -> Result<Scalars> {
    let mut r = ScalarReader::new(dir);
    r.update()?;
    Ok(r.series)
}

/// Scalars by tag, each series sorted by step.
pub type Scalars = std::collections::BTreeMap<String, Vec<ScalarEvent>>;

/// A run's event files, oldest first (the name carries the creation second, then host, pid and
/// a counter); an error when there are none.
fn event_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| NetsError::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("events.out.tfevents."))
        })
        .collect();
    if files.is_empty() {
        return Err(NetsError::EventFile {
            path: dir.to_path_buf(),
            reason: "no TensorBoard event files (events.out.tfevents.*) in this directory".into(),
        });
    }
    files.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let secs: u64 = name
            .trim_start_matches("events.out.tfevents.")
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (secs, name.to_string())
    });
    Ok(files)
}

/// How far a [`ScalarReader`] has read one event file.
#[derive(Debug, Clone)]
struct FileRead {
    path: PathBuf,
    /// The end of its last whole record: where the next read starts.
    offset: u64,
    /// Its length when last read.
    len: u64,
}

/// A run's scalars, read incrementally: [`ScalarReader::update`] reads only what was appended
/// to the event files since the last call, from the end of the last whole record of each (a
/// record still being written is read once it is whole), and gives the same scalars as
/// [`read_scalars`] would. Event files are taken to grow only by appending, as writers do: a
/// file that shrank, a new file that sorts before one already read, or an earlier file that
/// changed length once a later one exists (its new records would come before the later file's
/// resume marker) makes the next update read everything again. New records of the newest file
/// read, then those of files newer than it, are read in that order, as a full read would.
#[derive(Debug)]
pub struct ScalarReader {
    dir: PathBuf,
    files: Vec<FileRead>,
    series: Scalars,
    bytes_read: u64,
}

impl ScalarReader {
    /// A reader of `dir`'s event files; nothing is read until [`ScalarReader::update`].
    pub fn new(dir: impl AsRef<Path>) -> ScalarReader {
        ScalarReader {
            dir: dir.as_ref().to_path_buf(),
            files: Vec::new(),
            series: Scalars::new(),
            bytes_read: 0,
        }
    }

    /// The scalars read so far, each series sorted by step.
    pub fn scalars(&self) -> &Scalars {
        &self.series
    }

    /// How many bytes of event files this reader has read in all (what a full re-read would
    /// read again each time).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Reads what was appended since the last call; `true` when the scalars may have changed.
    /// On an error the reader starts over at the next call.
    pub fn update(&mut self) -> Result<bool> {
        let r = self.try_update();
        if r.is_err() {
            self.files.clear();
            self.series.clear();
        }
        r
    }

    fn try_update(&mut self) -> Result<bool> {
        let files = event_files(&self.dir)?;
        let lens: Vec<u64> = files
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .collect();
        let n = self.files.len();
        let fresh = n == 0
            || files.len() < n
            || self.files.iter().zip(&files).any(|(f, p)| &f.path != p)
            || self
                .files
                .iter()
                .zip(&lens)
                .enumerate()
                .any(|(i, (f, &len))| len < f.len || (len != f.len && i + 1 < n));
        if fresh {
            self.files.clear();
            self.series.clear();
        }
        let mut changed = fresh;
        for (i, path) in files.iter().enumerate() {
            if let Some(f) = self.files.get(i)
                && f.len == lens[i]
            {
                continue;
            }
            let offset = self.files.get(i).map_or(0, |f| f.offset);
            let bytes = ember_envs::files::read_regular_from(path, offset, EVENT_FILE_LIMIT)
                .map_err(|e| NetsError::io(path, e))?;
            self.bytes_read += bytes.len() as u64;
            let (payloads, used) = records(&bytes, path, offset)?;
            for record in payloads {
                apply(&mut self.series, parse_event(record, path)?);
                changed = true;
            }
            let read = FileRead {
                path: path.clone(),
                offset: offset + used as u64,
                len: offset + bytes.len() as u64,
            };
            match self.files.get_mut(i) {
                Some(f) => *f = read,
                None => self.files.push(read),
            }
        }
        if changed {
            for series in self.series.values_mut() {
                // Stable: points logged at the same step keep the order they were read in.
                series.sort_by_key(|e| e.step);
            }
        }
        Ok(changed)
    }
}

/// Adds one event's scalars to `series`, or applies its resume marker.
fn apply(series: &mut Scalars, parsed: Parsed) {
    match parsed {
        Parsed::Scalars(step, wall_time, values) => {
            for (tag, value) in values {
                series.entry(tag).or_default().push(ScalarEvent {
                    step,
                    wall_time,
                    value,
                });
            }
        }
        Parsed::SessionStart(step) => {
            for s in series.values_mut() {
                s.retain(|e| e.step < step);
            }
        }
        Parsed::Other => {}
    }
}

/// The payloads of the whole TFRecords in `bytes` (a file's bytes from `base` on), and how many
/// bytes they take; a record cut short at the end is left for a later read.
fn records<'a>(bytes: &'a [u8], path: &Path, base: u64) -> Result<(Vec<&'a [u8]>, usize)> {
    let corrupt = |at: usize, what: &str| NetsError::EventFile {
        path: path.to_path_buf(),
        reason: format!("corrupt event file at byte {}: {what}", base + at as u64),
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if bytes.len() - at < 12 {
            break; // a header cut short: the writer was killed (or is still) mid-record
        }
        let len_bytes = &bytes[at..at + 8];
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        if len_crc != masked_crc32c(len_bytes) {
            return Err(corrupt(at, "record length checksum mismatch"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| (at + 12).checked_add(l))
            .and_then(|e| e.checked_add(4))
        else {
            return Err(corrupt(at, "record length out of range"));
        };
        if end > bytes.len() {
            break; // a payload cut short
        }
        let data = &bytes[at + 12..end - 4];
        let data_crc = u32::from_le_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        if data_crc != masked_crc32c(data) {
            return Err(corrupt(at, "record payload checksum mismatch"));
        }
        out.push(data);
        at = end;
    }
    Ok((out, at))
}

enum Parsed {
    Scalars(u64, f64, Vec<(String, f32)>),
    SessionStart(u64),
    Other,
}

/// Decodes the `Event` fields Ember reads; unknown fields are skipped.
fn parse_event(data: &[u8], path: &Path) -> Result<Parsed> {
    let bad = || NetsError::EventFile {
        path: path.to_path_buf(),
        reason: "malformed Event protobuf in a record whose checksum is right".into(),
    };
    let mut wall_time = 0.0;
    let mut step = 0u64;
    let mut values = Vec::new();
    let mut start = false;
    for field in Fields::new(data) {
        match field.ok_or_else(bad)? {
            (1, Value::Fixed64(v)) => wall_time = f64::from_bits(v),
            (2, Value::Varint(v)) => step = v,
            (5, Value::Bytes(summary)) => {
                for field in Fields::new(summary) {
                    if let (1, Value::Bytes(value)) = field.ok_or_else(bad)? {
                        let mut tag = None;
                        let mut simple = None;
                        for field in Fields::new(value) {
                            match field.ok_or_else(bad)? {
                                (1, Value::Bytes(t)) => {
                                    tag = Some(String::from_utf8_lossy(t).into_owned())
                                }
                                (2, Value::Fixed32(v)) => simple = Some(f32::from_bits(v)),
                                _ => {}
                            }
                        }
                        if let (Some(tag), Some(v)) = (tag, simple) {
                            values.push((tag, v));
                        }
                    }
                }
            }
            (7, Value::Bytes(log)) => {
                for field in Fields::new(log) {
                    if let (1, Value::Varint(1)) = field.ok_or_else(bad)? {
                        start = true;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(if start {
        Parsed::SessionStart(step)
    } else if !values.is_empty() {
        Parsed::Scalars(step, wall_time, values)
    } else {
        Parsed::Other
    })
}

enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates a protobuf message's `(field number, value)` pairs; `None` on malformed input.
struct Fields<'a> {
    data: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(data: &'a [u8]) -> Self {
        Fields {
            data,
            at: 0,
            failed: false,
        }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.at)?;
            self.at += 1;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.data.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn field(&mut self) -> Option<(u64, Value<'a>)> {
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            2 => {
                let n = usize::try_from(self.varint()?).ok()?;
                Value::Bytes(self.take(n)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            _ => return None,
        };
        Some((key >> 3, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<(u64, Value<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.data.len() {
            return None;
        }
        let f = self.field();
        self.failed = f.is_none();
        Some(f)
    }
}

// --- CRC32C (Castagnoli), as TFRecord masks it -----------------------------------------------

fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    c.rotate_right(15).wrapping_add(0xA282_EAD8)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    #[test]
    fn scalars_read_back_with_resume_markers_applied() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = EventWriter::create(dir.path()).unwrap();
            for step in [10, 20, 30, 40] {
                w.scalar("charts/episodic_return", step, step as f32 / 10.0)
                    .unwrap();
            }
            w.scalar("losses/td_loss", 25, 0.5).unwrap();
        }
        // A resumed run (later file): drops steps >= 30 logged before, then logs again.
        std::thread::sleep(std::time::Duration::from_millis(5));
        {
            let mut w = EventWriter::create(dir.path()).unwrap();
            w.session_start(30).unwrap();
            w.scalar("charts/episodic_return", 35, -1.0).unwrap();
        }
        let s = read_scalars(dir.path()).unwrap();
        let ret: Vec<(u64, f32)> = s["charts/episodic_return"]
            .iter()
            .map(|e| (e.step, e.value))
            .collect();
        assert_eq!(ret, [(10, 1.0), (20, 2.0), (35, -1.0)]);
        assert_eq!(s["losses/td_loss"].len(), 1);
        assert!(s["losses/td_loss"][0].wall_time > 1.0e9);
    }

    #[test]
    fn a_reader_reads_only_what_was_appended_and_agrees_with_a_full_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let len = |p: &Path| std::fs::metadata(p).unwrap().len();
        let path = {
            let mut w = EventWriter::create(d).unwrap();
            for step in 0..50 {
                w.scalar("a", step, step as f32).unwrap();
            }
            w.path().to_path_buf()
        };
        let mut r = ScalarReader::new(d);
        assert!(r.update().unwrap());
        assert_eq!(r.bytes_read(), len(&path));
        assert_eq!(r.scalars(), &read_scalars(d).unwrap());
        assert_eq!(r.scalars()["a"].len(), 50);
        assert!(!r.update().unwrap(), "nothing new");
        assert_eq!(r.bytes_read(), len(&path));
        // One more record, appended in two writes: half of it is left until it is whole.
        let record = {
            let other = tempfile::tempdir().unwrap();
            let mut w = EventWriter::create(other.path()).unwrap();
            w.scalar("b", 60, 6.0).unwrap();
            w.flush().unwrap();
            let bytes = std::fs::read(w.path()).unwrap();
            let header = 16 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            bytes[header..].to_vec()
        };
        let append = |b: &[u8]| {
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(b).unwrap();
        };
        append(&record[..10]);
        let before = r.bytes_read();
        assert!(!r.update().unwrap());
        assert_eq!(r.bytes_read(), before + 10);
        append(&record[10..]);
        assert!(r.update().unwrap());
        assert_eq!(
            r.bytes_read(),
            before + record.len() as u64 + 10,
            "the cut part again"
        );
        assert_eq!(r.scalars(), &read_scalars(d).unwrap());
        assert_eq!(r.scalars()["b"][0].step, 60);
        // A resumed run's new file: only it is read, and its marker drops steps >= 20.
        let second = {
            let mut w = EventWriter::create(d).unwrap();
            w.session_start(20).unwrap();
            w.scalar("a", 25, -1.0).unwrap();
            w.path().to_path_buf()
        };
        let before = r.bytes_read();
        assert!(r.update().unwrap());
        assert_eq!(r.bytes_read(), before + len(&second));
        assert_eq!(r.scalars(), &read_scalars(d).unwrap());
        assert_eq!(r.scalars()["a"].len(), 21);
        assert!(r.scalars()["b"].is_empty());
        // An earlier file that grows once a later one exists: everything is read again.
        append(&record);
        let before = r.bytes_read();
        assert!(r.update().unwrap());
        assert_eq!(r.bytes_read(), before + len(&path) + len(&second));
        assert_eq!(r.scalars(), &read_scalars(d).unwrap());
        // A file that shrank (rewritten): everything again too.
        std::fs::write(&second, b"").unwrap();
        assert!(r.update().unwrap());
        assert_eq!(r.scalars(), &read_scalars(d).unwrap());
        assert_eq!(r.scalars()["b"].len(), 2);
    }

    #[test]
    fn reading_tolerates_a_cut_tail_and_rejects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = {
            let mut w = EventWriter::create(dir.path()).unwrap();
            w.scalar("a", 1, 1.0).unwrap();
            w.scalar("a", 2, 2.0).unwrap();
            w.path().to_path_buf()
        };
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(
            read_scalars(dir.path()).unwrap()["a"].len(),
            1,
            "cut record dropped"
        );
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 8] ^= 0x40;
        std::fs::write(&path, &flipped).unwrap();
        let err = read_scalars(dir.path()).unwrap_err().to_string();
        assert!(err.contains("corrupt event file at byte"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = read_scalars(empty.path()).unwrap_err().to_string();
        assert!(err.contains("no TensorBoard event files"), "{err}");
    }
}
