//! `terraform-install`: a pinned terraform, verified before it is used.
//!
//! Order of preference: a matching terraform already on `PATH`, then one in
//! the cache (`<cache_dir>/<version>/terraform`), then a download from the
//! mirror. A download is hashed while it streams, compared with the
//! mirror's `SHA256SUMS` line for that file, extracted safely into a
//! temporary directory *inside* the cache and renamed into place — one
//! atomic step, so the cache holds either a complete verified version or
//! nothing. On a checksum mismatch, a truncated body or an unsafe archive
//! entry the temporary files are removed and the cache is left as it was;
//! the installer never executes what it downloaded.
//!
//! The step's result puts the version's directory first on `PATH` for the
//! steps that follow.

pub mod archive;
mod download;
pub mod mirror;

use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use step_core::config::duration;
use step_core::event::Level;
use step_core::{
    ConfigError, EnvChange, Outcome, PropertyDoc, PropertyType, Step, StepContext, StepDescription,
    StepError, ToolSpec, async_trait,
};

use self::download::Fetcher;
use self::mirror::{
    DEFAULT_MIRROR, Mirror, Platform, exact_version, parse_index, parse_sums, pick, redact,
};
use crate::cli::INSTALL_HINT;

/// Properties of `terraform-install`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformInstallConfig {
    /// An exact version (`1.11.4`, `0.5.3`) or a requirement (`~> 1.11`,
    /// `>=1.6, <2`); a requirement picks the highest matching release the
    /// mirror's index lists (no pre-releases unless named).
    pub version: String,
    /// The release mirror, in HashiCorp's layout (see [`mirror`]).
    #[serde(default = "default_mirror")]
    pub mirror: String,
    /// Where verified versions are kept. Default:
    /// `$STEPWISE_CACHE_DIR/terraform`, else `~/.cache/stepwise/terraform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Accept a matching terraform that is already on `PATH`.
    #[serde(default = "yes")]
    pub use_path: bool,
    /// Limit for each HTTP request (the archive download included).
    #[serde(default = "default_download_timeout", with = "duration")]
    pub download_timeout: Duration,
    /// The largest archive downloaded, in MiB, when the mirror does not say
    /// its size (`Content-Length`); a body past it — or past the size the
    /// mirror gave — stops the download.
    #[serde(default = "default_max_download_mib")]
    pub max_download_mib: u64,
}

fn default_max_download_mib() -> u64 {
    download::DEFAULT_MAX_DOWNLOAD_MIB
}

impl TerraformInstallConfig {
    /// A config for `version` from the default mirror.
    pub fn new(version: impl Into<String>) -> Self {
        TerraformInstallConfig {
            version: version.into(),
            mirror: default_mirror(),
            cache_dir: None,
            use_path: true,
            download_timeout: default_download_timeout(),
            max_download_mib: default_max_download_mib(),
        }
    }
}

fn default_mirror() -> String {
    DEFAULT_MIRROR.to_string()
}

fn yes() -> bool {
    true
}

fn default_download_timeout() -> Duration {
    Duration::from_secs(600)
}

/// Largest index or checksum document accepted.
const DOCUMENT_LIMIT: usize = 8 * 1024 * 1024;

/// The `terraform-install` step.
#[derive(Clone, Debug)]
pub struct TerraformInstall {
    config: TerraformInstallConfig,
    requirement: VersionReq,
    mirror: Mirror,
}

impl TerraformInstall {
    /// A step from its config; checks the version and the mirror URL.
    pub fn new(config: TerraformInstallConfig) -> Result<Self, ConfigError> {
        let requirement = step_core::tool::parse_requirement(&config.version)
            .map_err(|e| ConfigError::property("version", e.to_string()))?;
        let mirror = Mirror::parse(&config.mirror)
            .map_err(|e| ConfigError::property("mirror", e.to_string()))?;
        Ok(TerraformInstall {
            config,
            requirement,
            mirror,
        })
    }

    /// Builds the step from properties.
    pub fn from_properties(properties: Value) -> Result<Self, ConfigError> {
        TerraformInstall::new(step_core::parse_config(properties)?)
    }

    /// The version requirement.
    pub fn requirement(&self) -> &VersionReq {
        &self.requirement
    }

