//! The runs under `--runs`: which exist, their status, config, summary and learning curves
//! (read with `ember_nets::tensorboard::read_scalars`, the reader `ember plot` uses).
//!
//! A run is named by its directory's name, one level under the root. A name is checked before
//! anything is opened ([`RunsRoot::resolve`]): plain characters only, no `.`/`..`, no separators,
//! and the directory it names, symlinks resolved, must sit directly under the canonical root.
//! So no request can make the server read outside `--runs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ember_nets::tensorboard::ScalarReader;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// A run that wrote nothing for this long and has no `summary.json` is taken as stopped
/// (`killed`): run directories hold no lock or process id, so recent writes are the evidence
/// of a live run (the progress writes events at least every few seconds while training).
pub const RUNNING_WINDOW: Duration = Duration::from_secs(300);

/// The directory `--runs` names, canonicalized once at start; or none (a server that
/// `ember match --serve` started: no run is listed or found, nothing is read).
#[derive(Debug, Clone)]
pub struct RunsRoot {
    root: Option<PathBuf>,
}

/// Whether `name` may name something under the root: 1 to 200 of `[A-Za-z0-9._-]`, not
/// starting with a dot (so neither `.` nor `..`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl RunsRoot {
    /// `dir`, which must exist and be a directory.
    pub fn new(dir: &Path) -> std::io::Result<RunsRoot> {
        let root = dir.canonicalize()?;
        if !root.is_dir() {
            return Err(std::io::Error::other("not a directory"));
        }
        Ok(RunsRoot { root: Some(root) })
    }

    /// No runs directory: every run name is not found and the list is empty.
    pub fn none() -> RunsRoot {
        RunsRoot { root: None }
    }

    /// The canonical root, if there is one.
    pub fn path(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The run directory `name` names: refused (400) unless a plain name, not found (404)
    /// unless a directory with a `config.toml` directly under the root once symlinks are
    /// resolved.
    pub fn resolve(&self, name: &str) -> ApiResult<PathBuf> {
        if !valid_name(name) {
            return Err(ApiError::bad_request(format!(
                "`{name}` is not a run name: a run is named by its directory under --runs (letters, digits, `.`, `_`, `-`; no path separators, not starting with `.`)"
            )));
        }
        let Some(root) = &self.root else {
            return Err(ApiError::not_found(format!(
                "no run `{name}`: this server has no runs directory (`ember match --serve` serves its match; `ember serve --runs DIR` serves runs)"
            )));
        };
        let missing = || ApiError::not_found(format!("no run `{name}` under --runs"));
        let path = root.join(name).canonicalize().map_err(|_| missing())?;
        if path.parent() != Some(root.as_path()) || !path.join("config.toml").is_file() {
            return Err(missing());
        }
        Ok(path)
    }

    /// Every run directly under the root (directories with a `config.toml`), newest first.
    pub fn list(&self) -> Vec<Value> {
        let mut runs: Vec<(SystemTime, Value)> = Vec::new();
        let Some(Ok(entries)) = self.root.as_ref().map(std::fs::read_dir) else {
            return Vec::new();
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(path) = self.resolve(&name) else {
                continue;
            };
            let info = RunInfo::read(&path);
            runs.push((info.modified, info.brief(&name)));
        }
        runs.sort_by_key(|r| std::cmp::Reverse(r.0));
        runs.into_iter().map(|(_, v)| v).collect()
    }
}

/// What a run directory says about itself.
#[derive(Debug)]
pub struct RunInfo {
    pub config_text: String,
    pub config: Value,
    pub summary: Option<Value>,
    pub modified: SystemTime,
    pub status: &'static str,
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The newest modification time of the run's files (top level and `checkpoints/`).
fn newest_write(dir: &Path) -> SystemTime {
    let mut newest = mtime(dir).unwrap_or(UNIX_EPOCH);
    for d in [dir.to_path_buf(), dir.join("checkpoints")] {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                if let Some(t) = e.metadata().ok().and_then(|m| m.modified().ok()) {
                    newest = newest.max(t);
                }
            }
        }
    }
    newest
}

