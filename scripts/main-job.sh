#!/usr/bin/env bash
# The README's main job: the seed's whole continuous-deployment cycle on this
# machine, for real.
#
#   1. install the tools the example needs (scripts/install-tools.sh:
#      packer, ansible-core + ansible-lint, serverspec, ...; pinned, idempotent)
#   2. build the runner
#   3. in examples/apollo: `runner run build` (packer templates validated,
#      site.yml linted and syntax-checked, bootstrap/tests/test.sh), then
#      `runner run deploy` (a pinned terraform, two local targets deployed in
#      parallel, converged with ansible, their live services tested, Slack
#      notified when SLACK_WEBHOOK_URL is set, everything destroyed)
#   4. print where the reports are (JSON-lines event logs and JUnit XML in
#      target/reports/)
#
# Exits 0 when both pipelines passed, 1 when one failed (deploy is not run
# after a failed build, as wercker deployed only passed builds), 2 when the
# job itself could not run.
#
# Environment:
#   STEPWISE_SKIP_INSTALL=1   do not run scripts/install-tools.sh
#   STEPWISE_PROFILE=debug    build and use the debug runner (default: release)
#   APOLLO_serverspec_run_tests  default true here: the serverspec suite runs
#                             too (rspec comes with scripts/install-tools.sh)
#   CLOUDS, APOLLO_*, SLACK_WEBHOOK_URL, ...   passed to the pipelines (see
#                             examples/apollo/README.md)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log() { printf '[main-job] %s\n' "$*"; }
die() { printf '[main-job] ERROR: %s\n' "$*" >&2; exit 2; }

if [ "${STEPWISE_SKIP_INSTALL:-0}" != 1 ]; then
    log "installing tools (scripts/install-tools.sh)"
    bash scripts/install-tools.sh || die "scripts/install-tools.sh failed"
fi

profile="${STEPWISE_PROFILE:-release}"
case "$profile" in
    release) build_args=(--release) ;;
    debug) build_args=() ;;
    *) die "STEPWISE_PROFILE must be release or debug, not '$profile'" ;;
esac
log "building the runner ($profile)"
cargo build "${build_args[@]}" --locked -p runner || die "cargo build failed"
target_dir="$(cargo metadata --format-version 1 --no-deps 2>/dev/null \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null \
    || echo "$root/target")"
runner="$target_dir/$profile/runner"
[ -x "$runner" ] || die "no runner binary at $runner"

# The seed's test toggle: on, unless the caller says otherwise.
export APOLLO_serverspec_run_tests="${APOLLO_serverspec_run_tests:-true}"

# The machines cloud (examples/apollo/terraform/machines): two targets of 5
# machines each (3 masters, 1 slave, 1 load balancer), started from the
# apollo/node image that the build's packer-build makes on the debootstrap
# base image. CLOUDS="local-a local-b" runs the process-based local cloud.
export CLOUDS="${CLOUDS:-machines-a machines-b}"
base_image_seconds=-
case " $CLOUDS " in
    *" machines"*)
        t0=$SECONDS
        log "machine base image (scripts/build-machine-image.sh; cached by content)"
        APOLLO_MACHINE_BASE_IMAGE="$(bash scripts/build-machine-image.sh)" \
            || die "scripts/build-machine-image.sh failed (a Docker engine: scripts/start-dockerd.sh)"
        export APOLLO_MACHINE_BASE_IMAGE
        base_image_seconds=$((SECONDS - t0))
        ;;
esac

reports="$target_dir/reports"
mkdir -p "$reports"
rm -f "$reports"/apollo-build.* "$reports"/apollo-deploy.*
example="$root/examples/apollo"

run_pipeline() {  # name → the pipeline's exit code
    local name="$1" code=0
    log "runner run $name (in examples/apollo)"
    (cd "$example" && "$runner" run "$name" \
        --events "$reports/apollo-$name.jsonl" \
        --junit "$reports/apollo-$name.xml") || code=$?
    return "$code"
}

started=$SECONDS
build=0
deploy=0
run_pipeline build || build=$?
if [ "$build" -eq 0 ]; then
    run_pipeline deploy || deploy=$?
else
    log "build failed (exit $build): deploy not run"
    deploy=skipped
fi

result() {
    case "$1" in
        0) echo passed ;;
        skipped) echo "not run" ;;
        1) echo "FAILED" ;;
        130) echo "interrupted" ;;
        *) echo "ERROR (exit $1)" ;;
    esac
}

echo
log "done in $((SECONDS - started))s"
log "  build:  $(result "$build")"
log "  deploy: $(result "$deploy")"
log "phases (wall time, targets in parallel):"
python3 scripts/phase-times.py "$reports/apollo-build.jsonl" "$reports/apollo-deploy.jsonl" "$base_image_seconds" || true
log "reports:"
for f in "$reports"/apollo-build.jsonl "$reports"/apollo-build.xml \
         "$reports"/apollo-deploy.jsonl "$reports"/apollo-deploy.xml; do
    if [ -f "$f" ]; then
        log "  $f"
    fi
done

if [ "$build" = 0 ] && [ "$deploy" = 0 ]; then
    exit 0
fi
for code in "$build" "$deploy"; do
    case "$code" in
        0 | skipped | 1) ;;
        *) exit "$code" ;;
    esac
done
exit 1
