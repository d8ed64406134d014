//! `install-packages` (apt-get, with sudo when not root) and `pip-install`
//! (`packages` or `requirements_file`), as the seed's deploy pipeline used them.

use serde::Deserialize;
use serde_json::Value;
use step_core::config::OneOrMany;
use step_core::process::Cmd;
use step_core::step::FnKind;
use step_core::{
    ConfigError, Outcome, PropertyDoc, PropertyType, Step, StepContext, StepDescription, StepError,
    StepKind, ToolSpec, async_trait, parse_config,
};

/// `install-packages` configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallPackagesConfig {
    /// Packages: a list, or a string of names separated by spaces (`wget unzip`).
    pub packages: OneOrMany<String>,
    /// Run `apt-get update` first (default true).
    #[serde(default = "yes")]
    pub update: bool,
}

fn yes() -> bool {
    true
}

fn split_names(p: OneOrMany<String>) -> Vec<String> {
    p.into_vec()
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// The `install-packages` step.
#[derive(Clone, Debug)]
pub struct InstallPackages {
    packages: Vec<String>,
    update: bool,
}

fn describe_install() -> StepDescription {
    StepDescription::new("install-packages", "Install Debian/Ubuntu packages with apt-get.")
        .doc("Runs `apt-get update` (unless `update: false`) and `apt-get install -y --no-install-recommends`, through sudo when not root. Takes wercker's install-packages step as written: its one property, `packages`, a space-separated string, with version pins as `name=version`. wercker's apt cache between builds has no equivalent here; `update` is stepwise's own.")
        .property(PropertyDoc::required(
            "packages",
            PropertyType::StringOrList,
            "Package names: a list, or a string separated by spaces.",
        ))
        .property(PropertyDoc::with_default(
            "update",
            PropertyType::Bool,
            "true",
            "Run apt-get update first.",
        ))
        .example("- install-packages:\n    packages: wget unzip\n")
}

fn build_install(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let c: InstallPackagesConfig = parse_config(properties)?;
    let packages = split_names(c.packages);
    if packages.is_empty() {
        return Err(ConfigError::property("packages", "no package names given"));
    }
    if let Some(bad) = packages.iter().find(|p| p.starts_with('-')) {
        return Err(ConfigError::property(
            "packages",
            format!("`{bad}` is not a package name (options are not accepted here)"),
        ));
    }
    Ok(Box::new(InstallPackages {
        packages,
        update: c.update,
    }))
}

/// The `install-packages` kind.
pub fn install_packages_kind() -> Box<dyn StepKind> {
    Box::new(FnKind::named(
        "install-packages",
        &[],
        describe_install,
        build_install,
    ))
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[async_trait]
impl Step for InstallPackages {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let apt = ToolSpec::new(
            "apt-get",
            "this step needs a Debian or Ubuntu machine with apt-get",
        )
        .find(cx.env(), cx.workdir())?;
        let prefix: Vec<String> = if is_root() {
            Vec::new()
        } else {
            let sudo = ToolSpec::new("sudo", "run as root or install sudo")
                .find(cx.env(), cx.workdir())?;
            vec![sudo.path.display().to_string(), "-n".into()]
        };
        let run = |args: Vec<String>| {
            let mut argv = prefix.clone();
            argv.push(apt.path.display().to_string());
            argv.extend(args);
            let (p, rest) = argv
                .split_first()
                .map(|(p, r)| (p.clone(), r.to_vec()))
                .unwrap_or_default();
            Cmd::new(p)
                .args(rest)
                .env("DEBIAN_FRONTEND", "noninteractive")
        };
        if self.update {
            let out = run(vec!["update".into()]).run(cx).await?;
            if !out.success() {
                return Ok(Outcome::failed(format!(
                    "apt-get update failed with {}",
                    out.describe_status()
                )));
            }
        }
        let mut args = vec![
            "install".to_string(),
            "-y".into(),
            "--no-install-recommends".into(),
        ];
        args.extend(self.packages.iter().cloned());
        let out = run(args).run(cx).await?;
        if !out.success() {
            return Ok(Outcome::failed(format!(
                "apt-get install {} failed with {}",
                self.packages.join(" "),
                out.describe_status()
            )));
        }
        Ok(Outcome::passed().with_message(format!("installed {}", self.packages.join(" "))))
    }

    fn commands(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.update {
            lines.push("apt-get update".to_string());
        }
        let mut args = vec![
            "install".to_string(),
            "-y".into(),
            "--no-install-recommends".into(),
        ];
        args.extend(self.packages.iter().cloned());
        lines.push(step_core::command_line("apt-get", &args));
        lines
    }
}

/// `pip-install` configuration: stepwise's properties plus those of
/// wercker's registry step (`packages_list`, `pip_command`, `extra_args`
/// as a string, and the wheel settings, which have no effect here).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipInstallConfig {
    /// Packages to install (a list or a space-separated string).
    #[serde(default)]
    pub packages: Option<OneOrMany<String>>,
    /// wercker's name for `packages`: a space-separated string.
    #[serde(default)]
    pub packages_list: Option<OneOrMany<String>>,
    /// A requirements file, relative to the step's working directory
    /// (default: `requirements.txt` when no packages are given and it exists).
    #[serde(default)]
    pub requirements_file: Option<String>,
    /// The pip program (default `pip3`, else `pip`).
    #[serde(default)]
    pub pip: Option<String>,
    /// wercker's name for `pip`.
    #[serde(default)]
    pub pip_command: Option<String>,
    /// Extra arguments for `pip install`: a list, or a string split on spaces.
    #[serde(default)]
    pub extra_args: Option<OneOrMany<String>>,
    /// wercker: build wheels first. No effect here.
    #[serde(default)]
    pub auto_run_wheel: Option<serde_json::Value>,
    /// wercker: clear the wheel cache. No effect here.
    #[serde(default)]
    pub cleanup_wheel_cache: Option<serde_json::Value>,
    /// wercker: arguments for `pip wheel`. No effect here.
    #[serde(default)]
    pub extra_wheel_args: Option<serde_json::Value>,
}

