//! Checkpoints: a model's config, its weights, the optimizer state and the trainer's own state in
//! one self-checking file, written atomically.
//!
//! Layout (little-endian):
//!
//! ```text
//! "EMBERCKP" | u32 format version (1)
//! u64 n | n bytes of JSON header: {"kind", "model_config", "state", "burn"}
//! u64 n | n bytes of burnpack: the model record
//! u64 n | n bytes of burnpack: the optimizer record (n = 0 when there is none)
//! u32 CRC-32C of every byte before it
//! ```
//!
//! A file that is cut short, has a flipped bit, or is not a checkpoint at all fails to load with
//! an error that says which; a checkpoint written for another model kind or another config is
//! refused by [`Checkpoint::check`] with the differing fields named. [`CheckpointDir`] keeps the
//! last few checkpoints of a run and finds the newest one that loads.
//!
//! Only what the runner wrote counts: a checkpoint is read only from a regular file of at most
//! [`CHECKPOINT_LIMIT`] bytes (a symlink to `/dev/zero` or a FIFO is an error at once, not a hang
//! or a growing allocation); pruning counts only files that start like a checkpoint and are
//! older than the one just written, so a junk or stray `ckpt-*.ember` never costs a good
//! checkpoint; and [`remove_stale_temp_files`] clears the temporary files of killed writes.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crc::{crc32c, crc32c_update};

const MAGIC: &[u8; 8] = b"EMBERCKP";
const VERSION: u32 = 1;

/// The largest checkpoint file read (4 GiB).
pub const CHECKPOINT_LIMIT: u64 = 4 << 30;

/// Why a checkpoint could not be written, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A file system error.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file does not start with Ember's checkpoint magic.
    #[error("{path} is not an Ember checkpoint")]
    NotACheckpoint { path: PathBuf },
    /// A checkpoint format this build does not read.
    #[error("{path}: checkpoint format version {found}, this build reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
    /// The file ends before its sections do.
    #[error("{path} is truncated ({len} bytes; its sections need more)")]
    Truncated { path: PathBuf, len: u64 },
    /// The checksum does not match: the file was damaged after it was written.
    #[error("{path} is corrupt (CRC-32C mismatch: stored {stored:08x}, computed {computed:08x})")]
    Corrupt {
        path: PathBuf,
        stored: u32,
        computed: u32,
    },
    /// The checkpoint holds another kind of model.
    #[error("checkpoint holds a {found:?} model, expected {expected:?}")]
    Kind { expected: String, found: String },
    /// The checkpoint's model config differs from the one asked for.
    #[error("checkpoint config does not match: {0}")]
    ConfigMismatch(String),
    /// The weights or optimizer state do not fit the model (burn's record validation).
    #[error("checkpoint record does not fit the model: {0}")]
    Record(String),
    /// The header's JSON could not be (de)serialized into the requested type.
    #[error("checkpoint header: {0}")]
    Json(String),
    /// The checkpoint has no optimizer state but one was asked for.
    #[error("checkpoint has no optimizer state")]
    NoOptimizer,
}

type Result<T> = std::result::Result<T, CheckpointError>;

fn io(path: &Path, source: std::io::Error) -> CheckpointError {
    CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One checkpoint in memory. Build it with [`Checkpoint::new`], write it with
/// [`Checkpoint::save`], read it back with [`Checkpoint::load`], then [`check`](Self::check) it
/// and apply it with [`apply_model`](Self::apply_model) / [`apply_optimizer`](Self::apply_optimizer).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    kind: String,
    model_config: Value,
    state: Value,
    model: Vec<u8>,
    optimizer: Vec<u8>,
}