    /// The cache directory this step uses in `cx`.
    pub fn cache_dir(&self, cx: &StepContext) -> Result<PathBuf, StepError> {
        if let Some(dir) = &self.config.cache_dir {
            return Ok(cx.resolve(dir));
        }
        if let Some(root) = cx.env().get("STEPWISE_CACHE_DIR").filter(|v| !v.is_empty()) {
            return Ok(cx.resolve(root).join("terraform"));
        }
        match cx.env().get("HOME").filter(|v| !v.is_empty()) {
            Some(home) => Ok(PathBuf::from(home).join(".cache/stepwise/terraform")),
            None => Err(ConfigError::property(
                "cache_dir",
                "neither cache_dir, STEPWISE_CACHE_DIR nor HOME is set; say where to keep terraform",
            )
            .into()),
        }
    }

    async fn resolve_version(
        &self,
        cx: &StepContext,
        fetcher: &Fetcher,
    ) -> Result<Version, StepError> {
        if let Some(v) = exact_version(&self.requirement) {
            return Ok(v);
        }
        let url = self.mirror.index_url();
        let body = fetcher
            .text(cx, &url, "the release index", DOCUMENT_LIMIT)
            .await?;
        let versions = parse_index(&body);
        pick(&versions, &self.requirement).ok_or_else(|| {
            let listed: Vec<String> = versions
                .iter()
                .rev()
                .take(8)
                .map(Version::to_string)
                .collect();
            StepError::other(format!(
                "no terraform release matching `{}` in the index at {} (it lists {})",
                self.config.version,
                redact(&url),
                if listed.is_empty() {
                    "no versions we could read".to_string()
                } else {
                    format!(
                        "{}{}",
                        listed.join(", "),
                        if versions.len() > 8 { ", …" } else { "" }
                    )
                }
            ))
        })
    }

    /// Downloads, verifies and installs `version` into `cache`; returns the
    /// version's directory.
    async fn install(
        &self,
        cx: &StepContext,
        fetcher: &Fetcher,
        cache: &Path,
        version: &Version,
    ) -> Result<PathBuf, StepError> {
        let platform = Platform::current().map_err(|e| StepError::other(e.to_string()))?;
        let zip_name = Mirror::zip_name(version, &platform);
        let sums_url = self.mirror.sums_url(version);
        let sums = fetcher
            .text(cx, &sums_url, &Mirror::sums_name(version), DOCUMENT_LIMIT)
            .await?;
        let expected = parse_sums(&sums, &zip_name).ok_or_else(|| {
            StepError::other(format!(
                "{} at {} has no checksum for {zip_name}",
                Mirror::sums_name(version),
                redact(&sums_url)
            ))
        })?;

        std::fs::create_dir_all(cache)
            .map_err(|e| StepError::io(format!("creating the cache {}", cache.display()), e))?;
        // Both temporaries live in the cache directory (same file system, so
        // the final rename is atomic) and are removed when dropped.
        let mut archive = tempfile::Builder::new()
            .prefix(".download-")
            .suffix(".zip")
            .tempfile_in(cache)
            .map_err(|e| {
                StepError::io(
                    format!("creating a temporary file in {}", cache.display()),
                    e,
                )
            })?;
        let zip_url = self.mirror.zip_url(version, &platform);
        let got = fetcher
            .download(
                cx,
                &zip_url,
                &zip_name,
                archive.as_file_mut(),
                self.config.max_download_mib.saturating_mul(1024 * 1024),
            )
            .await?;
        if got.sha256 != expected {
            return Err(StepError::other(format!(
                "checksum mismatch for {zip_name} from {}: SHA256SUMS says {expected}, the download ({} bytes) is {}; \
                 it was discarded and the cache left unchanged",
                redact(&zip_url),
                got.bytes,
                got.sha256
            )));
        }
        cx.info(format!(
            "{zip_name}: SHA-256 matches {}",
            Mirror::sums_name(version)
        ));

        let staging = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempdir_in(cache)
            .map_err(|e| {
                StepError::io(
                    format!("creating a temporary directory in {}", cache.display()),
                    e,
                )
            })?;
        let archive_path = archive.path().to_path_buf();
        let staging_path = staging.path().to_path_buf();
        tokio::task::spawn_blocking(move || archive::extract_zip(&archive_path, &staging_path))
            .await
            .map_err(|e| StepError::other(format!("extracting {zip_name} failed: {e}")))?
            .map_err(|e| {
                StepError::other(format!(
                    "refusing {zip_name}: {e}; the cache was left unchanged"
                ))
            })?;
        let binary = staging.path().join("terraform");
        if !binary.is_file() {
            return Err(StepError::other(format!(
                "{zip_name} holds no `terraform` file at its top level; the cache was left unchanged"
            )));
        }
        drop(archive);

        let target = cache.join(version.to_string());
        let staged = staging.keep();
        match std::fs::rename(&staged, &target) {
            Ok(()) => Ok(target),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staged);
                // Another run installed the same version meanwhile: its copy
                // was verified just the same.
                if target.join("terraform").is_file() {
                    Ok(target)
                } else {
                    Err(StepError::io(
                        format!("moving terraform into {}", target.display()),
                        e,
                    ))
                }
            }
        }
    }
}