/// The `pip-install` step.
#[derive(Clone, Debug)]
pub struct PipInstall {
    config: PipInstallConfig,
    packages: Vec<String>,
    extra_args: Vec<String>,
}

fn describe_pip() -> StepDescription {
    let no_effect =
        "wercker's pip-install step property; accepted, no effect here (no wheel cache).";
    StepDescription::new("pip-install", "Install Python packages with pip.")
        .doc("Takes wercker's pip-install properties too: `packages_list` (as `packages`), `pip_command` (as `pip`), `extra_args` as a string; `auto_run_wheel`, `cleanup_wheel_cache` and `extra_wheel_args` are accepted and have no effect. With no packages and no `requirements_file`, `requirements.txt` is installed when it exists, as wercker's step did.")
        .reads(&["requirements_file"])
        .property(PropertyDoc::optional(
            "packages",
            PropertyType::StringOrList,
            "Package specifiers: a list or a space-separated string.",
        ))
        .property(PropertyDoc::optional(
            "packages_list",
            PropertyType::StringOrList,
            "wercker's name for `packages` (a space-separated string).",
        ))
        .property(PropertyDoc::optional(
            "requirements_file",
            PropertyType::Path,
            "A requirements file (`pip install -r`); default requirements.txt when it exists.",
        ))
        .property(PropertyDoc::optional(
            "pip",
            PropertyType::String,
            "The pip program (default: pip3, else pip).",
        ))
        .property(PropertyDoc::optional(
            "pip_command",
            PropertyType::String,
            "wercker's name for `pip`.",
        ))
        .property(PropertyDoc::optional(
            "extra_args",
            PropertyType::StringOrList,
            "Extra arguments for pip install: a list, or a string split on spaces.",
        ))
        .property(PropertyDoc::optional("auto_run_wheel", PropertyType::Any, no_effect))
        .property(PropertyDoc::optional("cleanup_wheel_cache", PropertyType::Any, no_effect))
        .property(PropertyDoc::optional("extra_wheel_args", PropertyType::Any, no_effect))
        .example("- pip-install:\n    requirements_file: requirements.txt\n")
}

