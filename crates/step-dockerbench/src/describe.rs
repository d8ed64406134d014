//! The `dockerbench` kind's description (`runner explain dockerbench`).

use step_core::{PropertyDoc, PropertyType, StepDescription};

/// The YAML example shown by `runner explain` (tested to build).
pub const EXAMPLE: &str = r#"# Run the bench once on the machine, fail above 52 WARN results.
- dockerbench:
    id: cis
    script: /opt/docker-bench-security
    exclude: [host_configuration, "2.1"]
    containers: [web, api]
    max_warnings: 52
    min_score: 0
    fail_on: ["5.4"]
    ignore:
      - id: "2.8"
        reason: user namespaces break our volume permissions (INFRA-123)

# Gate a log the bench wrote elsewhere.
- dockerbench:
    log: reports/docker-bench-security.log.json
    max_warnings: 70
"#;

/// The description of the `dockerbench` kind.
pub fn describe() -> StepDescription {
    StepDescription::new(
        "dockerbench",
        "Run docker-bench-security (CIS Docker Benchmark) once and gate on its WARN count, score and chosen checks",
    )
    .reads(&["log"])
    .doc(
        "Runs docker-bench-security.sh once through a backend (local, ssh or docker) with `-b -l <log_dir>/docker-bench-security.log` \
         (and `-p` for remediation), or reads an existing log (`log:`), then judges it. The JSON log is parsed \
         (repaired when the bench wrote unescaped values); when it is missing or broken the text log is read instead, with a warning. \
         The WARN count is the number of checks with result WARN: indented detail lines and the \"Some tests might require root to run\" \
         warning are not counted, and `ignore`d ids are listed but not counted. The step fails when the count is greater than \
         `max_warnings` (equal passes), when an id in `fail_on` is WARN whatever the count, or when the score is below `min_score`. \
         Each WARN becomes a finding (id, description, details and items, remediation); each check a JUnit case (WARN failed, \
         ignored WARN skipped, PASS/INFO/NOTE passed); each section gets a summary line. A script that is missing, a docker daemon \
         the bench cannot reach (it exits 1 with \"Error connecting to docker daemon\"), and a log that is missing, unreadable \
         or holds no results are errors, not passes.",
    )
    .property(PropertyDoc::optional(
        "script",
        PropertyType::Path,
        "Run mode: docker-bench-security.sh or the directory holding it (a clone of docker/docker-bench-security). With the ssh/docker backends, a path on the host / in the container. Set `script` or `log`.",
    ))
    .property(PropertyDoc::optional(
        "log",
        PropertyType::Path,
        "Log mode: gate this existing log instead of running the bench — the text log, its .json sibling, or a directory holding docker-bench-security.log[.json]. Set `script` or `log`.",
    ))
    .property(PropertyDoc::with_default(
        "log_dir",
        PropertyType::Path,
        "log next to the script",
        "Run mode: where the bench writes docker-bench-security.log and .log.json (its -l). Earlier logs there are removed first (the bench appends to its text log).",
    ))
    .property(PropertyDoc::with_default(
        "checks",
        PropertyType::StringOrList,
        "all",
        "Run mode: only these checks or groups (-c): 5.4, check_5_4, container_runtime. A list or comma-separated.",
    ))
    .property(PropertyDoc::with_default(
        "exclude",
        PropertyType::StringOrList,
        "none",
        "Run mode: checks or groups to skip (-e), written like `checks`.",
    ))
    .property(PropertyDoc::with_default(
        "containers",
        PropertyType::StringOrList,
        "all",
        "Run mode: only containers/images whose name matches one of these patterns (-i).",
    ))
    .property(PropertyDoc::with_default(
        "exclude_containers",
        PropertyType::StringOrList,
        "none",
        "Run mode: containers/images to leave out (-x).",
    ))
    .property(PropertyDoc::with_default(
        "args",
        PropertyType::List,
        "[]",
        "Run mode: further arguments for the script, passed as they are ([-u, alice], [-n, \"10\"]).",
    ))
    .property(PropertyDoc::with_default(
        "remediation",
        PropertyType::Bool,
        "true",
        "Run mode: pass -p so the bench reports remediation measures (shown in findings). Set false for versions before 1.3.6.",
    ))
    .property(PropertyDoc::with_default(
        "backend",
        PropertyType::Any,
        "local",
        "Where the bench runs (and logs are read): local, docker (docker exec into `host`), ssh, or {ssh: {user, port, identity_file, known_hosts_file, options, control_dir}}.",
    ))
    .property(PropertyDoc::optional(
        "host",
        PropertyType::String,
        "The ssh host or the container name/id; required with the ssh and docker backends.",
    ))
    .property(PropertyDoc::optional(
        "max_warnings",
        PropertyType::Integer,
        "Fail when more WARN results than this are counted (equal passes). Unset: no limit. The seed's dockerbench_warn_threshold.",
    ))
    .property(PropertyDoc::optional(
        "min_score",
        PropertyType::Integer,
        "Fail when the score (the log's; else +1 per scored PASS, -1 per scored WARN) is below this.",
    ))
    .property(PropertyDoc::with_default(
        "fail_on",
        PropertyType::StringOrList,
        "[]",
        "Check ids (5.4 or check_5_4) that fail the step when they are WARN, whatever the count.",
    ))
    .property(PropertyDoc::with_default(
        "ignore",
        PropertyType::List,
        "[]",
        "WARN results listed but not counted: a list of {id, reason}; the reason is required and shown with the finding.",
    ))
    .output("pass", "Number of PASS results.")
    .output("warn", "Number of WARN results (ignored ones included).")
    .output("warn_counted", "WARN results the threshold saw (warn - ignored).")
    .output("ignored", "WARN results that were ignored.")
    .output("info", "Number of INFO results.")
    .output("note", "Number of NOTE results.")
    .output("total", "Number of checks.")
    .output("score", "The bench's score (from the log, or computed).")
    .output("log", "The log file the results were read from.")
    .output("format", "Which log was read: json or text.")
    .example(EXAMPLE)
}
