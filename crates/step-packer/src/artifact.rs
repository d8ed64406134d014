//! What a `packer -machine-readable build` produced: artifacts per build,
//! errors per build, and the step outputs made from them.
//!
//! A finished build prints, for each artifact `N`:
//! `artifact-count,K`, then `artifact,N,builder-id,…`, `artifact,N,id,…`,
//! `artifact,N,string,…`, `artifact,N,files-count,M`, `artifact,N,file,I,NAME`
//! for each file, and `artifact,N,end` (or `artifact,N,nil` for an empty
//! one). A failed build prints `error,MESSAGE` with its name as target, and
//! the run prints `error-count,E`.
//!
//! ```
//! use step_packer::artifact::BuildReport;
//! use step_packer::machine::parse_lines;
//!
//! let out = "1,aws,artifact-count,1\n\
//!            1,aws,artifact,0,builder-id,mitchellh.amazonebs\n\
//!            1,aws,artifact,0,id,eu-west-1:ami-5e6f%!(PACKER_COMMA)us-east-1:ami-0a1b\n\
//!            1,aws,artifact,0,end\n";
//! let report = BuildReport::from_lines(&parse_lines(out));
//! let outputs = report.outputs();
//! assert_eq!(outputs["aws"]["id"], "eu-west-1:ami-5e6f,us-east-1:ami-0a1b");
//! assert_eq!(outputs["aws"]["amis"]["us-east-1"], "ami-0a1b");
//! assert_eq!(outputs["artifact_count"], 1);
//! ```

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::machine::MachineLine;

/// Output names the step itself uses; a build with one of these names
/// cannot also be an output key.
pub const RESERVED_OUTPUTS: &[&str] = &["artifact_count", "builds"];

/// One artifact of a build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Artifact {
    /// Its index within the build (packer's `N`).
    pub index: u32,
    /// Which builder or post-processor made it (`mitchellh.amazonebs`).
    pub builder_id: String,
    /// Its id (`us-east-1:ami-…`); empty for artifacts without one.
    pub id: String,
    /// Packer's description of it.
    pub string: String,
    /// The files it consists of.
    pub files: Vec<String>,
}

impl Artifact {
    /// The AMIs in its id: `region:ami-…` pairs joined by commas.
    pub fn amis(&self) -> BTreeMap<String, String> {
        parse_amis(&self.id)
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "builder_id": self.builder_id,
            "string": self.string,
            "files": self.files,
        })
    }
}

/// The AMIs in an amazon builder's artifact id (`eu-west-1:ami-1,us-east-1:ami-2`).
/// Anything that is not a `region:ami-…` pair is skipped.
pub fn parse_amis(id: &str) -> BTreeMap<String, String> {
    id.split(',')
        .filter_map(|pair| {
            let (region, ami) = pair.trim().split_once(':')?;
            let valid_region = !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            let valid_ami = ami.strip_prefix("ami-").is_some_and(|hex| {
                !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_alphanumeric())
            });
            (valid_region && valid_ami).then(|| (region.to_string(), ami.to_string()))
        })
        .collect()
}

/// One build of the run: its artifacts and errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildResult {
    /// The build's name (`amazon-ebs`, a `name` from the template, or
    /// `build.source.name` in HCL2).
    pub name: String,
    /// Its artifacts, in packer's order.
    pub artifacts: Vec<Artifact>,
    /// The artifact count packer announced.
    pub announced_count: Option<u32>,
    /// Why it failed, when it did.
    pub errors: Vec<String>,
}

impl BuildResult {
    /// The artifact whose fields the build's outputs show: the last one
    /// that has an id (so an AMI id survives a checksum or manifest
    /// post-processor), else the last one.
    pub fn primary(&self) -> Option<&Artifact> {
        self.artifacts
            .iter()
            .rev()
            .find(|a| !a.id.is_empty())
            .or_else(|| self.artifacts.last())
    }

    /// The build's output object: `id`, `builder_id`, `string` of the
    /// [primary](Self::primary) artifact, `files` of all its artifacts,
    /// `amis` (region → AMI id) from all ids, and every artifact in `artifacts`.
    pub fn to_json(&self) -> Value {
        let primary = self.primary().cloned().unwrap_or_default();
        let mut files: Vec<&str> = Vec::new();
        for f in self.artifacts.iter().flat_map(|a| &a.files) {
            if !files.contains(&f.as_str()) {
                files.push(f);
            }
        }
        let mut amis = Map::new();
        for a in &self.artifacts {
            for (region, ami) in a.amis() {
                amis.insert(region, Value::String(ami));
            }
        }
        json!({
            "id": primary.id,
            "builder_id": primary.builder_id,
            "string": primary.string,
            "files": files,
            "amis": amis,
            "artifacts": self.artifacts.iter().map(Artifact::to_json).collect::<Vec<_>>(),
        })
    }
}