impl Checkpoint {
    /// Captures `model` (a clone is cheap: parameters are shared), its `config`, the optimizer
    /// state if any, and the trainer's `state` (step, epoch, ...), under a model `kind` name.
    pub fn new<M: Module>(
        kind: &str,
        config: &impl Serialize,
        model: &M,
        optimizer: Option<&ModuleOptimizer>,
        state: &impl Serialize,
    ) -> Result<Self> {
        let json = |v: &dyn erased::Ser| {
            v.to_value()
                .map_err(|e| CheckpointError::Json(e.to_string()))
        };
        // Recorded from `valid()`, not from `model` itself: in burn 0.22.1 a batch norm's running
        // statistics are updated per thread and merged lazily, and `into_record` reads them
        // without merging, so it would store the statistics of one step earlier. `valid()`
        // merges them first (and keeps every parameter id, which the optimizer state refers to).
        let model_bytes = model
            .valid()
            .into_record()
            .into_bytes()
            .map_err(|e| CheckpointError::Record(e.to_string()))?;
        let optimizer = match optimizer {
            Some(o) => o
                .into_bytes()
                .map_err(|e| CheckpointError::Record(e.to_string()))?
                .to_vec(),
            None => Vec::new(),
        };
        Ok(Checkpoint {
            kind: kind.to_string(),
            model_config: json(config)?,
            state: json(state)?,
            model: model_bytes.to_vec(),
            optimizer,
        })
    }

    /// The model kind the checkpoint was written for.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The model config, deserialized.
    pub fn model_config<C: DeserializeOwned>(&self) -> Result<C> {
        serde_json::from_value(self.model_config.clone())
            .map_err(|e| CheckpointError::Json(e.to_string()))
    }

    /// The trainer state, deserialized.
    pub fn state<S: DeserializeOwned>(&self) -> Result<S> {
        serde_json::from_value(self.state.clone()).map_err(|e| CheckpointError::Json(e.to_string()))
    }

    /// Whether optimizer state is stored.
    pub fn has_optimizer(&self) -> bool {
        !self.optimizer.is_empty()
    }

    /// Refuses a checkpoint of another `kind` or whose config differs from `expected`; the error
    /// lists every differing field (`trunk.width: checkpoint 32, expected 64`).
    pub fn check(&self, kind: &str, expected: &impl Serialize) -> Result<()> {
        if self.kind != kind {
            return Err(CheckpointError::Kind {
                expected: kind.to_string(),
                found: self.kind.clone(),
            });
        }
        let expected =
            serde_json::to_value(expected).map_err(|e| CheckpointError::Json(e.to_string()))?;
        let mut diffs = Vec::new();
        diff("", &self.model_config, &expected, &mut diffs);
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(CheckpointError::ConfigMismatch(diffs.join("; ")))
        }
    }

    /// Loads the stored weights into `model` (built from the same config).
    pub fn apply_model<M: Module>(&self, model: M) -> Result<M> {
        contained("the model record", || {
            let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.model.clone()))
                .map_err(|e| CheckpointError::Record(e.to_string()))?;
            model
                .try_load_record(record)
                .map_err(|e| CheckpointError::Record(e.to_string()))
        })
    }

    /// Loads the stored optimizer state into `optimizer`.
    pub fn apply_optimizer(&self, optimizer: ModuleOptimizer) -> Result<ModuleOptimizer> {
        if self.optimizer.is_empty() {
            return Err(CheckpointError::NoOptimizer);
        }
        contained("the optimizer record", || {
            optimizer
                .from_bytes(Bytes::from_bytes_vec(self.optimizer.clone()))
                .map_err(|e| CheckpointError::Record(e.to_string()))
        })
    }

    /// Serializes to bytes (the file's contents).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&serde_json::json!({
            "kind": self.kind,
            "model_config": self.model_config,
            "state": self.state,
            "burn": "0.22.1",
        }))
        .map_err(|e| CheckpointError::Json(e.to_string()))?;
        let mut out =
            Vec::with_capacity(40 + header.len() + self.model.len() + self.optimizer.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        for section in [&header[..], &self.model[..], &self.optimizer[..]] {
            out.extend_from_slice(&(section.len() as u64).to_le_bytes());
            out.extend_from_slice(section);
        }
        let crc = crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Parses a checkpoint's bytes; `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let len = bytes.len() as u64;
        let truncated = || CheckpointError::Truncated {
            path: path.to_path_buf(),
            len,
        };
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(CheckpointError::NotACheckpoint {
                path: path.to_path_buf(),
            });
        }
        let mut at = MAGIC.len();
        let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
            let end = at
                .checked_add(n)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(truncated)?;
            let s = &bytes[*at..end];
            *at = end;
            Ok(s)
        };
        let version = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        let mut sections = Vec::with_capacity(3);
        for _ in 0..3 {
            let n = u64::from_le_bytes(take(&mut at, 8)?.try_into().expect("8 bytes"));
            let n = usize::try_from(n).map_err(|_| truncated())?;
            sections.push(take(&mut at, n)?);
        }
        let body_len = at;
        let stored = u32::from_le_bytes(take(&mut at, 4)?.try_into().expect("4 bytes"));
        if at != bytes.len() {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                stored,
                computed: 0,
            });
        }
        let computed = crc32c_update(0, &bytes[..body_len]);
        if stored != computed {
            return Err(CheckpointError::Corrupt {
                path: path.to_path_buf(),
                stored,
                computed,
            });
        }
        let header: Value = serde_json::from_slice(sections[0])
            .map_err(|e| CheckpointError::Json(e.to_string()))?;
        let field = |k: &str| {
            header
                .get(k)
                .cloned()
                .ok_or_else(|| CheckpointError::Json(format!("header lacks {k:?}")))
        };
        Ok(Checkpoint {
            kind: field("kind")?.as_str().unwrap_or_default().to_string(),
            model_config: field("model_config")?,
            state: field("state")?,
            model: sections[1].to_vec(),
            optimizer: sections[2].to_vec(),
        })
    }

    /// Writes the checkpoint atomically: a temporary file in the same directory, fsync, rename
    /// over `path`, fsync of the directory. A crash leaves either the old file or the new one.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes)
    }

    /// Reads and verifies a checkpoint file (a regular file of at most [`CHECKPOINT_LIMIT`]
    /// bytes).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes =
            ember_envs::files::read_regular(path, CHECKPOINT_LIMIT).map_err(|e| io(path, e))?;
        Self::from_bytes(&bytes, path)
    }
}

