#!/usr/bin/env bash
# Benchmark: the same ~100 host checks of this machine (files, modes, users,
# groups, listening ports, commands, processes, packages) as a serverspec
# suite (rspec), as a testinfra suite (pytest) and as a native host-checks
# spec, timed with hyperfine in one run; then 1,000 in-process native checks
# (files, users, ports).
#
# Goals (issue 7): native >= 50x faster than serverspec; 1,000 in-process
# checks <= 50 ms. The native spec runs through the crate's example binary
# (crates/step-serverspec/examples/run_spec.rs, the Rust API), built in release;
# its time includes process start, template rendering and YAML parsing.
#
# Needs rspec (ruby-serverspec), pytest-testinfra in /opt/stepwise/venv,
# hyperfine, jq, python3.
#   bench/host-checks.sh            # default: 10 runs each
#   RUNS=20 bench/host-checks.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-10}"
pytest="${PYTEST:-/opt/stepwise/venv/bin/pytest}"
for tool in rspec hyperfine jq python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not on PATH (scripts/install-tools.sh installs it)" >&2; exit 2; }
done
[ -x "$pytest" ] || { echo "bench: $pytest missing (pytest-testinfra in /opt/stepwise/venv)" >&2; exit 2; }

echo "building the example (release)..." >&2
cargo build --quiet --release -p step-serverspec --example run_spec --manifest-path "$root/Cargo.toml"
bin="$root/target/release/examples/run_spec"

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The host under test: data files, ten listening ports, a few processes.
mkdir -p "$work/data"
for i in $(seq 0 399); do printf 'x\n' > "$work/data/$(printf 'f%02d' "$i")"; done
chmod 0644 "$work"/data/*
python3 - "$work/ports" <<'PY' &
import socket, sys, time
socks = []
for _ in range(10):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); socks.append(s)
open(sys.argv[1], "w").write(",".join(str(s.getsockname()[1]) for s in socks))
time.sleep(3600)
PY
pids+=($!)
sleep 600 & pids+=($!)
tail -f /dev/null & pids+=($!)
mkfifo "$work/fifo"
cat "$work/fifo" & pids+=($!)   # blocks opening the fifo until killed
for _ in $(seq 50); do [ -s "$work/ports" ] && break; sleep 0.1; done
ports="$(cat "$work/ports")"
total="$(python3 "$root/bench/host-checks/generate.py" "$work" "$ports" "python3,sleep,tail,bash,cat")"

# Every suite must pass before it is timed.
(cd "$work/serverspec" && rspec --format progress spec/bench_spec.rb | tail -n 2)
(cd "$work/testinfra" && "$pytest" -q -p no:cacheprovider test_bench.py | tail -n 1)
"$bin" "$work/native/bench.yml"
"$bin" "$work/native/thousand.yml"

echo "cores: $(nproc), $total checks per suite, $runs runs" >&2
hyperfine --warmup 1 --runs "$runs" --export-json "$work/suites.json" \
  --command-name "serverspec (rspec, $total checks)" "cd $work/serverspec && rspec spec/bench_spec.rb" \
  --command-name "testinfra (pytest, $total checks)" "cd $work/testinfra && $pytest -q -p no:cacheprovider test_bench.py" \
  --command-name "native host-checks ($total checks)" "$bin --quiet $work/native/bench.yml"

hyperfine --warmup 3 --runs "$((runs * 3))" -N --export-json "$work/thousand.json" \
  --command-name "native host-checks (1,000 in-process checks)" "$bin --quiet $work/native/thousand.yml"

jq -r --slurpfile k "$work/thousand.json" '
  .results as $r
  | ($r[2].mean) as $native
  | ($k[0].results[0].mean) as $thousand
  | "",
    "mean: serverspec \($r[0].mean * 1000 | round) ms, testinfra \($r[1].mean * 1000 | round) ms, native \($native * 10000 | round / 10) ms",
    "ratio serverspec / native: \($r[0].mean / $native | round)x   (goal >= 50x)",
    "ratio testinfra / native:  \($r[1].mean / $native | round)x",
    "1,000 in-process checks: \($thousand * 10000 | round / 10) ms per run (whole process)   (goal <= 50 ms)"
' "$work/suites.json"
