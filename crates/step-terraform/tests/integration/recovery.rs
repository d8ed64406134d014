//! A state an interrupted write left empty is restored from terraform's
//! backup before a destroy, which then really destroys (issue #14 finding
//! 12), and the step says so.

use serde_json::json;
use step_core::Step;
use step_terraform::{TerraformApply, TerraformDestroy};

use crate::support::{Sandbox, terraform};

const CONFIG: &str = r#"
resource "terraform_data" "svc" {
  provisioner "local-exec" {
    when    = destroy
    command = "touch destroyed.txt"
  }
}
"#;

#[tokio::test]
async fn an_empty_state_is_restored_from_its_backup_before_destroy() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.path("cfg");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), CONFIG).unwrap();
    let cx = sb.cx();
    let props = json!({"dir": "cfg"});
    let applied = TerraformApply::from_properties(json!({"dir": "cfg", "teardown": false}))
        .unwrap()
        .run(&cx)
        .await
        .expect("apply runs");
    assert!(!applied.is_failed(), "{:?}", applied.message);
    // What a kill in the middle of a state write leaves: the previous
    // state in the backup, an empty state file.
    let state = dir.join("terraform.tfstate");
    std::fs::copy(&state, dir.join("terraform.tfstate.backup")).unwrap();
    std::fs::write(&state, "").unwrap();
    let destroyed = TerraformDestroy::from_properties(props)
        .unwrap()
        .run(&cx)
        .await
        .expect("destroy runs");
    assert!(!destroyed.is_failed(), "{:?}", destroyed.message);
    assert!(
        dir.join("destroyed.txt").exists(),
        "the destroy provisioner did not run: {:?}",
        destroyed.message
    );
    assert!(
        sb.lines().iter().any(|l| l.contains("restored it from")),
        "{:#?}",
        sb.lines()
    );
}
