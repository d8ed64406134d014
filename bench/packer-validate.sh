#!/usr/bin/env bash
# Benchmark: validating 4 Packer templates with one `packer-validate` step
# (templates validated concurrently) vs. 4 `packer validate` runs one after
# another (what the seed's pipeline did). Also times the step with --jobs 1,
# to show the step's own overhead next to plain packer.
#
# Needs packer (1.6.6), hyperfine and jq. The step is run through the crate's
# example binary (crates/step-packer/examples/validate.rs), built in release.
#   bench/packer-validate.sh            # default: 20 runs each
#   RUNS=50 bench/packer-validate.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-20}"
for tool in packer hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not on PATH (scripts/install-tools.sh installs it)" >&2; exit 2; }
done

echo "building the example (release)..." >&2
cargo build --quiet --release -p step-packer --example validate --manifest-path "$root/Cargo.toml"
bin="$root/target/release/examples/validate"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/crates/step-packer/tests/fixtures/templates/valid/." "$work/"
cd "$work"
templates=(ubuntu-14.04_amd64-amis.json ubuntu-14.04_amd64-droplet.json ubuntu-14.04_amd64-google.json ubuntu-14.04_amd64.pkr.hcl)
export DIGITALOCEAN_API_TOKEN=bench-token CHECKPOINT_DISABLE=1

{
  echo 'set -e'
  for t in "${templates[@]}"; do echo "packer validate $t >/dev/null"; done
} > sequential.sh

# Every command must pass before it is timed.
bash sequential.sh
"$bin" "${templates[@]}" >/dev/null

echo "cores: $(nproc), packer $(packer version | head -n1), ${#templates[@]} templates, $runs runs" >&2
hyperfine --warmup 2 --runs "$runs" --export-json "$work/result.json" \
  --command-name "sequential: 4x packer validate" "bash sequential.sh" \
  --command-name "packer-validate step (concurrent)" "$bin ${templates[*]}" \
  --command-name "packer-validate step (--jobs 1)" "$bin --jobs 1 ${templates[*]}"

jq -r '
  .results as $r
  | ($r[0].mean) as $base
  | "",
    "mean: sequential \($r[0].mean * 1000 | round) ms, step concurrent \($r[1].mean * 1000 | round) ms, step --jobs 1 \($r[2].mean * 1000 | round) ms",
    "ratio sequential / step (concurrent): \($base / $r[1].mean * 100 | round / 100)x",
    "ratio sequential / step (--jobs 1):   \($base / $r[2].mean * 100 | round / 100)x"
' "$work/result.json"
