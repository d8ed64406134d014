//! No secret on a command line: `vars` go through a private var file,
//! `secret_vars` through `TF_VAR_` variables and backend settings through a
//! generated backend file. A watcher reads every `/proc/*/cmdline` while
//! terraform runs.

use serde_json::json;
use step_core::Step;
use step_terraform::TerraformApply;

use crate::support::{Sandbox, terraform};

const CONFIG: &str = r#"
terraform {
  backend "local" {}
}
variable "plain" { type = string }
variable "hidden" { type = string }
resource "terraform_data" "probe" {
  input = "${var.plain}/${var.hidden}"
  provisioner "local-exec" {
    command = "sleep 1; printf '%s' \"$V\" > got.txt"
    environment = { V = self.input }
  }
}
"#;

#[tokio::test]
async fn vars_secret_vars_and_backend_settings_never_reach_argv() {
    if !terraform() {
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.path("probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), CONFIG).unwrap();
    let plain = "tf-plain-var-secret-8812";
    let hidden = "tf-hidden-var-secret-7331";
    let state_name = "state-backend-secret-6502";
    let mut env = sb.env();
    env.set_secret("PROBE_HIDDEN", hidden);
    let cx = sb.cx_with(env, None, step_core::Cancel::new());
    let mut watches: Vec<_> = [plain, hidden, state_name]
        .iter()
        .map(|s| (*s, stepwise_tests::CmdlineWatch::start(s)))
        .collect();
    let apply = TerraformApply::from_properties(json!({
        "dir": "probe",
        "vars": {"plain": plain},
        "secret_vars": {"hidden": "PROBE_HIDDEN"},
        "backend_config": {"path": format!("{state_name}.tfstate")},
        "teardown": false,
    }))
    .unwrap();
    let outcome = apply.run(&cx).await.expect("apply runs");
    for (secret, watch) in watches.drain(..) {
        let (hits, scans) = watch.finish();
        assert!(scans > 10, "the watch hardly ran ({scans} scans)");
        assert!(
            hits.is_empty(),
            "`{secret}` was on a command line: {hits:#?}"
        );
    }
    assert!(!outcome.is_failed(), "{:?}", outcome.message);
    assert_eq!(
        std::fs::read_to_string(dir.join("got.txt")).unwrap(),
        format!("{plain}/{hidden}")
    );
    assert!(
        dir.join(format!("{state_name}.tfstate")).is_file(),
        "the backend setting did not reach terraform"
    );
}