/// An artifact whose lines are still being read.
struct Pending {
    build: String,
    artifact: Artifact,
    nil: bool,
}

/// Everything a build run reported in machine-readable lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// The builds, in the order packer first mentioned them.
    pub builds: Vec<BuildResult>,
    /// The `error-count` packer printed, if it did.
    pub error_count: Option<u32>,
    /// The text of `ui,error` lines (what packer showed as errors).
    pub ui_errors: Vec<String>,
}

impl BuildReport {
    /// Collects artifacts and errors from parsed lines; other lines are ignored.
    pub fn from_lines(lines: &[MachineLine]) -> BuildReport {
        let mut report = BuildReport::default();
        // Artifacts being read, by (build, index); pushed at `end`.
        let mut pending: Vec<Pending> = Vec::new();
        for line in lines {
            match line.kind.as_str() {
                "ui" => {
                    if let Some(("error", text)) = line.ui() {
                        let text = text.trim_matches('\n').trim();
                        if !text.is_empty() {
                            report.ui_errors.push(text.to_string());
                        }
                    }
                }
                "error-count" => report.error_count = line.field(0).parse().ok(),
                "error" if !line.target.is_empty() => {
                    let message = line.data.join(",");
                    report.build_mut(&line.target).errors.push(message);
                }
                "artifact-count" if !line.target.is_empty() => {
                    report.build_mut(&line.target).announced_count = line.field(0).parse().ok();
                }
                "artifact" if !line.target.is_empty() => {
                    let Ok(index) = line.field(0).parse::<u32>() else {
                        continue;
                    };
                    // Name the build even if all its artifacts are nil.
                    report.build_mut(&line.target);
                    let slot = match pending
                        .iter()
                        .position(|p| p.build == line.target && p.artifact.index == index)
                    {
                        Some(pos) => pos,
                        None => {
                            pending.push(Pending {
                                build: line.target.clone(),
                                artifact: Artifact {
                                    index,
                                    ..Artifact::default()
                                },
                                nil: false,
                            });
                            pending.len() - 1
                        }
                    };
                    let artifact = &mut pending[slot].artifact;
                    match line.field(1) {
                        "builder-id" => artifact.builder_id = line.field(2).to_string(),
                        "id" => artifact.id = line.field(2).to_string(),
                        "string" => artifact.string = line.field(2).to_string(),
                        "file" => artifact.files.push(line.field(3).to_string()),
                        "nil" => pending[slot].nil = true,
                        "end" => {
                            let done = pending.remove(slot);
                            if !done.nil {
                                report.build_mut(&done.build).artifacts.push(done.artifact);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // Output cut short (a killed packer): keep what was read.
        for p in pending.into_iter().filter(|p| !p.nil) {
            report.build_mut(&p.build).artifacts.push(p.artifact);
        }
        report
    }

    fn build_mut(&mut self, name: &str) -> &mut BuildResult {
        let pos = match self.builds.iter().position(|b| b.name == name) {
            Some(pos) => pos,
            None => {
                self.builds.push(BuildResult {
                    name: name.to_string(),
                    ..BuildResult::default()
                });
                self.builds.len() - 1
            }
        };
        &mut self.builds[pos]
    }

    /// The total number of artifacts.
    pub fn artifact_count(&self) -> usize {
        self.builds.iter().map(|b| b.artifacts.len()).sum()
    }

    /// The builds that failed.
    pub fn failed_builds(&self) -> impl Iterator<Item = &BuildResult> {
        self.builds.iter().filter(|b| !b.errors.is_empty())
    }

    /// Build names that clash with [`RESERVED_OUTPUTS`].
    pub fn clashing_names(&self) -> Vec<&str> {
        self.builds
            .iter()
            .map(|b| b.name.as_str())
            .filter(|n| RESERVED_OUTPUTS.contains(n))
            .collect()
    }

    /// The step outputs: one object per build that produced artifacts,
    /// keyed by the build's name, plus `artifact_count` and `builds` (the
    /// names of the builds with artifacts). A build named like a reserved
    /// output is left out (see [`BuildReport::clashing_names`]).
    pub fn outputs(&self) -> Map<String, Value> {
        let mut outputs = Map::new();
        let mut names = Vec::new();
        for build in self.builds.iter().filter(|b| !b.artifacts.is_empty()) {
            if RESERVED_OUTPUTS.contains(&build.name.as_str()) {
                continue;
            }
            names.push(Value::String(build.name.clone()));
            outputs.insert(build.name.clone(), build.to_json());
        }
        outputs.insert("artifact_count".into(), Value::from(self.artifact_count()));
        outputs.insert("builds".into(), Value::Array(names));
        outputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::parse_lines;

    fn report(text: &str) -> BuildReport {
        BuildReport::from_lines(&parse_lines(text))
    }

    #[test]
    fn null_builds_become_outputs_keyed_by_build() {
        let r = report(include_str!(
            "../tests/fixtures/output/build-null-artifacts.txt"
        ));
        assert_eq!(r.artifact_count(), 3);
        assert_eq!(r.error_count, None);
        assert_eq!(r.failed_builds().count(), 0);
        let out = r.outputs();
        assert_eq!(out["artifact_count"], 3);
        let mut builds: Vec<_> = out["builds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        builds.sort_unstable();
        assert_eq!(builds, vec!["first", "second"]);
        assert_eq!(out["first"]["id"], "Null");
        assert_eq!(out["first"]["builder_id"], "fnoeding.null");
        assert_eq!(
            out["first"]["string"],
            "Did not export anything. This is the null builder"
        );
        assert_eq!(out["first"]["files"], json!([]));
        assert_eq!(out["first"]["amis"], json!({}));
        // `second` ran the artifice post-processor too: the null artifact is
        // the one with an id, the files come from the artifice one.
        assert_eq!(out["second"]["id"], "Null");
        assert_eq!(out["second"]["files"], json!(["image-second.raw"]));
        let arts = out["second"]["artifacts"].as_array().unwrap();
        assert_eq!(arts.len(), 2);
        assert_eq!(arts[1]["builder_id"], "packer.post-processor.artifice");
        assert_eq!(arts[1]["id"], "");
        assert_eq!(
            arts[1]["string"],
            "Created artifact from files: image-second.raw"
        );
    }

    #[test]
    fn hcl2_build_names_carry_dots() {
        let r = report(include_str!("../tests/fixtures/output/build-hcl.txt"));
        assert_eq!(r.builds.len(), 1);
        assert_eq!(r.builds[0].name, "hcl.null.example");
        assert_eq!(r.builds[0].announced_count, Some(1));
        assert_eq!(r.outputs()["hcl.null.example"]["id"], "Null");
    }

    #[test]
    fn amazon_ids_give_a_region_map() {
        // Hand-written sample in amazon-ebs's format (see the fixture README).
        let r = report(include_str!(
            "../tests/fixtures/output/build-amazon-ebs.handwritten.txt"
        ));
        let out = r.outputs();
        let build = &out["amazon-ebs"];
        assert_eq!(build["id"], "eu-west-1:ami-5e6f7a8b,us-east-1:ami-0a1b2c3d");
        assert_eq!(
            build["amis"],
            json!({"eu-west-1": "ami-5e6f7a8b", "us-east-1": "ami-0a1b2c3d"})
        );
        assert_eq!(
            build["string"],
            "AMIs were created:\neu-west-1: ami-5e6f7a8b\nus-east-1: ami-0a1b2c3d\n"
        );
    }

    #[test]
    fn failed_build_errors_are_collected() {
        let r = report(include_str!(
            "../tests/fixtures/output/build-provisioner-exit-3.txt"
        ));
        assert_eq!(r.error_count, Some(1));
        let failed: Vec<_> = r.failed_builds().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].name, "web");
        assert_eq!(
            failed[0].errors,
            vec!["Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"]
        );
        assert_eq!(r.artifact_count(), 0);
        assert_eq!(r.outputs()["builds"], json!([]));
        assert!(
            r.ui_errors
                .iter()
                .any(|e| e.starts_with("Build 'web' errored"))
        );
    }

    #[test]
    fn ami_pairs_are_strict() {
        assert_eq!(parse_amis("Null"), BTreeMap::new());
        assert_eq!(parse_amis(""), BTreeMap::new());
        assert_eq!(parse_amis("us-east-1:snap-1,x:ami-,Y:ami-1").len(), 0);
        assert_eq!(
            parse_amis("us-east-1:ami-1")
                .get("us-east-1")
                .map(String::as_str),
            Some("ami-1")
        );
    }

    #[test]
    fn nil_and_truncated_artifacts_do_not_panic() {
        let r = report(
            "1,b,artifact-count,2\n1,b,artifact,0,nil\n1,b,artifact,0,end\n1,b,artifact,1,id,x\n1,b,artifact,x,id,y\n1,b,artifact\n",
        );
        assert_eq!(r.builds.len(), 1);
        assert_eq!(r.builds[0].artifacts.len(), 1);
        assert_eq!(r.builds[0].artifacts[0].id, "x");
        assert_eq!(r.builds[0].announced_count, Some(2));
    }

    #[test]
    fn reserved_names_are_not_overwritten() {
        let r = report("1,builds,artifact,0,id,x\n1,builds,artifact,0,end\n");
        assert_eq!(r.clashing_names(), vec!["builds"]);
        let out = r.outputs();
        assert_eq!(out["builds"], json!([]));
        assert_eq!(out["artifact_count"], 1);
    }
}