thread_local! {
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is applying a checkpoint's record to a model or optimizer, where a panic
/// inside burn is caught and becomes a [`CheckpointError::Record`]. A process's panic hook asks
/// this to stay quiet about such a panic (the error is reported instead).
pub fn applying_record() -> bool {
    CONTAINING.with(std::cell::Cell::get)
}

/// Runs `f`, which hands a record's bytes to burn. burn 0.22.1 validates most of a record and
/// returns errors, but panics on some inconsistent ones (an optimizer record tensor without a
/// parameter id, found by fuzzing): a checkpoint whose CRC is right but whose records were
/// crafted or written by something else must be an error, never a crash.
fn contained<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = CONTAINING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINING.with(|c| c.set(outer));
    result.unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err(CheckpointError::Record(format!(
            "{what} is inconsistent (burn: {msg})"
        )))
    })
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename, fsync
/// of the directory). Used for checkpoints and for run files such as `summary.json`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io(path, e))?;
        // Make the rename itself durable. Directories cannot be opened for fsync everywhere;
        // where they can, this is what makes the new name survive a power cut.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What a resumed run that found no checkpoint to load says before starting from the beginning:
/// `damaged` is how many were skipped as damaged.
pub fn starting_over(damaged: usize) -> String {
    match damaged {
        0 => "no checkpoint yet: starting from the beginning".into(),
        n => format!(
            "no usable checkpoint: the {n} found {} damaged (skipped above): starting from the beginning",
            if n == 1 { "was" } else { "were" }
        ),
    }
}

/// The TensorBoard resume marker's step for a process that continues from a checkpoint at
/// `step` (`None`: it starts from the beginning): the first step it logs again. TensorBoard
/// drops what earlier processes logged at that step or later, and keeps what they logged up to
/// the checkpoint itself; starting over drops everything.
pub fn resume_marker_step(step: Option<u64>) -> u64 {
    step.map_or(0, |s| s + 1)
}

/// Whether `path` is a regular file (not a symlink) that starts with a checkpoint's magic and
/// version: what [`CheckpointDir::save`] may count and prune.
fn looks_like_checkpoint(path: &Path) -> bool {
    use std::io::Read;
    if !fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return false;
    }
    let mut head = [0u8; 12];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head[..8] == MAGIC && head[8..] == VERSION.to_le_bytes())
}

