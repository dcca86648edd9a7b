//! `--config-file`: etcd's YAML configuration (`name: m1`, `listen-client-urls: ...`,
//! `client-transport-security: {cert-file: ...}`), read as the command-line flags it stands
//! for, so one flag parser checks both. As in etcd, a config file replaces the command line:
//! other flags given with it are ignored (with a warning).
//!
//! Keys are etcd's flag names; `client-transport-security` and `peer-transport-security` hold
//! the TLS keys (`cert-file`, `key-file`, `client-cert-auth`, `trusted-ca-file`, ...), the peer
//! ones standing for the `--peer-*` flags. Lists may be YAML sequences or comma-separated strings.
//! Keys etcdlab has no flag for are left out with a warning (etcd ignores unknown keys too).

use std::ffi::OsString;

use anyhow::{Context, bail};
use serde_yaml::Value;

/// What [`expand`] made of the command line.
#[derive(Debug, PartialEq)]
pub struct Expanded {
    pub args: Vec<OsString>,
    /// What to warn about once logging runs: ignored flags and unknown keys.
    pub warnings: Vec<String>,
}

/// The arguments to parse: the config file's flags when one is given (by `--config-file` or
/// `ETCD_CONFIG_FILE`), else `args` unchanged. `args[0]` is the program name; `known` says
/// which flag names exist.
pub fn expand(args: Vec<OsString>, known: impl Fn(&str) -> bool) -> anyhow::Result<Expanded> {
    let Some((path, others)) = config_file_argument(&args).or_else(|| {
        std::env::var("ETCD_CONFIG_FILE")
            .ok()
            .map(|p| (p, args.len() > 1))
    }) else {
        return Ok(Expanded {
            args,
            warnings: Vec::new(),
        });
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the config file {path}"))?;
    let flags = flags_from_yaml(&text).with_context(|| format!("in the config file {path}"))?;
    let mut warnings = Vec::new();
    if others {
        warnings.push(format!(
            "the config file {path} is used: the other command-line flags are ignored, as etcd does"
        ));
    }
    let mut expanded = vec![args.first().cloned().unwrap_or_else(|| "etcd".into())];
    for flag in flags {
        let name = flag
            .trim_start_matches("--")
            .split('=')
            .next()
            .unwrap_or_default();
        if known(name) {
            expanded.push(OsString::from(flag));
        } else {
            warnings.push(format!(
                "the config file's key {name:?} is not an etcdlab flag: ignored"
            ));
        }
    }
    Ok(Expanded {
        args: expanded,
        warnings,
    })
}

/// The config file named on the command line, and whether other flags came with it.
fn config_file_argument(args: &[OsString]) -> Option<(String, bool)> {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, word) in words.iter().enumerate() {
        if let Some(path) = word.strip_prefix("--config-file=") {
            return Some((path.to_string(), words.len() > 1));
        }
        if word == "--config-file" {
            return words.get(i + 1).map(|p| (p.clone(), words.len() > 2));
        }
    }
    None
}

/// A YAML mapping of etcd's configuration as `--flag=value` arguments.
pub fn flags_from_yaml(text: &str) -> anyhow::Result<Vec<String>> {
    let root: Value = serde_yaml::from_str(text).context("not YAML")?;
    let Value::Mapping(entries) = root else {
        if root.is_null() {
            return Ok(Vec::new());
        }
        bail!("the configuration must be a mapping of etcd's flag names to values");
    };
    let mut flags = Vec::new();
    for (key, value) in &entries {
        let key = key.as_str().context("keys must be flag names")?;
        match (key, value) {
            ("client-transport-security" | "peer-transport-security", Value::Mapping(tls)) => {
                let prefix = if key == "peer-transport-security" {
                    "peer-"
                } else {
                    ""
                };
                for (tls_key, tls_value) in tls {
                    let tls_key = tls_key.as_str().context("keys must be flag names")?;
                    if let Some(text) = flag_value(tls_value)? {
                        flags.push(format!("--{prefix}{tls_key}={text}"));
                    }
                }
            }
            (_, value) => {
                if let Some(text) = flag_value(value)? {
                    flags.push(format!("--{key}={text}"));
                }
            }
        }
    }
    Ok(flags)
}

/// A YAML value as a flag's text (`None` for an empty value: the flag keeps its default).
fn flag_value(value: &Value) -> anyhow::Result<Option<String>> {
    Ok(match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Sequence(items) => {
            let parts: anyhow::Result<Vec<String>> = items
                .iter()
                .map(|item| flag_value(item).map(Option::unwrap_or_default))
                .collect();
            Some(parts?.join(","))
        }
        other => bail!("a value etcd's flags cannot take: {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcds_yaml_becomes_its_flags() {
        let yaml = "
name: m1
data-dir: /var/lib/etcd
listen-client-urls: https://127.0.0.1:2379
initial-cluster: [m1=https://10.0.0.1:2380, m2=https://10.0.0.2:2380]
heartbeat-interval: 100
initial-cluster-state: new
strict-reconfig-check: true
wal-dir:
client-transport-security:
  cert-file: /etc/etcd/cert/etcd.pem
  client-cert-auth: true
peer-transport-security:
  trusted-ca-file: /etc/kubernetes/cert/ca.pem
";
        assert_eq!(
            flags_from_yaml(yaml).unwrap(),
            vec![
                "--name=m1",
                "--data-dir=/var/lib/etcd",
                "--listen-client-urls=https://127.0.0.1:2379",
                "--initial-cluster=m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380",
                "--heartbeat-interval=100",
                "--initial-cluster-state=new",
                "--strict-reconfig-check=true",
                "--cert-file=/etc/etcd/cert/etcd.pem",
                "--client-cert-auth=true",
                "--peer-trusted-ca-file=/etc/kubernetes/cert/ca.pem",
            ]
        );
        assert!(flags_from_yaml("- a\n- b").is_err());
        assert!(
            flags_from_yaml("name: [1: 2]").is_err() || flags_from_yaml("name: {a: 1}").is_err()
        );
    }

    #[test]
    fn the_config_file_replaces_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.conf.yml");
        std::fs::write(&path, "name: from-file\n").unwrap();
        let args: Vec<OsString> = ["etcd", "--name", "ignored", "--config-file"]
            .iter()
            .map(OsString::from)
            .chain([path.as_os_str().to_owned()])
            .collect();
        let known = |name: &str| name == "name";
        let expanded = expand(args, known).unwrap();
        assert_eq!(
            expanded.args,
            vec![OsString::from("etcd"), "--name=from-file".into()]
        );
        assert_eq!(expanded.warnings.len(), 1, "the ignored --name");
        std::fs::write(
            &path,
            "name: m1
proxy: off
",
        )
        .unwrap();
        let only_file = vec![
            "etcd".into(),
            format!("--config-file={}", path.display()).into(),
        ];
        let expanded = expand(only_file, known).unwrap();
        assert_eq!(
            expanded.args,
            vec![OsString::from("etcd"), "--name=m1".into()]
        );
        assert!(
            expanded.warnings[0].contains("\"proxy\""),
            "{:?}",
            expanded.warnings
        );
        let plain: Vec<OsString> = vec!["etcd".into(), "--name".into(), "m1".into()];
        assert_eq!(expand(plain.clone(), known).unwrap().args, plain);
        let missing = vec!["etcd".into(), "--config-file=/nonexistent/etcd.yml".into()];
        let error = expand(missing, known).unwrap_err();
        assert!(format!("{error:#}").contains("/nonexistent/etcd.yml"));
    }
}