/// The highest cached version matching `req`: `<cache>/<version>/terraform`.
fn cached(cache: &Path, req: &VersionReq) -> Option<(Version, PathBuf)> {
    std::fs::read_dir(cache)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = Version::parse(entry.file_name().to_str()?).ok()?;
            let dir = entry.path();
            (req.matches(&version) && dir.join("terraform").is_file()).then_some((version, dir))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
}

fn found_outcome(outcome: Outcome, version: &Version, dir: &Path) -> Outcome {
    outcome
        .with_output("version", version.to_string())
        .with_output("path", dir.join("terraform").to_string_lossy().into_owned())
}

#[async_trait]
impl Step for TerraformInstall {
    async fn run(&self, cx: &StepContext) -> Result<Outcome, StepError> {
        if self.config.use_path {
            match ToolSpec::new("terraform", INSTALL_HINT)
                .require(Some(self.requirement.clone()))
                .locate(cx)
                .await
            {
                Ok(found) => {
                    let version = found.version.unwrap_or_else(|| Version::new(0, 0, 0));
                    return Ok(Outcome::skipped(format!(
                        "terraform {version} at {} already matches `{}`",
                        found.path.display(),
                        self.config.version
                    ))
                    .with_output("version", version.to_string())
                    .with_output("path", found.path.to_string_lossy().into_owned()));
                }
                Err(StepError::Cancelled) => return Err(StepError::Cancelled),
                Err(e) => cx
                    .events()
                    .log(Level::Debug, format!("not using PATH: {e}")),
            }
        }
        let cache = self.cache_dir(cx)?;
        if let Some((version, dir)) = cached(&cache, &self.requirement) {
            let outcome = Outcome::passed()
                .with_message(format!(
                    "using cached terraform {version} from {}",
                    dir.display()
                ))
                .with_env(EnvChange::PrependPath {
                    dir: dir.to_string_lossy().into_owned(),
                });
            return Ok(found_outcome(outcome, &version, &dir));
        }
        let fetcher = Fetcher::new(self.config.download_timeout)?;
        let version = self.resolve_version(cx, &fetcher).await?;
        // A concurrent run may have installed it meanwhile.
        let ready = cache.join(version.to_string());
        let dir = if ready.join("terraform").is_file() {
            ready
        } else {
            self.install(cx, &fetcher, &cache, &version).await?
        };
        let outcome = Outcome::passed()
            .with_message(format!(
                "installed terraform {version} into {}",
                dir.display()
            ))
            .with_env(EnvChange::PrependPath {
                dir: dir.to_string_lossy().into_owned(),
            });
        Ok(found_outcome(outcome, &version, &dir))
    }

    fn commands(&self) -> Vec<String> {
        vec![format!(
            "(in-process) install terraform {} (download, verify its SHA-256, unzip)",
            self.config.version
        )]
    }
}

