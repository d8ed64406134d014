//! A terraform release mirror: HashiCorp's layout, its index page and its
//! checksum files.
//!
//! Layout (as on `https://releases.hashicorp.com/terraform`):
//!
//! ```text
//! {mirror}/                                        index: lists the versions
//! {mirror}/{v}/terraform_{v}_{os}_{arch}.zip       the release archive
//! {mirror}/{v}/terraform_{v}_SHA256SUMS            "<sha256 hex>  <file name>" lines
//! ```
//!
//! The index may be any of:
//! * an HTML (or plain directory) listing whose links end in a version
//!   (`<a href="/terraform/1.11.4/">terraform_1.11.4</a>`, as HashiCorp's
//!   page and simple file servers produce), or text naming `terraform_<v>`;
//! * JSON: HashiCorp's `index.json` shape (`{"versions": {"1.11.4": …}}`),
//!   or a list of version strings (`["1.11.4", "1.10.5"]`) or of objects
//!   with a `version` field.

use std::sync::OnceLock;

use regex::Regex;
use reqwest::Url;
use semver::{Version, VersionReq};
use serde_json::Value;

/// HashiCorp's release site.
pub const DEFAULT_MIRROR: &str = "https://releases.hashicorp.com/terraform";

/// An operating system and CPU architecture in HashiCorp's naming
/// (`linux`/`darwin`, `amd64`/`arm64`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`, `darwin`, `freebsd`, …
    pub os: String,
    /// `amd64`, `arm64`, `386`, `arm`.
    pub arch: String,
}

impl Platform {
    /// The platform this program runs on.
    pub fn current() -> Result<Platform, MirrorError> {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            os @ ("linux" | "freebsd" | "openbsd" | "solaris" | "windows") => os,
            other => return Err(MirrorError::NoReleaseForOs(other.to_string())),
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            other => return Err(MirrorError::NoReleaseForArch(other.to_string())),
        };
        Ok(Platform {
            os: os.into(),
            arch: arch.into(),
        })
    }
}

/// Why there is no terraform release to download from a mirror, or no
/// usable mirror. No variant holds a URL's credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// This operating system has no terraform builds.
    #[error("terraform has no releases for the operating system `{0}`")]
    NoReleaseForOs(String),
    /// This architecture has no terraform builds.
    #[error("terraform has no releases for the architecture `{0}`")]
    NoReleaseForArch(String),
    /// The mirror is not a URL (shown with its credentials redacted).
    #[error("`{url}` is not a URL ({reason})")]
    NotAUrl {
        /// The URL, redacted.
        url: String,
        /// What the URL parser said.
        reason: String,
    },
    /// The mirror is not http or https.
    #[error("`{0}` is not an http(s) URL")]
    NotHttp(String),
    /// The mirror has a query or a fragment.
    #[error("a mirror URL cannot have a query or fragment")]
    QueryOrFragment,
}

/// A mirror's base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mirror {
    base: String,
}

impl Mirror {
    /// A mirror at `url` (http or https).
    pub fn parse(url: &str) -> Result<Mirror, MirrorError> {
        let base = url.trim().trim_end_matches('/').to_string();
        let parsed = Url::parse(&base).map_err(|e| MirrorError::NotAUrl {
            url: redact(url),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(MirrorError::NotHttp(redact(url)));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(MirrorError::QueryOrFragment);
        }
        Ok(Mirror { base })
    }

    /// The archive's file name: `terraform_1.11.4_linux_amd64.zip`.
    pub fn zip_name(version: &Version, platform: &Platform) -> String {
        format!("terraform_{version}_{}_{}.zip", platform.os, platform.arch)
    }

    /// The checksum file's name: `terraform_1.11.4_SHA256SUMS`.
    pub fn sums_name(version: &Version) -> String {
        format!("terraform_{version}_SHA256SUMS")
    }

    /// The index URL (`{mirror}/`).
    pub fn index_url(&self) -> String {
        format!("{}/", self.base)
    }

    /// The archive's URL.
    pub fn zip_url(&self, version: &Version, platform: &Platform) -> String {
        format!(
            "{}/{version}/{}",
            self.base,
            Mirror::zip_name(version, platform)
        )
    }

    /// The checksum file's URL.
    pub fn sums_url(&self, version: &Version) -> String {
        format!("{}/{version}/{}", self.base, Mirror::sums_name(version))
    }
}

/// A URL for messages: credentials and query removed.
pub fn redact(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "(unparseable URL)".to_string(),
    }
}

/// The versions an index lists (see the module docs for the formats),
/// sorted, without duplicates.
pub fn parse_index(body: &str) -> Vec<Version> {
    let mut versions: Vec<Version> = match serde_json::from_str::<Value>(body.trim()) {
        Ok(Value::Object(map)) => match map.get("versions") {
            Some(Value::Object(v)) => v.keys().filter_map(|k| Version::parse(k).ok()).collect(),
            Some(Value::Array(items)) => versions_in_array(items),
            _ => Vec::new(),
        },
        Ok(Value::Array(items)) => versions_in_array(&items),
        _ => versions_in_text(body),
    };
    versions.sort();
    versions.dedup();
    versions
}

fn versions_in_array(items: &[Value]) -> Vec<Version> {
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("version").and_then(Value::as_str),
            _ => None,
        })
        .filter_map(|s| Version::parse(s.trim_start_matches('v')).ok())
        .collect()
}