fn build_pip(properties: Value) -> Result<Box<dyn Step>, ConfigError> {
    let config: PipInstallConfig = parse_config(properties)?;
    if config.pip.is_some() && config.pip_command.is_some() {
        return Err(ConfigError::new(
            "set `pip` or wercker's `pip_command`, not both",
        ));
    }
    let mut packages = Vec::new();
    for list in [&config.packages, &config.packages_list]
        .into_iter()
        .flatten()
    {
        packages.extend(split_names(list.clone()));
    }
    if let Some(bad) = packages.iter().find(|p| p.starts_with('-')) {
        return Err(ConfigError::property(
            "packages",
            format!("`{bad}` is not a package (put options in `extra_args`)"),
        ));
    }
    let extra_args = config
        .extra_args
        .clone()
        .map(split_names)
        .unwrap_or_default();
    Ok(Box::new(PipInstall {
        config,
        packages,
        extra_args,
    }))
}

/// The `pip-install` kind.
pub fn pip_install_kind() -> Box<dyn StepKind> {
    Box::new(FnKind::named("pip-install", &[], describe_pip, build_pip))
}

#[async_trait]
impl Step for PipInstall {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        let requirements = match &self.config.requirements_file {
            Some(req) => {
                let path = cx.resolve(req);
                if !path.is_file() {
                    return Err(ConfigError::property(
                        "requirements_file",
                        format!("{} does not exist", path.display()),
                    )
                    .into());
                }
                Some(path)
            }
            None if self.packages.is_empty() => {
                let path = cx.resolve("requirements.txt");
                if !path.is_file() {
                    return Ok(Outcome::passed().with_message(
                        "nothing to install: no packages given and no requirements.txt",
                    ));
                }
                Some(path)
            }
            None => None,
        };
        let hint = "install Python 3 with pip (Debian package python3-pip)";
        let program = self
            .config
            .pip
            .as_ref()
            .or(self.config.pip_command.as_ref());
        let pip = match program {
            Some(p) => ToolSpec::new(p.clone(), hint).find(cx.env(), cx.workdir())?,
            None => ToolSpec::new("pip3", hint)
                .find(cx.env(), cx.workdir())
                .or_else(|_| ToolSpec::new("pip", hint).find(cx.env(), cx.workdir()))?,
        };
        let mut cmd = Cmd::new(&pip.path).arg("install");
        if let Some(path) = requirements {
            cmd = cmd.arg("-r").arg(path);
        }
        cmd = cmd.args(&self.packages).args(&self.extra_args);
        let out = cmd.run(cx).await?;
        if !out.success() {
            return Ok(Outcome::failed(format!(
                "pip install failed with {}",
                out.describe_status()
            )));
        }
        Ok(Outcome::passed())
    }

    fn commands(&self) -> Vec<String> {
        let mut args = vec!["install".to_string()];
        match &self.config.requirements_file {
            Some(req) => args.extend(["-r".to_string(), req.clone()]),
            None if self.packages.is_empty() => {
                args.extend(["-r".to_string(), "requirements.txt".to_string()])
            }
            None => {}
        }
        args.extend(self.packages.iter().cloned());
        args.extend(self.extra_args.iter().cloned());
        let pip = self
            .config
            .pip
            .as_deref()
            .or(self.config.pip_command.as_deref())
            .unwrap_or("pip3");
        vec![step_core::command_line(pip, &args)]
    }
}
