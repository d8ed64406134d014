//! Where host commands run: on this machine, over ssh, or inside a docker
//! container. Host checks and docker-bench use the same backends, so one
//! spec runs anywhere.
//!
//! The remote side of ssh takes a command *string*; each argument is
//! quoted here with [`shell_quote`], so config values never become shell
//! syntax.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::process::Cmd;

/// ssh connection options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshOptions {
    /// Remote user (default: ssh's default).
    #[serde(default)]
    pub user: Option<String>,
    /// Port (default 22).
    #[serde(default)]
    pub port: Option<u16>,
    /// Private key file.
    #[serde(default)]
    pub identity_file: Option<PathBuf>,
    /// A `known_hosts` file; when unset, host keys are accepted on first use
    /// into a run-local file (ephemeral CI machines have new keys each time).
    #[serde(default)]
    pub known_hosts_file: Option<PathBuf>,
    /// Extra `-o` options (`Name=value`).
    #[serde(default)]
    pub options: Vec<String>,
    /// Directory for the ControlMaster socket (one connection per host).
    #[serde(default)]
    pub control_dir: Option<PathBuf>,
}

/// Where a command runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// On this machine.
    Local,
    /// On a host reached with the system `ssh`.
    Ssh(SshOptions),
    /// Inside a running container, with `docker exec`.
    Docker,
}

impl Backend {
    /// A command running `argv` on `host` (ignored for [`Backend::Local`];
    /// a container name or id for [`Backend::Docker`]).
    pub fn command(&self, host: &str, argv: &[String]) -> Cmd {
        match self {
            Backend::Local => {
                let (program, rest) = argv
                    .split_first()
                    .map_or(("true", &[][..]), |(p, r)| (p.as_str(), r));
                Cmd::new(program).args(rest)
            }
            Backend::Docker => Cmd::new("docker").arg("exec").arg(host).args(argv),
            Backend::Ssh(opts) => {
                let mut cmd = Cmd::new("ssh")
                    .args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"])
                    .args(["-o", "LogLevel=ERROR"]);
                match &opts.known_hosts_file {
                    Some(f) => {
                        cmd = cmd
                            .arg("-o")
                            .arg(format!("UserKnownHostsFile={}", f.display()))
                    }
                    None => cmd = cmd.args(["-o", "StrictHostKeyChecking=accept-new"]),
                }
                if let Some(dir) = &opts.control_dir {
                    cmd = cmd
                        .args(["-o", "ControlMaster=auto", "-o", "ControlPersist=60"])
                        .arg("-o")
                        .arg(format!("ControlPath={}/%C", dir.display()));
                }
                if let Some(port) = opts.port {
                    cmd = cmd.arg("-p").arg(port.to_string());
                }
                if let Some(id) = &opts.identity_file {
                    cmd = cmd.arg("-i").arg(id);
                }
                for o in &opts.options {
                    cmd = cmd.arg("-o").arg(o);
                }
                let dest = match &opts.user {
                    Some(u) => format!("{u}@{host}"),
                    None => host.to_string(),
                };
                let remote: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
                cmd.arg(dest).arg("--").arg(remote.join(" "))
            }
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Ssh(_) => "ssh",
            Backend::Docker => "docker",
        }
    }

    /// A default per-command timeout for this backend.
    pub fn default_timeout(&self) -> Duration {
        match self {
            Backend::Local => Duration::from_secs(60),
            _ => Duration::from_secs(120),
        }
    }
}

/// Quotes one argument for a POSIX shell: safe words stay as they are,
/// everything else goes in single quotes.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_words_and_neutralises_shell_syntax() {
        assert_eq!(shell_quote("abc-1.2"), "abc-1.2");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
