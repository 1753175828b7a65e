//! Experiment files: TOML with a common header (`name`, `kind`, `seed`) and kind-specific tables,
//! `--set key=value` overrides by dotted path, and typed parsing whose errors name the bad key.

use std::path::Path;

use crate::error::{Context, Result, bail, invalid};
use serde::Serialize;
use serde::de::DeserializeOwned;
use toml::{Table, Value};

/// What an experiment trains. Each kind owns its tables and its runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An image classifier (`[data]`, `[model]`, `[train]`).
    Classifier,
    /// A DQN agent (`[env]`, `[model]`, `[train]`; see `train::rl::dqn`).
    Dqn,
    /// A PPO agent (`[env]`, `[model]`, `[train]`; see `train::rl::ppo`).
    Ppo,
    /// AlphaZero self-play on a two-player game (`[game]`, `[model]`, `[train]`).
    AlphaZero,
}

impl Kind {
    /// Every kind the contract names, with whether this build can run it.
    const ALL: [(&'static str, Option<Kind>); 4] = [
        ("classifier", Some(Kind::Classifier)),
        ("dqn", Some(Kind::Dqn)),
        ("ppo", Some(Kind::Ppo)),
        ("alphazero", Some(Kind::AlphaZero)),
    ];

    fn parse(s: &str) -> Result<Kind> {
        match Self::ALL.iter().find(|(n, _)| *n == s) {
            Some((_, Some(k))) => Ok(*k),
            Some((n, None)) => bail!(
                "kind = {n:?} is not available yet (its agent has not landed); available: \"classifier\", \"dqn\", \"ppo\", \"alphazero\""
            ),
            None => bail!(
                "kind = {s:?} is not an experiment kind; expected one of {}",
                Self::ALL
                    .iter()
                    .map(|(n, _)| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Classifier => "classifier",
            Kind::Dqn => "dqn",
            Kind::Ppo => "ppo",
            Kind::AlphaZero => "alphazero",
        }
    }
}

/// An experiment file after overrides: its header and the whole table.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// `name`: names the run directory.
    pub name: String,
    /// `kind`.
    pub kind: Kind,
    /// `seed`: every random choice of the run derives from it.
    pub seed: u64,
    /// The whole document (header included), overrides applied.
    pub table: Table,
    /// Where it came from, for error messages.
    pub origin: String,
}

/// The largest experiment file read (1 MiB): a regular file, not a FIFO or a device.
pub const EXPERIMENT_LIMIT: u64 = 1 << 20;

impl Experiment {
    /// Reads `path` and applies `sets` (`key=value`, dotted keys reach into tables).
    pub fn load(path: &Path, sets: &[String]) -> Result<Self> {
        let bytes = ember_envs::files::read_regular(path, EXPERIMENT_LIMIT)
            .with_context(|| format!("reading experiment {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| invalid!("reading experiment {}: not UTF-8 text", path.display()))?;
        Self::parse(&text, &path.display().to_string(), sets)
    }

    /// Parses experiment text (see [`Experiment::load`]).
    pub fn parse(text: &str, origin: &str, sets: &[String]) -> Result<Self> {
        let mut table: Table = text
            .parse()
            .map_err(|e| invalid!("{origin}: malformed TOML: {e}"))?;
        for s in sets {
            apply_set(&mut table, s).with_context(|| format!("--set {s}"))?;
        }
        let header: Header =
            typed(&Value::Table(header_only(&table)), "").map_err(|e| invalid!("{origin}: {e}"))?;
        let kind = Kind::parse(&header.kind).map_err(|e| invalid!("{origin}: {e}"))?;
        if header.name.is_empty()
            || !header
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            bail!(
                "{origin}: name = {:?} must be non-empty letters, digits, '-', '_' or '.' (it names the run directory)",
                header.name
            );
        }
        Ok(Experiment {
            name: header.name,
            kind,
            seed: header.seed,
            table,
            origin: origin.to_string(),
        })
    }

    /// Checks that the document has only the header keys and `sections`.
    pub fn only_sections(&self, sections: &[&str]) -> Result<()> {
        for k in self.table.keys() {
            if !["name", "kind", "seed"].contains(&k.as_str()) && !sections.contains(&k.as_str()) {
                bail!(
                    "{}: unknown key `{k}`; a {} experiment has `name`, `kind`, `seed` and the tables {}",
                    self.origin,
                    self.kind.name(),
                    sections
                        .iter()
                        .map(|s| format!("[{s}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        Ok(())
    }

    /// The table `name` as `T` (absent: `T`'s defaults). Errors name the key: `train.lr: invalid
    /// type: string "x", expected f64`, `model: unknown field `widht`, expected one of ...`.
    pub fn section<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let v = self
            .table
            .get(name)
            .cloned()
            .unwrap_or_else(|| Value::Table(Table::new()));
        if !v.is_table() {
            bail!("{}: `{name}` must be a table ([{name}])", self.origin);
        }
        typed(&v, name).map_err(|e| invalid!("{}: {e}", self.origin))
    }
}

#[derive(serde::Deserialize)]
struct Header {
    name: String,
    kind: String,
    #[serde(default)]
    seed: u64,
}

fn header_only(t: &Table) -> Table {
    t.iter()
        .filter(|(k, _)| ["name", "kind", "seed"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Deserializes `v` as `T`, reporting the path of the failing key under `prefix`.
fn typed<T: DeserializeOwned>(v: &Value, prefix: &str) -> Result<T> {
    let de = v.clone();
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner == ".") {
            (true, _) => inner,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{inner}"),
        };
        invalid!("{path}: {}", e.into_inner())
    })
}

/// `a.b.c=value`: parses `value` as a TOML value (`3`, `1e-3`, `true`, `[1, 3]`, `"text"`), or
/// takes it as a bare string, and sets it at the dotted path, creating tables on the way.
pub fn apply_set(table: &mut Table, set: &str) -> Result<()> {
    let (key, raw) = set
        .split_once('=')
        .ok_or_else(|| invalid!("expected key=value"))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        bail!("bad key {key:?}");
    }
    let value = parse_value(raw.trim());
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("split yields at least one part");
    let mut t = table;
    let mut walked = Vec::new();
    for p in parts {
        walked.push(p);
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| invalid!("`{}` is not a table", walked.join(".")))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> Value {
    format!("v = {raw}")
        .parse::<Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Serializes a resolved config (defaults filled in) as TOML for the run's `config.toml`.
pub fn to_toml<T: Serialize>(resolved: &T) -> Result<String> {
    toml::to_string_pretty(resolved).context("serializing the resolved config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Train {
        #[serde(default)]
        lr: f64,
        #[serde(default)]
        epochs: u32,
    }

    const DOC: &str = "name = \"t\"\nkind = \"classifier\"\nseed = 3\n[train]\nlr = 0.1\n";

    #[test]
    fn overrides_reach_into_tables_and_parse_values() {
        let e = Experiment::parse(
            DOC,
            "doc",
            &[
                "train.lr=2e-3".into(),
                "train.epochs=4".into(),
                "seed=9".into(),
            ],
        )
        .unwrap();
        let t: Train = e.section("train").unwrap();
        assert_eq!((t.lr, t.epochs, e.seed), (2e-3, 4, 9));
        let mut tb = Table::new();
        apply_set(&mut tb, "a.b=[1, 3]").unwrap();
        apply_set(&mut tb, "a.c=plain words").unwrap();
        assert_eq!(
            tb["a"]["b"],
            Value::Array(vec![Value::Integer(1), Value::Integer(3)])
        );
        assert_eq!(tb["a"]["c"], Value::String("plain words".into()));
        assert!(
            apply_set(&mut tb, "a.b.c=1")
                .unwrap_err()
                .to_string()
                .contains("`a.b` is not a table")
        );
        assert!(apply_set(&mut tb, "novalue").is_err());
    }

    /// Mangled experiment text and `--set` values are errors, never panics (a bounded,
    /// deterministic stand-in for fuzzing the TOML reader).
    #[test]
    fn mangled_experiments_never_panic() {
        let mut rng = ember_envs::rng::Rng::new(0x2545_F491_4F6C_DD1D);
        let mut next = |n: usize| rng.below(n);
        let alphabet = b"[]=.\"'{}#\n 0123456789e+-_abcxyzlrseedkindname\\";
        for round in 0..2000 {
            let mut b = DOC.as_bytes().to_vec();
            for _ in 0..1 + next(6) {
                let c = alphabet[next(alphabet.len())];
                match next(3) {
                    0 if !b.is_empty() => {
                        let i = next(b.len());
                        b[i] = c;
                    }
                    1 if !b.is_empty() => {
                        b.remove(next(b.len()));
                    }
                    _ => b.insert(next(b.len() + 1), c),
                }
            }
            let text = String::from_utf8_lossy(&b);
            let set: String = (0..next(12))
                .map(|_| alphabet[next(alphabet.len())] as char)
                .collect();
            let sets = if round % 2 == 0 {
                vec![set]
            } else {
                Vec::new()
            };
            if let Ok(e) = Experiment::parse(&text, "fuzz", &sets) {
                let _ = e.section::<Train>("train");
            }
        }
    }

    #[test]
    fn errors_name_the_bad_key() {
        let e = Experiment::parse(DOC, "doc", &["train.lr=fast".into()]).unwrap();
        let err = e.section::<Train>("train").unwrap_err().to_string();
        assert!(err.contains("train.lr") && err.contains("fast"), "{err}");
        let e = Experiment::parse(DOC, "doc", &["train.lrr=1".into()]).unwrap();
        let err = e.section::<Train>("train").unwrap_err().to_string();
        assert!(
            err.contains("train.lrr: unknown field `lrr`") && err.contains("`lr`"),
            "{err}"
        );
        let err = Experiment::parse("name = \"t\"\nkind = \"gan\"\n", "doc", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"gan\"") && err.contains("\"classifier\""),
            "{err}"
        );
        let az = Experiment::parse("name = \"t\"\nkind = \"alphazero\"\n", "doc", &[]).unwrap();
        assert_eq!(az.kind, Kind::AlphaZero);
        let err = Experiment::parse("name = [\n", "doc", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("malformed TOML"), "{err}");
        let err = Experiment::parse(
            "name = \"t\"\nkind = \"classifier\"\nseed = \"x\"\n",
            "doc",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("seed"), "{err}");
        let e = Experiment::parse("name = \"t\"\nkind = \"classifier\"\n[trian]\n", "doc", &[])
            .unwrap();
        let err = e.only_sections(&["train"]).unwrap_err().to_string();
        assert!(err.contains("`trian`") && err.contains("[train]"), "{err}");
    }
}
