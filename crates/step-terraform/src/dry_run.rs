//! What the terraform steps would run, for a dry run (`runner plan`): the
//! same flags the session passes, in the configuration's directory, with the generated variable file named
//! by the variables it would hold (their values are never shown).

use step_core::command_line;

use crate::options::TerraformOptions;

/// The `terraform` command lines for `command` (with `init` first when
/// `init` is set) in the options' directory.
pub fn lines(
    options: &TerraformOptions,
    command: &str,
    args: &[String],
    init: bool,
) -> Vec<String> {
    let dir = options.dir.display().to_string();
    let mut var_flags: Vec<String> = options
        .var_files
        .iter()
        .map(|f| format!("-var-file={}", f.display()))
        .collect();
    if !options.vars.is_empty() {
        let names: Vec<&str> = options.vars.keys().map(String::as_str).collect();
        var_flags.push(format!("-var-file=<generated: {}>", names.join(", ")));
    }
    let lock: Vec<String> = options
        .lock_timeout
        .map(|t| vec![format!("-lock-timeout={}s", t.as_secs().max(1))])
        .unwrap_or_default();
    let parallelism: Vec<String> = options
        .parallelism
        .map(|p| vec![format!("-parallelism={p}")])
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut line = |cmd: &str, flags: Vec<String>| {
        let mut argv = vec![cmd.to_string()];
        argv.extend(flags);
        out.push(format!("{}  (in {dir})", command_line("terraform", &argv)));
    };
    if init || command == "init" {
        let mut flags = vec!["-input=false".into(), "-no-color".into()];
        flags.extend(lock.clone());
        if command == "init" {
            flags.extend(args.iter().cloned());
        }
        line("init", flags);
    }
    let base = |extra: &[&str]| -> Vec<String> {
        let mut f: Vec<String> = ["-input=false", "-no-color", "-json"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        f.extend(lock.clone());
        f.extend(parallelism.clone());
        f.extend(var_flags.clone());
        f.extend(args.iter().cloned());
        f
    };
    match command {
        "init" => {}
        "apply" | "destroy" => line(command, base(&["-auto-approve"])),
        "plan" => line(command, base(&["-detailed-exitcode"])),
        "validate" => line(command, {
            let mut f = vec!["-no-color".to_string(), "-json".to_string()];
            f.extend(args.iter().cloned());
            f
        }),
        other => line(other, {
            let mut f = vec!["-no-color".to_string()];
            f.extend(args.iter().cloned());
            f
        }),
    }
    if command == "apply" {
        line("output", vec!["-json".into()]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_lines_name_generated_vars_but_not_their_values() {
        let mut o = TerraformOptions::for_dir("infra/x");
        o.vars.insert("region".into(), "eu-secret-value".into());
        let l = lines(&o, "apply", &[], true);
        assert_eq!(l[0], "terraform init -input=false -no-color  (in infra/x)");
        assert_eq!(
            l[1],
            "terraform apply -input=false -no-color -json -auto-approve '-var-file=<generated: region>'  (in infra/x)"
        );
        assert_eq!(l[2], "terraform output -json  (in infra/x)");
        assert!(!l.concat().contains("eu-secret-value"));
    }
}
