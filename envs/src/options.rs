//! Typed `key=value` options for environment constructors.
//!
//! An environment declares the options it accepts (`OptSpec`: name, kind, default, help). The
//! registry parses the user's strings against those declarations, so every environment rejects an
//! unknown key or a bad value with the same clear message, and constructors read typed values.

use std::collections::BTreeMap;
use std::fmt;

use crate::EnvError;

/// What values an option takes.
#[derive(Debug, Clone, PartialEq)]
pub enum OptKind {
    Bool,
    Int { min: i64, max: i64 },
    Float { min: f64, max: f64 },
    Choice(Vec<String>),
    Str,
}

/// A parsed option value.
#[derive(Debug, Clone, PartialEq)]
pub enum OptValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for OptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptValue::Bool(b) => write!(f, "{b}"),
            OptValue::Int(i) => write!(f, "{i}"),
            OptValue::Float(x) => write!(f, "{x}"),
            OptValue::Str(s) => write!(f, "{s}"),
        }
    }
}

/// The declaration of one option.
#[derive(Debug, Clone, PartialEq)]
pub struct OptSpec {
    pub name: String,
    pub kind: OptKind,
    pub default: OptValue,
    pub help: String,
}

impl OptSpec {
    pub fn bool(name: &str, default: bool, help: &str) -> OptSpec {
        OptSpec {
            name: name.into(),
            kind: OptKind::Bool,
            default: OptValue::Bool(default),
            help: help.into(),
        }
    }
    pub fn int(name: &str, default: i64, min: i64, max: i64, help: &str) -> OptSpec {
        OptSpec {
            name: name.into(),
            kind: OptKind::Int { min, max },
            default: OptValue::Int(default),
            help: help.into(),
        }
    }
    pub fn float(name: &str, default: f64, min: f64, max: f64, help: &str) -> OptSpec {
        OptSpec {
            name: name.into(),
            kind: OptKind::Float { min, max },
            default: OptValue::Float(default),
            help: help.into(),
        }
    }
    pub fn choice(name: &str, default: &str, choices: &[&str], help: &str) -> OptSpec {
        OptSpec {
            name: name.into(),
            kind: OptKind::Choice(choices.iter().map(|s| s.to_string()).collect()),
            default: OptValue::Str(default.into()),
            help: help.into(),
        }
    }
    pub fn string(name: &str, default: &str, help: &str) -> OptSpec {
        OptSpec {
            name: name.into(),
            kind: OptKind::Str,
            default: OptValue::Str(default.into()),
            help: help.into(),
        }
    }

    /// A human description of the accepted values, used in error messages.
    pub fn expected(&self) -> String {
        match &self.kind {
            OptKind::Bool => "true or false".into(),
            OptKind::Int { min, max } => format!("an integer in {min}..={max}"),
            OptKind::Float { min, max } => {
                format!("a number in [{}, {}]", fmt_number(*min), fmt_number(*max))
            }
            OptKind::Choice(c) => format!("one of {}", c.join(", ")),
            OptKind::Str => "a string".into(),
        }
    }

    /// Parses a user's string for this option.
    pub fn parse(&self, env: &str, raw: &str) -> Result<OptValue, EnvError> {
        let bad = || EnvError::BadOptionValue {
            env: env.into(),
            key: self.name.clone(),
            value: raw.into(),
            expected: self.expected(),
        };
        let s = raw.trim();
        match &self.kind {
            OptKind::Bool => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(OptValue::Bool(true)),
                "false" | "0" | "no" | "off" => Ok(OptValue::Bool(false)),
                _ => Err(bad()),
            },
            OptKind::Int { min, max } => {
                let v: i64 = s.parse().map_err(|_| bad())?;
                if v < *min || v > *max {
                    return Err(bad());
                }
                Ok(OptValue::Int(v))
            }
            OptKind::Float { min, max } => {
                let v: f64 = s.parse().map_err(|_| bad())?;
                if !v.is_finite() || v < *min || v > *max {
                    return Err(bad());
                }
                Ok(OptValue::Float(v))
            }
            OptKind::Choice(c) => {
                if c.iter().any(|x| x == s) {
                    Ok(OptValue::Str(s.into()))
                } else {
                    Err(bad())
                }
            }
            OptKind::Str => Ok(OptValue::Str(s.into())),
        }
    }
}

/// Resolved options: every declared option with the user's value or its default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    values: BTreeMap<String, OptValue>,
}