/// Removes the temporary files of writes that a killed process left in `dir`
/// (`.NAME.tmp-PID`, written by [`write_atomic`]) whose process is gone; returns them. Files of a
/// live process (this one included) are kept. Where process ids cannot be checked (no
/// `/proc`), nothing is removed.
pub fn remove_stale_temp_files(dir: &Path) -> Vec<PathBuf> {
    let proc_dir = Path::new("/proc");
    if !proc_dir.join("self").exists() {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".tmp-"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file
            && pid != std::process::id()
            && !proc_dir.join(pid.to_string()).exists()
            && fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    removed
}

/// Lists every field where `found` (from the checkpoint) and `expected` differ.
fn diff(at: &str, found: &Value, expected: &Value, out: &mut Vec<String>) {
    match (found, expected) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&path, x, y, out),
                    (Some(x), None) => {
                        out.push(format!("{path}: checkpoint {x}, expected nothing"))
                    }
                    // An option added after the checkpoint was written, left off.
                    (None, Some(Value::Null | Value::Bool(false))) => {}
                    (None, Some(y)) => {
                        out.push(format!("{path}: checkpoint has nothing, expected {y}"))
                    }
                    (None, None) => {}
                }
            }
        }
        (a, b) if a != b => out.push(format!(
            "{}: checkpoint {a}, expected {b}",
            if at.is_empty() { "config" } else { at }
        )),
        _ => {}
    }
}

/// The checkpoints of one run: `ckpt-<step>.ember` files in a directory, the last `keep` kept.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    dir: PathBuf,
    keep: usize,
}

