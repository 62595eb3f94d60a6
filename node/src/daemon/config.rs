//! `kyotod --config FILE`: the node's settings from a TOML file. Every key is a flag's
//! long name (`grpc-addr = "0.0.0.0:50051"`, `peer = ["/ip4/…", …]`, `dev = true`), and
//! the precedence is flag > environment > file > built-in default: the file's values
//! become the flags' defaults before the command line is parsed. A key that is not a
//! flag is an error that names it. `kyotod config-template` prints every key, commented,
//! with its help and default.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches};

use super::Args;

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "KYOTOD_CONFIG";

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Flags that are not settings.
const NOT_SETTINGS: [&str; 3] = ["config", "help", "version"];

/// The file `--config FILE` (or `--config=FILE`, or `KYOTOD_CONFIG`) names, if any.
fn config_path(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        let a = a.to_string_lossy();
        if a == "--" {
            break;
        }
        if a == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// A TOML value as the text clap would parse from the command line (lists joined
/// with commas, for the flags that take several).
fn as_flag_value(path: &Path, key: &str, v: &toml::Value) -> anyhow::Result<String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|x| as_flag_value(path, key, x))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(","),
        other => bail!(
            "{}: `{key}` must be a string, an integer, a boolean or a list, not a {}",
            path.display(),
            other.type_str()
        ),
    })
}

/// Parses the command line, with the config file's values as the flags' defaults.
pub fn parse() -> anyhow::Result<Args> {
    parse_from(std::env::args_os().collect())
}

pub fn parse_from(argv: Vec<OsString>) -> anyhow::Result<Args> {
    let mut cmd = Args::command();
    if let Some(path) = config_path(&argv) {
        let meta = std::fs::metadata(&path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            bail!(
                "{} is {} bytes; a config file is at most {MAX_CONFIG_BYTES}",
                path.display(),
                meta.len()
            );
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("in config file {}", path.display()))?;
        for (key, value) in &table {
            // Hidden flags (a test-only build's) are not settings.
            let known = cmd.get_arguments().any(|a| {
                a.get_long() == Some(key.as_str())
                    && !a.is_hide_set()
                    && !NOT_SETTINGS.contains(&key.as_str())
            });
            if !known {
                bail!(
                    "{}: unknown key `{key}` (the keys are kyotod's flags without the dashes: `kyotod config-template` lists them)",
                    path.display()
                );
            }
            let value = as_flag_value(&path, key, value)?;
            cmd = cmd.mut_args(|a| {
                if a.get_long() == Some(key.as_str()) {
                    a.default_value(value.clone())
                } else {
                    a
                }
            });
        }
    }
    let matches = cmd.try_get_matches_from(argv)?;
    Ok(Args::from_arg_matches(&matches)?)
}

/// Every setting, commented, with its help and default: a config file to start from.
pub fn template() -> String {
    template_with(&[])
}

/// [`template`] with the settings of `set` written out (key, TOML value) instead of
/// commented, each under its help.
pub fn template_with(set: &[(&str, toml::Value)]) -> String {
    let cmd = Args::command();
    let mut out = String::from(
        "# kyotod configuration (kyotod --config FILE, or KYOTOD_CONFIG).\n\
         # Precedence: command-line flag > environment variable > this file > default.\n\
         # Uncomment a line to set it; lists take several values: peer = [\"/ip4/…\", \"/ip4/…\"].\n",
    );
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        if NOT_SETTINGS.contains(&long) || a.is_hide_set() {
            continue;
        }
        out.push('\n');
        if let Some(help) = a.get_help() {
            for line in help.to_string().lines() {
                out.push_str(&format!("# {line}\n"));
            }
        }
        if let Some(env) = a.get_env() {
            out.push_str(&format!("# (environment: {})\n", env.to_string_lossy()));
        }
        let default = a
            .get_default_values()
            .first()
            .map(|d| d.to_string_lossy().into_owned());
        let takes_value = a.get_action().takes_values();
        let shown = match (default, takes_value) {
            (Some(d), true) if d.parse::<i64>().is_ok() => d,
            (Some(d), true) => format!("{d:?}"),
            (_, false) => "false".to_owned(),
            (None, true) => "\"\"".to_owned(),
        };
        match set.iter().find(|(k, _)| *k == long) {
            Some((_, value)) => out.push_str(&format!("{long} = {value}\n")),
            None => out.push_str(&format!("# {long} = {shown}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("kyotod")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn the_file_sets_defaults_flags_win_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kyotod.toml");
        std::fs::write(
            &path,
            "dev = true\nmax-block-txs = 7\ngrpc-addr = \"127.0.0.1:6000\"\n\
             gossip-peer = [\"/ip4/10.0.0.2/tcp/26657\", \"/ip4/10.0.0.3/tcp/26657\"]\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let args = parse_from(argv(&["--config", p, "--max-block-txs", "9"])).unwrap();
        assert!(args.dev);
        assert_eq!(args.max_block_txs, 9, "the flag wins over the file");
        assert_eq!(args.grpc_addr.to_string(), "127.0.0.1:6000");
        assert_eq!(args.gossip_peers.len(), 2);
        assert_eq!(args.block_window_ms, 5, "the built-in default stays");

        std::fs::write(&path, "grpc-adr = \"127.0.0.1:1\"\n").unwrap();
        let err = parse_from(argv(&["--config", p])).unwrap_err().to_string();
        assert!(err.contains("unknown key `grpc-adr`"), "{err}");
        std::fs::write(&path, "max-block-txs = 0\n").unwrap();
        let err = format!("{:#}", parse_from(argv(&["--config", p])).unwrap_err());
        assert!(err.contains("max-block-txs") || err.contains("0"), "{err}");
        std::fs::write(&path, "dev = [[1]]\n").unwrap();
        assert!(parse_from(argv(&["--config", p])).is_err());
    }

    #[test]
    fn the_template_lists_every_setting_and_parses_as_toml() {
        let t = template();
        for key in [
            "grpc-addr",
            "data-dir",
            "peer",
            "mempool-max-txs",
            "metrics-addr",
            "dev",
        ] {
            assert!(t.contains(&format!("# {key} = ")), "{key}: {t}");
        }
        // Uncommented, every line is a valid key and value.
        let is_setting = |l: &&str| {
            l.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        };
        let uncommented: String = t
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(is_setting)
            .map(|l| format!("{l}\n"))
            .collect();
        let table: toml::Table = toml::from_str(&uncommented).unwrap();
        assert!(table.len() > 20, "{table:?}");
    }
}
