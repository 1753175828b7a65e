//! A run directory and what every experiment writes into it: the resolved `config.toml`,
//! TensorBoard events, `checkpoints/`, `summary.json`; and the progress display.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Context, Result, bail};
use ember_nets::checkpoint::{CheckpointDir, remove_stale_temp_files, write_atomic};
use ember_nets::device::GpuAdapter;
use ember_nets::tensorboard::EventWriter;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Experiment;

/// The files of one run.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
    /// What `summary.json`'s `adapter` says, once [`RunDir::with_adapter`] has set it.
    adapter: Option<serde_json::Value>,
}

impl RunDir {
    /// A new run directory: `explicit`, or `runs/<name>__<seed>__<UTC timestamp>/`. Refuses a
    /// directory that already holds a run (resume it with `--resume` instead).
    pub fn create(explicit: Option<&Path>, exp: &Experiment) -> Result<Self> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("runs").join(format!(
                "{}__{}__{}",
                exp.name,
                exp.seed,
                timestamp_utc(SystemTime::now())
            )),
        };
        if path.join("config.toml").exists() {
            bail!(
                "{} already holds a run; continue it with `ember train --resume {}` or pick another --run-dir",
                path.display(),
                path.display()
            );
        }
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating run directory {}", path.display()))?;
        Ok(RunDir {
            path,
            adapter: None,
        })
    }

    /// An existing run (it must have a `config.toml`). Temporary files that killed writes of
    /// earlier processes left (`.NAME.tmp-PID`, in the run directory and `checkpoints/`) are
    /// removed.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join("config.toml").is_file() {
            bail!("{} is not a run directory (no config.toml)", path.display());
        }
        for dir in [path.to_path_buf(), path.join("checkpoints")] {
            for f in remove_stale_temp_files(&dir) {
                eprintln!("removed {}, left by a killed write", f.display());
            }
        }
        Ok(RunDir {
            path: path.to_path_buf(),
            adapter: None,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `config.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.toml")
    }

    /// Writes the resolved config (atomically).
    pub fn write_config(&self, text: &str) -> Result<()> {
        write_atomic(&self.config_path(), text.as_bytes())?;
        Ok(())
    }

    /// The run's checkpoints, keeping the newest `keep`.
    pub fn checkpoints(&self, keep: usize) -> CheckpointDir {
        CheckpointDir::new(self.path.join("checkpoints"), keep)
    }

    /// A new TensorBoard event file in the run directory (one per process; TensorBoard merges).
    pub fn events(&self) -> Result<EventWriter> {
        Ok(EventWriter::create(&self.path)?)
    }

    /// Records the adapter the run trains on (`None`: the CPU), which [`RunDir::write_summary`]
    /// writes as `summary.json`'s `adapter`, so a figure from a software GPU device is never
    /// taken for a real GPU's.
    pub fn with_adapter(mut self, adapter: Option<&GpuAdapter>) -> Self {
        self.adapter = Some(serde_json::to_value(adapter).unwrap_or(serde_json::Value::Null));
        self
    }

    /// `summary` as `summary.json` holds it: with `adapter` added where [`RunDir::with_adapter`]
    /// set one.
    pub fn stamped(&self, summary: &serde_json::Value) -> serde_json::Value {
        let mut s = summary.clone();
        if let (Some(a), Some(map)) = (&self.adapter, s.as_object_mut()) {
            map.insert("adapter".to_string(), a.clone());
        }
        s
    }

    /// `summary.json` (pretty, atomically written), with the adapter (see [`RunDir::stamped`]).
    pub fn write_summary(&self, summary: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.stamped(summary))? + "\n";
        write_atomic(&self.path.join("summary.json"), text.as_bytes())?;
        Ok(())
    }
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Progress on stderr: a bar on a terminal, a line per `log` call otherwise.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    tty: bool,
}

impl Progress {
    /// A bar of `total` units starting at `done`.
    pub fn new(total: u64, done: u64, unit: &str) -> Self {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if tty {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        let style = ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit} (eta {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_position(done);
        Progress { bar, tty }
    }

    /// Sets the position.
    pub fn set(&self, pos: u64) {
        self.bar.set_position(pos);
    }

    /// Sets the message after the bar (loss, speed).
    pub fn message(&self, msg: String) {
        self.bar.set_message(msg);
    }

    /// A line that stays (printed above the bar, or on its own without a terminal).
    pub fn log(&self, line: String) {
        if self.tty {
            self.bar.println(line)
        } else {
            eprintln!("{line}")
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp_utc(UNIX_EPOCH), "19700101-000000");
        // 2000-02-29 12:34:56 UTC (a leap day) is 951827696.
        assert_eq!(
            timestamp_utc(UNIX_EPOCH + Duration::from_secs(951_827_696)),
            "20000229-123456"
        );
        // 2026-11-30 00:00:00 UTC.
        assert_eq!(
            timestamp_utc(UNIX_EPOCH + Duration::from_secs(1_795_996_800)),
            "20261130-000000"
        );
    }
}
