//! terraform apply and destroy survive the runner's death. Their output
//! goes to files, and a small relay (a constant `sh` script; terraform and
//! its arguments are passed as argv) streams the files to the runner with
//! `tail -f`. If the runner dies, its pipes break and only the relay's
//! `tail`s end; terraform, which never writes to those pipes, does not die
//! on its next write halfway through an apply. It gets SIGINT instead — a
//! graceful stop that saves its state — and the journal marks its group so
//! `runner cleanup` waits for it before running the teardown.
//!
//! The runner's own stop (SIGINT to the relay alone) is forwarded to
//! terraform, so cancellation behaves as without the relay.

use std::path::Path;

/// The relay: `sh -c RELAY relay OUT ERR terraform ARGS…`. A broken pipe
/// sends terraform one SIGINT only (`mkdir` is the once-only guard): a
/// second one would make terraform exit at once, mid-write.
pub const RELAY: &str = r#"out=$1; err=$2; shift 2
"$@" >"$out" 2>"$err" </dev/null &
tf=$!
trap 'kill -INT "$tf" 2>/dev/null' INT
trap 'kill -TERM "$tf" 2>/dev/null' TERM
stop() { mkdir "$out.stopping" 2>/dev/null && kill -INT "$tf" 2>/dev/null; }
{ tail -s 0.2 -n +1 --pid="$tf" -f "$out" || stop; } &
t1=$!
{ tail -s 0.2 -n +1 --pid="$tf" -f "$err" >&2 || stop; } &
t2=$!
while :; do
    wait "$tf"; rc=$?
    kill -0 "$tf" 2>/dev/null || break
done
if [ "$rc" -gt 128 ]; then
    wait "$tf" 2>/dev/null; again=$?
    [ "$again" -ne 127 ] && rc=$again
fi
wait "$t1" "$t2" 2>/dev/null
exit "$rc"
"#;

/// The relay's argv (after `sh`): `-c RELAY relay OUT ERR BINARY ARGV…`.
pub fn relay_args(out: &Path, err: &Path, binary: &Path, argv: &[String]) -> Vec<String> {
    let mut args = vec![
        "-c".to_string(),
        RELAY.to_string(),
        "terraform-relay".to_string(),
        out.display().to_string(),
        err.display().to_string(),
        binary.display().to_string(),
    ];
    args.extend(argv.iter().cloned());
    args
}
