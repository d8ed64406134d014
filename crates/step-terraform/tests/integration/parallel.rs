//! Two targets applying one configuration directory at the same time keep
//! separate state (workspace per target) and data directories, and each
//! destroys only its own resources.

use serde_json::json;
use step_core::Step;
use step_terraform::{TerraformApply, TerraformDestroy};

use crate::support::{Sandbox, terraform};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_targets_apply_one_config_concurrently_without_clobbering() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::with_fixture("marker");
    let step_for = |target: &str| {
        TerraformApply::from_properties(json!({
            "dir": "marker",
            "vars": {"marker_path": sb.path(&format!("{target}.txt")).to_string_lossy(), "name": target},
            // Shared on purpose: inits using it take turns (file lock).
            "plugin_cache_dir": "plugin-cache",
        }))
        .unwrap()
    };
    let (alpha, beta) = (step_for("alpha"), step_for("beta"));
    let (cx_a, cx_b) = (sb.cx_for_target("alpha"), sb.cx_for_target("beta"));

    let (a, b) = tokio::join!(alpha.run(&cx_a), beta.run(&cx_b));
    let (a, b) = (a.expect("alpha runs"), b.expect("beta runs"));
    assert!(
        !a.is_failed(),
        "alpha: {:?}\n{:#?}",
        a.message,
        sb.lines_of("alpha")
    );
    assert!(
        !b.is_failed(),
        "beta: {:?}\n{:#?}",
        b.message,
        sb.lines_of("beta")
    );
    assert_eq!(a.outputs["workspace"], "alpha");
    assert_eq!(b.outputs["workspace"], "beta");
    assert_eq!(a.outputs["greeting"], "hello alpha from alpha");
    assert!(sb.path("alpha.txt").exists() && sb.path("beta.txt").exists());

    // Separate state and data directories.
    let state = |t: &str| sb.path(&format!("marker/terraform.tfstate.d/{t}/terraform.tfstate"));
    assert!(
        std::fs::read_to_string(state("alpha"))
            .unwrap()
            .contains("alpha.txt")
    );
    assert!(
        std::fs::read_to_string(state("beta"))
            .unwrap()
            .contains("beta.txt")
    );
    assert!(
        !sb.path("marker/terraform.tfstate").exists(),
        "nothing in the shared default state"
    );
    assert!(
        sb.path(".stepwise/terraform/alpha").is_dir()
            && sb.path(".stepwise/terraform/beta").is_dir()
    );

    // Each teardown destroys its own target only.
    let destroy_a =
        TerraformDestroy::from_properties(alpha.teardown().unwrap().into_parts().1.properties)
            .unwrap();
    let outcome = destroy_a.run(&cx_a).await.expect("alpha's destroy runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert!(!sb.path("alpha.txt").exists());
    assert!(
        sb.path("beta.txt").exists(),
        "alpha's destroy must not touch beta"
    );

    let destroy_b =
        TerraformDestroy::from_properties(beta.teardown().unwrap().into_parts().1.properties)
            .unwrap();
    let outcome = destroy_b.run(&cx_b).await.expect("beta's destroy runs");
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert!(!sb.path("beta.txt").exists());
    for t in ["alpha", "beta"] {
        let left = std::fs::read_to_string(state(t)).unwrap();
        assert!(
            !left.contains("terraform_data"),
            "{t} state still holds resources: {left}"
        );
    }
}