/// A TOML value as JSON (dates as strings).
fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => json!(s),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => json!(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

impl RunInfo {
    /// Reads `config.toml`, `summary.json` and the files' times; unreadable parts are left
    /// empty rather than failing the listing.
    pub fn read(dir: &Path) -> RunInfo {
        let config_text = std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default();
        let config = config_text
            .parse::<toml::Table>()
            .map(|t| toml_to_json(&toml::Value::Table(t)))
            .unwrap_or(Value::Null);
        let summary = std::fs::read_to_string(dir.join("summary.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok());
        let modified = newest_write(dir);
        let age = SystemTime::now()
            .duration_since(modified)
            .unwrap_or(Duration::ZERO);
        let status = if summary.is_some() {
            "finished"
        } else if age <= RUNNING_WINDOW {
            "running"
        } else {
            "killed"
        };
        RunInfo {
            config_text,
            config,
            summary,
            modified,
            status,
        }
    }

    fn modified_secs(&self) -> f64 {
        self.modified
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// The listing's entry: `{"id", "name", "kind", "seed", "env", "game", "status", "modified", "summary"}`.
    pub fn brief(&self, id: &str) -> Value {
        let c = &self.config;
        json!({
            "id": id,
            "name": c.get("name"),
            "kind": c.get("kind"),
            "seed": c.get("seed"),
            "env": c.pointer("/env/id").or_else(|| c.pointer("/env/gym")),
            "game": c.pointer("/game/name"),
            "status": self.status,
            "modified": self.modified_secs(),
            "summary": self.summary,
        })
    }
}

/// A run's scalars: `{TAG: [[step, value], …]}`, every tag or those named.
pub fn scalars(dir: &Path, tags: Option<&[String]>) -> ApiResult<Curves> {
    read_curves(&mut ScalarReader::new(dir), tags)
}

/// The curves of `reader`'s run once it has read what its event files gained since its last
/// read (a live stream keeps one reader, so a long run's files are not parsed again each time).
pub fn read_curves(reader: &mut ScalarReader, tags: Option<&[String]>) -> ApiResult<Curves> {
    reader
        .update()
        .map_err(|e| ApiError::internal(format!("reading the run's event files: {e}")))?;
    Ok(reader
        .scalars()
        .iter()
        .filter(|(tag, _)| tags.is_none_or(|t| t.iter().any(|x| x == *tag)))
        .map(|(tag, evs)| (tag.clone(), evs.iter().map(|e| (e.step, e.value)).collect()))
        .collect())
}

/// A fingerprint of the run's event files and summary (sizes and times): when it changes,
/// the curves may have.
pub fn fingerprint(dir: &Path) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |x: u64| {
        h ^= x;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut files: Vec<(String, u64, u64)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if !(name.starts_with("events.out.tfevents.") || name == "summary.json") {
                    return None;
                }
                let m = e.metadata().ok()?;
                let t = m
                    .modified()
                    .ok()?
                    .duration_since(UNIX_EPOCH)
                    .ok()?
                    .as_nanos() as u64;
                Some((name, m.len(), t))
            })
            .collect();
        files.sort();
        for (name, len, t) in files {
            for b in name.bytes() {
                mix(b as u64);
            }
            mix(len);
            mix(t);
        }
    }
    h
}

/// The points of each tag, `(step, value)` in order.
pub type Curves = BTreeMap<String, Vec<(u64, f32)>>;

/// What a live stream has sent of each tag (how many points, and a hash of them), so that it
/// sends only new points.
#[derive(Debug, Default)]
pub struct Sent {
    tags: BTreeMap<String, (usize, u64)>,
    first: bool,
}

/// A hash of points (steps and the values' bits).
fn points_hash(pts: &[(u64, f32)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (step, v) in pts {
        step.hash(&mut h);
        v.to_bits().hash(&mut h);
    }
    h.finish()
}

impl Sent {
    /// What to send for the curves as they are `now`: `(true, all)` the first time and whenever a
    /// tag lost or changed points already sent (a resumed run drops steps after its checkpoint),
    /// else `(false, new points per tag)` (empty when nothing is new).
    pub fn update(&mut self, now: Curves) -> (bool, Curves) {
        let changed = !self.first
            || self.tags.iter().any(|(tag, &(n, hash))| {
                now.get(tag)
                    .is_none_or(|pts| pts.len() < n || points_hash(&pts[..n]) != hash)
            });
        let mut out = Curves::new();
        for (tag, pts) in now {
            let from = if changed {
                0
            } else {
                self.tags.get(&tag).map_or(0, |&(n, _)| n)
            };
            self.tags
                .insert(tag.clone(), (pts.len(), points_hash(&pts)));
            if changed || pts.len() > from {
                out.insert(tag, pts[from..].to_vec());
            }
        }
        self.first = true;
        (changed, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curves(pts: &[(&str, &[(u64, f32)])]) -> Curves {
        pts.iter()
            .map(|(t, p)| (t.to_string(), p.to_vec()))
            .collect()
    }

    #[test]
    fn live_curves_read_only_what_the_event_files_gained() {
        use ember_nets::tensorboard::EventWriter;
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        for step in 0..200 {
            w.scalar("charts/episodic_return", step, step as f32)
                .unwrap();
            w.scalar("losses/value", step, 1.0).unwrap();
        }
        w.flush().unwrap();
        let mut reader = ScalarReader::new(dir.path());
        let tags = ["charts/episodic_return".to_string()];
        let c = read_curves(&mut reader, Some(&tags)).unwrap();
        assert_eq!(c["charts/episodic_return"].len(), 200);
        assert!(!c.contains_key("losses/value"));
        let first = reader.bytes_read();
        w.scalar("charts/episodic_return", 200, 7.0).unwrap();
        w.flush().unwrap();
        let c = read_curves(&mut reader, Some(&tags)).unwrap();
        assert_eq!(c, scalars(dir.path(), Some(&tags)).unwrap());
        assert_eq!(c["charts/episodic_return"][200], (200, 7.0));
        let gained = reader.bytes_read() - first;
        assert!(gained * 100 < first, "read {gained} bytes again of {first}");
    }

    #[test]
    fn a_live_stream_sends_everything_once_then_only_new_points() {
        let mut sent = Sent::default();
        let (all, c) = sent.update(curves(&[("a", &[(0, 1.0), (10, 2.0)])]));
        assert!(all);
        assert_eq!(c["a"].len(), 2);
        let (all, c) = sent.update(curves(&[("a", &[(0, 1.0), (10, 2.0)])]));
        assert!(!all && c.is_empty());
        let (all, c) = sent.update(curves(&[
            ("a", &[(0, 1.0), (10, 2.0), (20, 3.0)]),
            ("b", &[(5, 0.5)]),
        ]));
        assert!(!all);
        assert_eq!(c, curves(&[("a", &[(20, 3.0)]), ("b", &[(5, 0.5)])]));
        // A resumed run rewrote step 10: everything again.
        let (all, c) = sent.update(curves(&[
            ("a", &[(0, 1.0), (12, 9.0), (20, 3.0)]),
            ("b", &[(5, 0.5)]),
        ]));
        assert!(all);
        assert_eq!(c["a"].len(), 3);
        assert_eq!(c["b"].len(), 1);
    }
}
