#!/usr/bin/env bash
# Benchmark: the serverspec corpus (crates/step-serverspec/tests/fixtures/corpus,
# 60+ *_spec.rb files, 200+ examples of this machine) run by real rspec +
# serverspec and by the native engine (`serverspec` step, engine: native),
# timed with hyperfine in one run.
#
# Goal (issue 19): native >= 50x faster than rspec (wall time).
# The native side runs through the crate's example binary
# (crates/step-serverspec/examples/serverspec_native.rs, the step's Rust API),
# built in release; its time includes process start, parsing every file with
# prism and running every command specinfra would run that has no
# in-process answer. Before timing, both must report the same examples with
# the same verdicts (the corpus has failing and pending examples on purpose,
# so exit codes are ignored while timing).
#
# Needs rspec (ruby-serverspec), hyperfine, jq.
#   bench/serverspec-native.sh          # default: 10 runs each
#   RUNS=20 bench/serverspec-native.sh
source "$(dirname "$0")/lib.sh"

runs="${RUNS:-10}"
need rspec hyperfine jq
corpus="$bench_root/crates/step-serverspec/tests/fixtures/corpus"
files="$(find "$corpus/spec" -name '*_spec.rb' | wc -l)"

echo "building the example (release)..." >&2
cargo build --quiet --release -p step-serverspec --example serverspec_native --manifest-path "$bench_root/Cargo.toml"
bin="$bench_root/target/release/examples/serverspec_native"
make_work

# Same examples, same verdicts, or nothing is timed.
(cd "$corpus" && rspec --no-color --format json --out "$work/rspec.json" >/dev/null) || true
jq -r '.examples[] | "\(.status)\t\(.full_description)"' "$work/rspec.json" > "$work/rspec.txt"
"$bin" "$corpus" --json > "$work/native.txt" 2>/dev/null || true
if ! diff -q "$work/rspec.txt" "$work/native.txt" >/dev/null; then
  echo "bench: native and rspec verdicts differ:" >&2
  diff "$work/rspec.txt" "$work/native.txt" | head -20 >&2
  exit 1
fi
examples="$(wc -l < "$work/rspec.txt")"

echo "cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg), $files files, $examples examples, $runs runs" >&2
hyperfine --warmup 1 --runs "$runs" -i --export-json "$work/times.json" \
  --command-name "rspec + serverspec ($files files)" "cd $corpus && rspec --format progress" \
  --command-name "native engine ($files files)" "$bin $corpus"

rspec_mean="$(stat_of "$work/times.json" 0 mean)"
native_mean="$(stat_of "$work/times.json" 1 mean)"
speedup="$(awk -v a="$rspec_mean" -v b="$native_mean" 'BEGIN { printf "%.1f", a / b }')"
echo
echo "mean: rspec $(ms "$rspec_mean") ms, native $(ms "$native_mean") ms (min $(ms "$(stat_of "$work/times.json" 1 min)") ms)"
echo "ratio rspec / native: ${speedup}x   (goal >= 50x): $(verdict "$speedup" ">=" 50)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