fn versions_in_text(body: &str) -> Vec<Version> {
    static PATTERNS: OnceLock<[Regex; 2]> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            // terraform_1.11.4 (link text, file names)
            Regex::new(r"terraform_(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)").expect("a literal pattern"),
            // href="/terraform/1.11.4/" or href="1.11.4/"
            Regex::new(
                r#"href\s*=\s*["']?(?:[^"'\s>]*/)?v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)/?["'\s>]"#,
            )
            .expect("a literal pattern"),
        ]
    });
    patterns
        .iter()
        .flat_map(|re| re.captures_iter(body))
        .filter_map(|c| Version::parse(c.get(1)?.as_str()).ok())
        .collect()
}

/// The highest version matching `req`. Pre-releases match only when the
/// requirement names one (semver's rule), so `~> 1.11` never picks a beta.
pub fn pick(versions: &[Version], req: &VersionReq) -> Option<Version> {
    versions.iter().filter(|v| req.matches(v)).max().cloned()
}

/// The version a requirement pins exactly (`=1.11.4`), if it does.
pub fn exact_version(req: &VersionReq) -> Option<Version> {
    let [c] = req.comparators.as_slice() else {
        return None;
    };
    if c.op != semver::Op::Exact {
        return None;
    }
    Some(Version {
        major: c.major,
        minor: c.minor?,
        patch: c.patch?,
        pre: c.pre.clone(),
        build: semver::BuildMetadata::EMPTY,
    })
}

/// The SHA-256 (lower-case hex) a `SHA256SUMS` file gives for `file_name`.
pub fn parse_sums(body: &str, file_name: &str) -> Option<String> {
    body.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let hash = parts.next()?;
        let name = parts.next()?.trim_start_matches('*');
        (name == file_name && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| hash.to_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn hashicorp_html_index_is_understood() {
        let html = r#"<!DOCTYPE html><html><body><ul>
          <li><a href="../">../</a></li>
          <li><a href="/terraform/1.12.0-alpha20250319/">terraform_1.12.0-alpha20250319</a></li>
          <li><a href="/terraform/1.11.4/">terraform_1.11.4</a></li>
          <li><a href="/terraform/1.10.5/">terraform_1.10.5</a></li>
          <li><a href="/terraform/0.5.3/">terraform_0.5.3</a></li>
        </ul></body></html>"#;
        let versions = parse_index(html);
        assert_eq!(
            versions,
            vec![
                v("0.5.3"),
                v("1.10.5"),
                v("1.11.4"),
                v("1.12.0-alpha20250319")
            ]
        );
        let req = step_core::tool::parse_requirement("~> 1.10").unwrap();
        assert_eq!(
            pick(&versions, &req),
            Some(v("1.11.4")),
            "pre-releases are not picked"
        );
    }

    #[test]
    fn plain_listings_and_json_indexes_are_understood() {
        let listing = r#"<a href="1.9.8/">1.9.8/</a> <a href='2.0.0/'>2.0.0/</a>"#;
        assert_eq!(parse_index(listing), vec![v("1.9.8"), v("2.0.0")]);
        let json = r#"{"name":"terraform","versions":{"1.11.4":{},"1.6.6":{}}}"#;
        assert_eq!(parse_index(json), vec![v("1.6.6"), v("1.11.4")]);
        assert_eq!(
            parse_index(r#"["1.2.3", {"version": "v1.3.0"}]"#),
            vec![v("1.2.3"), v("1.3.0")]
        );
        assert!(parse_index("nothing here").is_empty());
    }

    #[test]
    fn exact_requirements_are_recognised() {
        let exact = step_core::tool::parse_requirement("0.5.3").unwrap();
        assert_eq!(exact_version(&exact), Some(v("0.5.3")));
        let range = step_core::tool::parse_requirement("~> 1.11").unwrap();
        assert_eq!(exact_version(&range), None);
    }

    #[test]
    fn checksum_lines_are_found_by_file_name() {
        let sums = format!(
            "{}  terraform_1.11.4_darwin_arm64.zip\n{} *terraform_1.11.4_linux_amd64.zip\nbad line\n",
            "a".repeat(64),
            "B".repeat(64)
        );
        assert_eq!(
            parse_sums(&sums, "terraform_1.11.4_linux_amd64.zip"),
            Some("b".repeat(64))
        );
        assert_eq!(parse_sums(&sums, "terraform_1.11.4_linux_arm64.zip"), None);
        assert_eq!(parse_sums("xyz  terraform_1.zip", "terraform_1.zip"), None);
    }

    #[test]
    fn urls_follow_the_release_layout_and_hide_credentials() {
        let m = Mirror::parse("https://user:tok3n@mirror.example/terraform/").unwrap();
        let p = Platform {
            os: "linux".into(),
            arch: "amd64".into(),
        };
        assert_eq!(
            m.zip_url(&v("1.11.4"), &p),
            "https://user:tok3n@mirror.example/terraform/1.11.4/terraform_1.11.4_linux_amd64.zip"
        );
        assert_eq!(
            m.sums_url(&v("1.11.4")),
            "https://user:tok3n@mirror.example/terraform/1.11.4/terraform_1.11.4_SHA256SUMS"
        );
        assert_eq!(
            m.index_url(),
            "https://user:tok3n@mirror.example/terraform/"
        );
        assert!(!redact(&m.index_url()).contains("tok3n"));
        assert_eq!(
            Mirror::parse("ftp://x"),
            Err(MirrorError::NotHttp("ftp://x/".into()))
        );
        assert!(matches!(
            Mirror::parse("not a url"),
            Err(MirrorError::NotAUrl { .. })
        ));
        assert_eq!(
            Mirror::parse("https://m.example/t?x=1"),
            Err(MirrorError::QueryOrFragment)
        );
    }
}
