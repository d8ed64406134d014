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
#      The local Docker engine is started first (scripts/start-dockerd.sh,
#      as scripts/test.sh does), so the container checks and the
#      docker-bench gate run; the gate runs the docker-bench-security
#      STAND-IN script (the real one is in no package registry), and says
#      so. Slack is notified through a local capture server that prints
#      what it received.
#   4. print where the reports are (target/reports/: HTML run reports,
#      JUnit XML, SARIF, JSON-lines events) and write a screenshot of the
#      deploy report (apollo-deploy.png) with headless Chromium
#
# Exits 0 when both pipelines passed, 1 when one failed (deploy is not run
# after a failed build, as wercker deployed only passed builds), 2 when the
# job itself could not run.
#
# Environment:
#   STEPWISE_SKIP_INSTALL=1   do not run scripts/install-tools.sh
#   STEPWISE_PROFILE=debug    build and use the debug runner (default: release)
#   SLACK_WEBHOOK_URL         unset: a local capture server stands in for Slack
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

# The local Docker engine and the busybox image for the container checks
# and the docker-bench gate.
if bash scripts/start-dockerd.sh && bash scripts/build-test-image.sh; then
    docker_up=1
else
    docker_up=0
    log "WARNING: no Docker engine: the container checks and docker-bench will be skipped"
fi
standin="$root/crates/step-dockerbench/tests/fixtures/docker-bench-standin/docker-bench-security.sh"
if [ "$docker_up" = 1 ] && [ -z "${DOCKER_BENCH_SECURITY:-}" ]; then
    export APOLLO_dockerbench_run_test="${APOLLO_dockerbench_run_test:-true}"
    export DOCKER_BENCH_SECURITY="$standin"
    log "docker-bench: running the STAND-IN script $standin (docker-bench-security is in no package registry; see README \"Tests that use stand-ins\")"
fi
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
rm -f "$reports"/apollo-build.* "$reports"/apollo-deploy.* "$reports"/slack-received.*
example="$root/examples/apollo"

# A local stand-in for Slack's incoming webhook: it answers `ok` and keeps
# each request it received, printed at the end.
slack_pid=""
stop_slack() { if [ -n "$slack_pid" ]; then kill "$slack_pid" 2>/dev/null || true; fi; }
trap stop_slack EXIT
if [ -z "${SLACK_WEBHOOK_URL:-}" ]; then
    port_file="$reports/slack-received.port"
    python3 - "$reports/slack-received.log" "$port_file" <<'PY' &
import http.server, sys
log, port_file = sys.argv[1], sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "a") as f:
            f.write(f"POST {self.path}\n{body.decode('utf-8', 'replace')}\n")
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
PY
    slack_pid=$!
    for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
    [ -s "$port_file" ] || die "the local Slack capture server did not start"
    export SLACK_WEBHOOK_URL="http://127.0.0.1:$(cat "$port_file")/services/T0LOCAL/B0LOCAL/capture-only"
    log "Slack: a local capture server stands in for the webhook ($SLACK_WEBHOOK_URL)"
fi

run_pipeline() {  # name → the pipeline's exit code
    local name="$1" code=0
    log "runner run $name (in examples/apollo)"
    (cd "$example" && "$runner" run "$name" \
        --events "$reports/apollo-$name.jsonl" \
        --root "$root" \
        --junit "$reports/apollo-$name.xml" \
        --sarif "$reports/apollo-$name.sarif" \
        --report "$reports/apollo-$name.html") || code=$?
    return "$code"
}

screenshot() {  # html → png next to it, with headless Chromium (when installed)
    local html="$1" png="${1%.html}.png" profile
    command -v chromium >/dev/null || { log "no chromium: no screenshot of $html"; return 0; }
    profile="$(mktemp -d)"
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run \
        --user-data-dir="$profile" --window-size=1280,1600 \
        --screenshot="$png" "file://$html" >/dev/null 2>&1 || log "chromium could not take $png"
    rm -rf "$profile"
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
if [ -f "$reports/slack-received.log" ]; then
    log "Slack (local capture server) received:"
    sed 's/^/[main-job]   /' "$reports/slack-received.log"
elif [ -n "$slack_pid" ]; then
    log "Slack (local capture server) received nothing"
fi
if [ -f "$reports/apollo-deploy.html" ]; then
    screenshot "$reports/apollo-deploy.html"
fi
log "phases (wall time, targets in parallel):"
python3 scripts/phase-times.py "$reports/apollo-build.jsonl" "$reports/apollo-deploy.jsonl" "$base_image_seconds" || true
log "reports:"
for name in build deploy; do
    for f in "$reports/apollo-$name.html" "$reports/apollo-$name.xml" \
             "$reports/apollo-$name.sarif" "$reports/apollo-$name.jsonl" \
             "$reports/apollo-$name.png"; do
        if [ -f "$f" ]; then
            case "$f" in
                *.html) what="HTML report" ;;
                *.xml) what="JUnit" ;;
                *.sarif) what="SARIF" ;;
                *.jsonl) what="events" ;;
                *.png) what="screenshot" ;;
            esac
            log "  $(printf '%-12s' "$what") $f"
        fi
    done
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
