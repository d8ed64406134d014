//! Missing packer, or a packer that does not meet `version`.

use serde_json::json;
use step_core::{Step, StepError, ToolError};
use step_packer::{PackerBuild, PackerValidate};

use crate::support::{context, have_packer, workspace};

#[tokio::test]
async fn missing_packer_says_how_to_install_it() {
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("valid"));
    let mut env = cx.env().clone();
    env.set("PATH", "");
    let cx = cx.with_env(env);

    let validate = PackerValidate::from_properties(json!({"template": "*.json"})).expect("config");
    let build = PackerBuild::from_properties(json!({"template": "ubuntu-14.04_amd64-amis.json"}))
        .expect("config");
    for err in [
        validate.run(&cx).await.unwrap_err(),
        build.run(&cx).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, StepError::Tool(e) if matches!(**e, ToolError::Missing { .. })),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("`packer` was not found on PATH"), "{msg}");
        assert!(
            msg.contains("scripts/install-tools.sh") && msg.contains("Debian package packer"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn a_version_that_is_not_met_names_found_and_required() {
    if !have_packer() {
        return;
    }
    let ws = workspace();
    let (cx, _) = context(&ws.path().join("valid"));
    let step = PackerValidate::from_properties(json!({"template": "*.json", "version": ">= 1.7"}))
        .expect("config");
    let err = step.run(&cx).await.unwrap_err();
    match &err {
        StepError::Tool(tool) if matches!(**tool, ToolError::WrongVersion { .. }) => {
            let ToolError::WrongVersion {
                found, required, ..
            } = &**tool
            else {
                unreachable!()
            };
            assert_eq!(found.to_string(), "1.6.6");
            assert_eq!(required.to_string(), ">=1.7");
        }
        other => panic!("expected a version error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("is version 1.6.6, but >=1.7 is required"),
        "{msg}"
    );
    assert!(msg.contains("scripts/install-tools.sh"), "{msg}");

    let build = PackerBuild::from_properties(
        json!({"template": "../build/null.pkr.hcl", "version": "~> 1.7"}),
    )
    .expect("config");
    let err = build.run(&cx).await.unwrap_err();
    assert!(err.to_string().contains(">=1.7, <2"), "{err}");

    // The installed version meets these.
    for ok in ["1.6.6", "~> 1.6", ">=1.6, <2"] {
        let step = PackerValidate::from_properties(
            json!({"template": "ubuntu-14.04_amd64-google.json", "version": ok}),
        )
        .expect("config");
        let outcome = step.run(&cx).await.expect("ran");
        assert!(!outcome.is_failed(), "{ok}: {outcome:#?}");
    }
}
