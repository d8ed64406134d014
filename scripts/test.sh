#!/usr/bin/env bash
# The whole test suite, as the README shows it and as CI runs it.
#
# Installs what the tests need (idempotent, pinned: scripts/install-tools.sh),
# starts a Docker engine and builds the local test image, builds the
# workspace (the `runner` binary included: end-to-end tests run it), then
# runs every test. Tests that need a real tool skip loudly when it is
# missing, unless STEPWISE_REQUIRE_TOOLS=1 (CI sets it), which makes them fail.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${STEPWISE_SKIP_INSTALL:-0}" != 1 ]; then
    bash scripts/install-tools.sh
fi
bash scripts/start-dockerd.sh || echo "warning: no Docker engine; docker tests will skip (or fail with STEPWISE_REQUIRE_TOOLS=1)" >&2
bash scripts/build-test-image.sh || echo "warning: could not build the test image" >&2
bash scripts/build-machine-image.sh >/dev/null || echo "warning: could not build the machines cloud's base image; tests/tests/machines.rs will skip (or fail)" >&2

cargo build --workspace --all-targets --locked
cargo test --workspace --locked --no-fail-fast "$@"

# The runner's embedding examples: each checks its own result, exits
# non-zero when it is wrong, and prints `example ok` when it is right.
for example in custom_pipeline report_outputs terraform_alone; do
    out=$(cargo run --quiet --locked -p runner --example "$example") || { echo "$out"; exit 1; }
    echo "$out"
    grep -qx "example ok" <<<"$out" || { echo "example $example did not end with 'example ok'" >&2; exit 1; }
done