impl Options {
    /// Resolves `key=value` pairs against `specs` for the environment `env` (named in errors).
    pub fn resolve<K: AsRef<str>, V: AsRef<str>>(
        env: &str,
        specs: &[OptSpec],
        pairs: &[(K, V)],
    ) -> Result<Options, EnvError> {
        let mut values: BTreeMap<String, OptValue> = specs
            .iter()
            .map(|s| (s.name.clone(), s.default.clone()))
            .collect();
        for (k, v) in pairs {
            let k = k.as_ref().trim();
            let spec =
                specs
                    .iter()
                    .find(|s| s.name == k)
                    .ok_or_else(|| EnvError::UnknownOption {
                        env: env.into(),
                        key: k.into(),
                        accepted: specs.iter().map(|s| s.name.clone()).collect(),
                    })?;
            values.insert(k.into(), spec.parse(env, v.as_ref())?);
        }
        Ok(Options { values })
    }

    /// Splits `key=value` strings (as typed on the command line) into pairs.
    pub fn split_pairs<S: AsRef<str>>(items: &[S]) -> Result<Vec<(String, String)>, EnvError> {
        items
            .iter()
            .map(|s| {
                let s = s.as_ref();
                s.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| EnvError::MalformedOption(s.into()))
            })
            .collect()
    }

    pub fn get(&self, name: &str) -> Option<&OptValue> {
        self.values.get(name)
    }

    /// The value of a declared boolean option. Panics if `name` was not declared as a bool: that is
    /// a bug in the environment's declaration, not a user error.
    pub fn bool(&self, name: &str) -> bool {
        match self.values.get(name) {
            Some(OptValue::Bool(b)) => *b,
            other => panic!("option `{name}` is not a declared bool (found {other:?})"),
        }
    }
    /// The value of a declared integer option (panics if undeclared, see `bool`).
    pub fn int(&self, name: &str) -> i64 {
        match self.values.get(name) {
            Some(OptValue::Int(i)) => *i,
            other => panic!("option `{name}` is not a declared int (found {other:?})"),
        }
    }
    /// The value of a declared float option (panics if undeclared, see `bool`).
    pub fn float(&self, name: &str) -> f64 {
        match self.values.get(name) {
            Some(OptValue::Float(x)) => *x,
            Some(OptValue::Int(i)) => *i as f64,
            other => panic!("option `{name}` is not a declared float (found {other:?})"),
        }
    }
    /// The value of a declared string or choice option (panics if undeclared, see `bool`).
    pub fn str(&self, name: &str) -> &str {
        match self.values.get(name) {
            Some(OptValue::Str(s)) => s,
            other => panic!("option `{name}` is not a declared string (found {other:?})"),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &OptValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// `x` for an error message: as written for ordinary magnitudes, in exponent form for very large
/// or very small ones (`1e308`, not its 309 digits), `∞` for the unbounded ends of a range.
pub fn fmt_number(x: f64) -> String {
    let a = x.abs();
    if x.is_infinite() || a == f64::MAX {
        (if x > 0.0 { "∞" } else { "-∞" }).into()
    } else if a != 0.0 && !(1e-4..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<OptSpec> {
        vec![
            OptSpec::float("p", 0.1, 0.0, 1.0, "a probability"),
            OptSpec::bool("flag", true, "a flag"),
            OptSpec::choice("mode", "a", &["a", "b"], "a mode"),
        ]
    }

    #[test]
    fn numbers_in_messages_stay_short() {
        assert_eq!(fmt_number(0.5), "0.5");
        assert_eq!(fmt_number(1e308), "1e308");
        assert_eq!(fmt_number(f64::MAX), "∞");
        assert_eq!(fmt_number(-f64::INFINITY), "-∞");
        assert_eq!(fmt_number(2.5e-7), "2.5e-7");
    }

    #[test]
    fn defaults_and_overrides() {
        let o = Options::resolve("T-v0", &specs(), &[("p", "0.5"), ("mode", "b")]).unwrap();
        assert_eq!(o.float("p"), 0.5);
        assert!(o.bool("flag"));
        assert_eq!(o.str("mode"), "b");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = Options::resolve("T-v0", &specs(), &[("q", "1")]).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("`q`") && m.contains("p, flag, mode"), "{m}");
        let e = Options::resolve("T-v0", &specs(), &[("p", "2")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`2`") && e.contains("[0, 1]"), "{e}");
        let e = Options::resolve("T-v0", &specs(), &[("flag", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("true or false"), "{e}");
        let e = Options::resolve("T-v0", &specs(), &[("mode", "c")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("one of a, b"), "{e}");
        assert!(matches!(
            Options::split_pairs(&["novalue"]),
            Err(EnvError::MalformedOption(_))
        ));
    }
}
