//! `roster.toml`: the settings the environment variables carry, under the same names
//! (lower case, without `ROSTER_`). A flag beats its environment variable, which beats
//! the file, which beats the default: the file only fills in variables that are unset,
//! before the command line is parsed. Unknown keys are an error, so a typo is not
//! silently ignored.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Value};

/// Where the file is looked for when neither `--config` nor `ROSTER_CONFIG` names one.
pub const DEFAULT_PATH: &str = "roster.toml";

/// Every setting: its key in the file, its environment variable and its default.
pub const SETTINGS: [(&str, &str, Option<&str>); 9] = [
    ("listen", "ROSTER_LISTEN", Some("127.0.0.1:8080")),
    ("data_dir", "ROSTER_DATA_DIR", Some("./roster-data")),
    ("database_url", "ROSTER_DATABASE_URL", None),
    ("admin_token", "ROSTER_ADMIN_TOKEN", None),
    ("log", "ROSTER_LOG", Some("info")),
    ("log_format", "ROSTER_LOG_FORMAT", Some("text")),
    ("rate_limit", "ROSTER_RATE_LIMIT", None),
    ("webhook_key", "ROSTER_WEBHOOK_KEY", None),
    (
        "webhook_allow_private",
        "ROSTER_WEBHOOK_ALLOW_PRIVATE",
        Some("false"),
    ),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    data_dir: Option<String>,
    database_url: Option<String>,
    admin_token: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    rate_limit: Option<String>,
    webhook_key: Option<String>,
    webhook_allow_private: Option<bool>,
}

impl File {
    fn get(&self, key: &str) -> Option<String> {
        if key == "webhook_allow_private" {
            return self.webhook_allow_private.map(|allow| allow.to_string());
        }
        let value = match key {
            "listen" => self.listen.as_deref(),
            "data_dir" => self.data_dir.as_deref(),
            "database_url" => self.database_url.as_deref(),
            "admin_token" => self.admin_token.as_deref(),
            "log" => self.log.as_deref(),
            "log_format" => self.log_format.as_deref(),
            "rate_limit" => self.rate_limit.as_deref(),
            "webhook_key" => self.webhook_key.as_deref(),
            _ => None,
        };
        value.map(str::to_owned)
    }
}

/// What the configuration file contributed, for `roster config`.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub path: Option<PathBuf>,
    /// Environment variables the file set (they were unset before).
    pub from_file: Vec<&'static str>,
}

/// The config file named by `--config`/`ROSTER_CONFIG` (which must exist) or, failing
/// that, `./roster.toml` if there is one.
fn config_path(args: &[String]) -> Option<(PathBuf, bool)> {
    let mut flagged = None;
    for (i, arg) in args.iter().enumerate() {
        if let Some(path) = arg.strip_prefix("--config=") {
            flagged = Some(path.to_owned());
        } else if arg == "--config" {
            flagged = args.get(i + 1).cloned();
        }
    }
    let named = flagged.or_else(|| {
        std::env::var("ROSTER_CONFIG")
            .ok()
            .filter(|p| !p.is_empty())
    });
    match named {
        Some(path) => Some((PathBuf::from(path), true)),
        None => Path::new(DEFAULT_PATH)
            .is_file()
            .then(|| (PathBuf::from(DEFAULT_PATH), false)),
    }
}

/// Reads the config file (if any) and sets the environment variables it has values for
/// and the environment does not. Runs before the command line is parsed, on one thread.
pub fn load(args: &[String]) -> Result<Loaded, String> {
    let Some((path, required)) = config_path(args) else {
        return Ok(Loaded::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if !required && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Loaded::default())
        }
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let file: File =
        toml::from_str(&text).map_err(|err| format!("{}: {}", path.display(), err.message()))?;
    let mut loaded = Loaded {
        path: Some(path),
        from_file: Vec::new(),
    };
    for (key, variable, _) in SETTINGS {
        if let Some(value) = file.get(key) {
            if std::env::var_os(variable).is_none() {
                std::env::set_var(variable, value);
                loaded.from_file.push(variable);
            }
        }
    }
    Ok(loaded)
}

/// A database URL with its password hidden.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("REDACTED"));
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) => "REDACTED (not a URL)".to_owned(),
    }
}

/// The effective configuration, secrets redacted, each value with where it came from.
pub fn effective(loaded: &Loaded) -> Value {
    let mut settings = serde_json::Map::new();
    for (key, variable, default) in SETTINGS {
        let set = std::env::var(variable).ok().filter(|v| !v.is_empty());
        let source = match &set {
            Some(_) if loaded.from_file.contains(&variable) => "file",
            Some(_) => "environment",
            None if default.is_some() => "default",
            None => "unset",
        };
        let value = set.as_deref().or(default).map(|value| match key {
            "admin_token" | "webhook_key" => "REDACTED".to_owned(),
            "database_url" => redact_url(value),
            _ => value.to_owned(),
        });
        settings.insert(
            key.to_owned(),
            json!({ "value": value, "source": source, "env": variable }),
        );
    }
    json!({
        "config_file": loaded.path.as_ref().map(|p| p.display().to_string()),
        "settings": settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_passwords() {
        assert!(toml::from_str::<File>("listn = \"x\"").is_err());
        assert!(toml::from_str::<File>("listen = \"127.0.0.1:9\"").is_ok());
        assert_eq!(
            redact_url("postgres://roster:s3cret@db.example.com/roster"),
            "postgres://roster:REDACTED@db.example.com/roster"
        );
        assert_eq!(redact_url("postgres://db/roster"), "postgres://db/roster");
    }

    #[test]
    fn the_shipped_example_is_a_valid_config() {
        let example = include_str!("../../../packaging/roster.toml.example");
        let file: File = toml::from_str(example).unwrap();
        assert_eq!(file.listen.as_deref(), Some("127.0.0.1:8080"));
    }
}