impl CheckpointDir {
    /// A checkpoint directory (created on first save) keeping the newest `keep` (at least 1).
    pub fn new(dir: impl Into<PathBuf>, keep: usize) -> Self {
        CheckpointDir {
            dir: dir.into(),
            keep: keep.max(1),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file a checkpoint of `step` is written to.
    pub fn file_for(&self, step: u64) -> PathBuf {
        self.dir.join(format!("ckpt-{step:012}.ember"))
    }

    /// Saves `ckpt` under `name` (such as `best.ember`: a name the listing of step checkpoints,
    /// [`CheckpointDir::latest`] and pruning never count), creating the directory.
    pub fn save_named(&self, name: &str, ckpt: &Checkpoint) -> Result<PathBuf> {
        fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let path = self.dir.join(name);
        ckpt.save(&path)?;
        Ok(path)
    }

    /// Saves `ckpt` as the checkpoint of `step`, then deletes the oldest checkpoints so that
    /// `keep` remain: this one and the newest `keep - 1` before it. Files that do not start like
    /// a checkpoint (junk under a checkpoint's name, a symlink to a device) and files of later
    /// steps (left by an earlier process of the run) are neither counted nor deleted.
    pub fn save(&self, step: u64, ckpt: &Checkpoint) -> Result<PathBuf> {
        fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let path = self.file_for(step);
        ckpt.save(&path)?;
        let older: Vec<PathBuf> = self
            .list()?
            .into_iter()
            .filter(|(s, p)| *s < step && looks_like_checkpoint(p))
            .map(|(_, p)| p)
            .collect();
        let extra = (older.len() + 1).saturating_sub(self.keep);
        for old in &older[..extra] {
            let _ = fs::remove_file(old);
        }
        Ok(path)
    }

    /// Checkpoint files, oldest first, with their steps.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(step) = name
                .strip_prefix("ckpt-")
                .and_then(|s| s.strip_suffix(".ember"))
            else {
                continue;
            };
            if let Ok(step) = step.parse::<u64>() {
                out.push((step, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The newest checkpoint that loads, and the errors of any newer ones that did not (so a
    /// caller can say it skipped a damaged file). `None` when there is no loadable checkpoint.
    #[allow(clippy::type_complexity)]
    pub fn latest(&self) -> Result<(Option<(u64, Checkpoint)>, Vec<CheckpointError>)> {
        let mut skipped = Vec::new();
        for (step, path) in self.list()?.into_iter().rev() {
            match Checkpoint::load(&path) {
                Ok(c) => return Ok((Some((step, c)), skipped)),
                Err(e) => skipped.push(e),
            }
        }
        Ok((None, skipped))
    }
}

/// Object-safe serialization to a JSON value, so `new` can take two different `impl Serialize`.
mod erased {
    pub trait Ser {
        fn to_value(&self) -> serde_json::Result<serde_json::Value>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Result<serde_json::Value> {
            serde_json::to_value(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cut, bit-flipped and spliced checkpoints are errors, never panics or huge allocations
    /// (a bounded, deterministic stand-in for fuzzing the reader).
    #[test]
    fn damaged_bytes_never_panic() {
        let ck = Checkpoint {
            kind: "test".into(),
            model_config: serde_json::json!({"width": 8}),
            state: serde_json::json!({"step": 3}),
            model: (0..200u8).collect(),
            optimizer: vec![7; 50],
        };
        let good = ck.to_bytes().unwrap();
        let path = Path::new("fuzz.ember");
        assert!(Checkpoint::from_bytes(&good, path).is_ok());
        let mut rng = ember_envs::rng::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = |n: usize| rng.below(n);
        for round in 0..3000 {
            let mut b = good.clone();
            match round % 4 {
                0 => b.truncate(next(good.len())),
                1 => {
                    for _ in 0..1 + next(4) {
                        let i = next(b.len());
                        b[i] ^= 1 << next(8);
                    }
                }
                2 => {
                    // A section length made huge.
                    let at = [12, 20 + next(60)][next(2)].min(b.len() - 8);
                    b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
                }
                _ => {
                    let i = next(b.len());
                    let junk: Vec<u8> = (0..next(64)).map(|_| next(256) as u8).collect();
                    b.splice(i..i, junk);
                }
            }
            let _ = Checkpoint::from_bytes(&b, path);
        }
    }

    #[test]
    fn pruning_counts_only_older_checkpoints_and_stale_temps_go() {
        let dir = std::env::temp_dir().join(format!("ember-ckdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ckd = CheckpointDir::new(&dir, 2);
        fs::create_dir_all(&dir).unwrap();
        // Junk under a checkpoint's name, newer than anything the run writes, and a temp file
        // of a process that is gone (pid 0 is never a user process) and one of ours.
        fs::write(dir.join("ckpt-999999999999.ember"), b"junk").unwrap();
        fs::write(dir.join(".ckpt-000000000005.ember.tmp-0"), b"half").unwrap();
        let ours = dir.join(format!(".summary.json.tmp-{}", std::process::id()));
        fs::write(&ours, b"x").unwrap();
        #[cfg(target_os = "linux")]
        {
            let removed = remove_stale_temp_files(&dir);
            assert_eq!(removed, [dir.join(".ckpt-000000000005.ember.tmp-0")]);
            assert!(ours.exists());
        }
        // A valid checkpoint's bytes, without a model (sections may be empty).
        let ck = Checkpoint {
            kind: "test".into(),
            model_config: Value::Null,
            state: Value::Null,
            model: Vec::new(),
            optimizer: Vec::new(),
        };
        for step in [10, 20, 30] {
            ckd.save(step, &ck).unwrap();
        }
        let steps: Vec<u64> = ckd.list().unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(
            steps,
            [20, 30, 999_999_999_999],
            "the junk file cost a checkpoint"
        );
        // The newest that loads is the good one; the junk is reported as skipped.
        let (found, skipped) = ckd.latest().unwrap();
        assert_eq!(found.unwrap().0, 30);
        assert_eq!(skipped.len(), 1);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/dev/zero", dir.join("ckpt-000000000040.ember")).unwrap();
            let e = Checkpoint::load(dir.join("ckpt-000000000040.ember"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("not a regular file (a character device)"), "{e}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn options_added_later_and_left_off_match_older_checkpoints() {
        let stored = serde_json::json!({ "hidden": 256, "encoder": { "mlp": [64] } });
        let mut out = Vec::new();
        let same = serde_json::json!({ "hidden": 256, "encoder": { "mlp": [64] }, "separate_critic": null });
        diff("", &stored, &same, &mut out);
        let off = serde_json::json!({ "hidden": 256, "encoder": { "mlp": [64], "flag": false } });
        diff("", &stored, &off, &mut out);
        assert!(out.is_empty(), "{out:?}");
        let on = serde_json::json!({ "hidden": 256, "encoder": { "mlp": [64] }, "separate_critic": true });
        diff("", &stored, &on, &mut out);
        assert_eq!(
            out,
            ["separate_critic: checkpoint has nothing, expected true"]
        );
    }
}