/// The description of `terraform-install`.
pub fn describe() -> StepDescription {
    StepDescription::new(
        "terraform-install",
        "Installs a pinned terraform (checksum-verified) and puts it first on PATH for the following steps.",
    )
    .doc(
        "Skips when a matching terraform is on PATH (use_path) or in the cache (<cache_dir>/<version>/terraform). \
Otherwise resolves the version (a requirement against the mirror's index page: an HTML listing of version links, or \
HashiCorp's index.json shape), downloads {mirror}/{v}/terraform_{v}_{os}_{arch}.zip with progress, hashes it while \
streaming, compares it with the line for that file in {mirror}/{v}/terraform_{v}_SHA256SUMS, extracts it into a \
temporary directory in the cache (refusing entries that escape it, and symlinks) and renames that into place \
atomically. A checksum mismatch, a truncated or oversized download or an unsafe archive (an absolute or `..` path, \
a symlink, a duplicate entry) leaves the cache unchanged, and nothing \
downloaded is ever executed by this step.",
    )
    .property(PropertyDoc::required(
        "version",
        PropertyType::String,
        "An exact version (1.11.4, 0.5.3) or a requirement (~> 1.11, >=1.6, <2).",
    ))
    .property(PropertyDoc::with_default(
        "mirror",
        PropertyType::String,
        DEFAULT_MIRROR,
        "Release mirror in HashiCorp's layout ({mirror}/{v}/terraform_{v}_{os}_{arch}.zip and terraform_{v}_SHA256SUMS; index at {mirror}/).",
    ))
    .property(PropertyDoc::with_default(
        "cache_dir",
        PropertyType::Path,
        "$STEPWISE_CACHE_DIR/terraform or ~/.cache/stepwise/terraform",
        "Where verified versions are kept.",
    ))
    .property(PropertyDoc::with_default(
        "use_path",
        PropertyType::Bool,
        "true",
        "Accept a matching terraform already on PATH.",
    ))
    .property(PropertyDoc::with_default(
        "download_timeout",
        PropertyType::Duration,
        "10m",
        "Limit for each HTTP request, the archive download included.",
    ))
    .property(PropertyDoc::with_default(
        "max_download_mib",
        PropertyType::Integer,
        "512",
        "The largest archive downloaded (MiB) when the mirror gives no size; a body longer than the size the mirror \
gives, or than this, stops the download and leaves the cache unchanged.",
    ))
    .output("version", "The terraform version now in use.")
    .output("path", "The terraform binary's path.")
    .example("- terraform-install:\n    version: \"~> 1.11\"\n- terraform-apply:\n    dir: infra\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bad_versions_and_mirrors_are_config_errors() {
        let err = TerraformInstall::from_properties(json!({"version": "banana"})).unwrap_err();
        assert_eq!(err.property.as_deref(), Some("version"));
        let err =
            TerraformInstall::from_properties(json!({"version": "1.0.0", "mirror": "file:///x"}))
                .unwrap_err();
        assert_eq!(err.property.as_deref(), Some("mirror"));
        let err = TerraformInstall::from_properties(json!({})).unwrap_err();
        assert!(err.message.contains("version"), "{err}");
    }

    #[test]
    fn the_cache_dir_follows_property_then_env_then_home() {
        let step = TerraformInstall::from_properties(json!({"version": "1.11.4"})).unwrap();
        let mut env = step_core::Env::new();
        env.set("HOME", "/home/ci");
        let cx = StepContext::for_dir("/w").with_env(env.clone());
        assert_eq!(
            step.cache_dir(&cx).unwrap(),
            PathBuf::from("/home/ci/.cache/stepwise/terraform")
        );
        env.set("STEPWISE_CACHE_DIR", "/cache");
        let cx = StepContext::for_dir("/w").with_env(env);
        assert_eq!(
            step.cache_dir(&cx).unwrap(),
            PathBuf::from("/cache/terraform")
        );
        let step =
            TerraformInstall::from_properties(json!({"version": "1.11.4", "cache_dir": "tools"}))
                .unwrap();
        assert_eq!(step.cache_dir(&cx).unwrap(), PathBuf::from("/w/tools"));
    }

    #[test]
    fn only_complete_matching_versions_count_as_cached() {
        let tmp = tempfile::tempdir().unwrap();
        for v in ["1.10.5", "1.11.4", "1.12.0"] {
            std::fs::create_dir_all(tmp.path().join(v)).unwrap();
            std::fs::write(tmp.path().join(v).join("terraform"), "").unwrap();
        }
        std::fs::create_dir_all(tmp.path().join("1.11.9")).unwrap(); // no binary
        std::fs::create_dir_all(tmp.path().join(".incoming-x")).unwrap();
        let req = step_core::tool::parse_requirement("~> 1.11.0").unwrap();
        assert_eq!(
            cached(tmp.path(), &req).map(|c| c.0),
            Some(Version::new(1, 11, 4))
        );
        let req = step_core::tool::parse_requirement("2.0.0").unwrap();
        assert_eq!(cached(tmp.path(), &req), None);
    }
}
