//! The text of `runner --help` and of each subcommand's help: what the
//! runner does for its user, examples, exit codes and the environment it
//! reads. Kept apart from the argument definitions so both stay readable.

/// One line under the name.
pub const ABOUT: &str = "Run CI/CD pipelines for infrastructure: build images with Packer, deploy with \
Terraform, configure with Ansible, test the live hosts, and always tear the environment down.";

/// `runner --help` (long form).
pub const LONG_ABOUT: &str = "Run CI/CD pipelines for infrastructure projects.

A pipeline file (stepwise.yml, or an existing wercker.yml) lists steps: packer-validate and
packer-build, terraform-apply (which registers its destroy), ansible-lint and ansible-playbook,
host-checks and serverspec, dockerbench, slack-notify and shell scripts. `runner run deploy`
runs them, per cloud in parallel with `for_each`, and destroys what it created when a target
ends: on failure, on a timeout, on Ctrl-C, and with `runner cleanup` after a crash.

Start with `runner validate` (every mistake it can find, with file:line:col, before anything
is applied), then `runner plan deploy` (the commands each step would run; nothing runs), then
`runner run deploy`.";

/// Shown after the top-level help.
pub const AFTER_HELP: &str = "Examples:
  runner validate                          check stepwise.yml (or wercker.yml)
  runner plan deploy --var CLOUDS=aws      what `run deploy` would do, running nothing
  runner run                               run the `build` pipeline
  runner run deploy --only CLOUD=aws       deploy one target of a for_each
  runner explain terraform-apply           a step kind's properties and outputs

Exit codes:
  0    passed
  1    a step failed (or a pending teardown failed, for `cleanup`)
  2    usage or configuration error: nothing was run (bad file, unknown step or property,
       a path that does not exist, a selector that matches nothing, an unset variable)
  130  interrupted (SIGINT/SIGTERM/SIGHUP); finally steps, teardowns and after-steps still ran

Environment the runner reads:
  CI                  set (not false/0): plain output lines, no spinner
  NO_COLOR            set: no colors
  STEPWISE_TMPDIR     where scripts' temporary files go (default: the system's)
  STEPWISE_GIT_BRANCH, STEPWISE_GIT_COMMIT   override what git reports
  HOME                ~/.stepwise/steps holds legacy wercker steps
  Every variable of the process is visible to steps, below --var/--var-file/--secret-file and
  above the file's `env:`. Names containing TOKEN, SECRET, PASSWORD, KEY or WEBHOOK, or with the
  word PASS, PASSWD, CREDENTIAL(S), AUTH or PRIVATE (DB_PASS), are masked in every output.

Environment given to steps:
  RUNNER_PIPELINE, RUNNER_RUN_ID, RUNNER_ROOT, RUNNER_TARGET, RUNNER_STEP_NAME,
  RUNNER_RESULT and RUNNER_FAILED_STEP/RUNNER_FAILED_MESSAGE (after-steps), and wercker's
  WERCKER_ROOT, WERCKER_SOURCE_DIR, WERCKER_PIPELINE, WERCKER_RESULT, WERCKER_STEP_NAME,
  WERCKER_CACHE_DIR, WERCKER_OUTPUT_DIR, WERCKER_GIT_BRANCH, WERCKER_GIT_COMMIT, …";

/// `runner run --help` examples.
pub const RUN: &str = "Examples:
  runner run                                   the `build` pipeline of stepwise.yml / wercker.yml
  runner run deploy -f ci/pipeline.yml         another pipeline and file
  runner run deploy --var CLOUDS='aws gcp'     set a variable (wins over the environment and env:)
  runner run deploy --var-file ci/staging.env  variables from a dotenv file
  runner run deploy --secret-file DB_PASS=/run/secrets/db   a masked value read from a file
  runner run deploy --only CLOUD=aws           one for_each value (an error if no for_each has it)
  runner run deploy --partition 1/2            every other for_each value (a CI matrix)
  runner run build --skip 'scripts testing'    skip a step by name or kind (an error if none matches)
  runner run deploy --keep                     record teardowns but leave the environment up
  runner run deploy --events run.jsonl --junit junit.xml

Variable precedence, highest first: --var, --secret-file, --var-file (a later file wins), the
process environment, the pipeline's env:, the file's top-level env:.";

/// `runner validate --help` examples.
pub const VALIDATE: &str = "Examples:
  runner validate                      the default file
  runner validate -f wercker.yml       a wercker.yml, unchanged
  runner validate --var CLOUDS=aws     with a variable set, as `run` would see it

Checks: the file's structure, step kinds and properties (with did-you-mean), `when:` conditions,
variables nothing sets, paths steps read (playbook, spec, template, dir, …; an earlier script or
`creates:` may create them), ${{ outputs.<id>.<name> }} references, duplicate ids, host-checks
spec files, empty for_each lists. Exit 2 on any error.";

/// `runner plan --help` examples.
pub const PLAN: &str = "Examples:
  runner plan deploy                   targets, steps, commands, skip reasons and teardowns
  runner plan deploy --only CLOUD=aws  the same with the selectors `run` would get

Nothing is run: no step, no teardown, no tool. Values only known at run time (step outputs,
variables an earlier script exports) are shown as written. Exit 2 on any error `run` would
raise before starting.";

/// `runner explain --help` examples.
pub const EXPLAIN: &str = "Examples:
  runner explain terraform-apply
  runner explain capgemini/ansible-lint";

/// `runner cleanup --help` examples.
pub const CLEANUP: &str = "Examples:
  runner cleanup                 run the pending teardowns of every run that is no longer alive
  runner cleanup --run RUN_ID    only that run (`runner state` lists them)";

/// The `when:` grammar, as `runner explain` shows it.
pub const WHEN_GRAMMAR: &str = "
`when:` conditions:
  NAME                 set, and not empty, 0, false, no or off
  !NAME                negation (quote a leading `!` in YAML: when: \"!NAME\")
  NAME == value        text comparison; NAME != \"\" for \"set and not empty\"
  A && B, A || B       `&&` binds tighter than `||`; `!` tighter than both
  (A || B) && C        parentheses group; quoted values keep spaces: NAME == 'eu west'
  Anything else is an error when the file is loaded, with its column.";
