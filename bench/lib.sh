# Shared helpers of the runner benchmarks (bench/runner-steps.sh,
# bench/masking.sh, bench/validate.sh, bench/fanout.sh). Sourced, not run.
#
# Each benchmark builds the release runner, generates its inputs into a
# temp dir (removed on exit), times the runner and a baseline in the same
# hyperfine run (--export-json into the temp dir) and prints the numbers,
# the ratio, the goal and PASS or MISS.

set -euo pipefail

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# RUNNER=/path/to/runner times another build (an older one, for a
# before/after comparison in the same conditions) instead of building.
runner="${RUNNER:-$bench_root/target/release/runner}"

# need TOOL...: fail early, with a hint, when a tool is missing.
need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || {
      echo "bench: $tool is not on PATH (scripts/install-tools.sh installs it)" >&2
      exit 2
    }
  done
}

# build_runner: the release runner, as users run it.
build_runner() {
  if [ -n "${RUNNER:-}" ]; then
    [ -x "$runner" ] || { echo "bench: RUNNER=$runner is not executable" >&2; exit 2; }
    return
  fi
  echo "building the runner (release)..." >&2
  cargo build --quiet --release -p runner --manifest-path "$bench_root/Cargo.toml"
  [ -x "$runner" ] || { echo "bench: $runner was not built" >&2; exit 2; }
}

# make_work: a temp dir in $work, removed on exit (also by ^C).
make_work() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/stepwise-bench.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
}

# stat_of JSON INDEX FIELD: a field (mean, stddev, min, max, median) of one
# command's result in a hyperfine export, in seconds.
stat_of() {
  jq -r ".results[$2].$3" "$1"
}

# ms SECONDS: seconds as milliseconds (two decimals below 10 ms, else one).
ms() {
  awk -v s="$1" 'BEGIN { m = s * 1000; printf (m < 10 ? "%.2f" : "%.1f"), m }'
}

# ratio A B: A / B with three decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
}

# verdict VALUE OP GOAL: PASS when `VALUE OP GOAL` holds (OP is <= or >=),
# MISS otherwise.
verdict() {
  awk -v v="$1" -v g="$3" -v op="$2" 'BEGIN {
    ok = (op == "<=") ? (v <= g) : (v >= g)
    print ok ? "PASS" : "MISS"
  }'
}

# line_of JSON INDEX LABEL: "LABEL  mean ± sd ms (min … max)" for one command.
line_of() {
  local json="$1" i="$2" label="$3"
  printf '%-44s %9s ms ± %6s ms   (min %s, max %s ms, %s runs)\n' "$label" \
    "$(ms "$(stat_of "$json" "$i" mean)")" "$(ms "$(stat_of "$json" "$i" stddev)")" \
    "$(ms "$(stat_of "$json" "$i" min)")" "$(ms "$(stat_of "$json" "$i" max)")" \
    "$(jq -r ".results[$i].times | length" "$json")"
}

# machine: one line about where the numbers come from.
machine() {
  echo "cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg), $("$runner" --version), $(hyperfine --version)"
}

# peak_rss_mb CMD...: runs CMD (output to /dev/null) and prints the largest
# resident set size of its process tree in MB, as GNU time measures it (the
# largest single process: for the runner, the runner itself).
peak_rss_mb() {
  /usr/bin/time -f '%M' -o "$work/maxrss" "$@" > /dev/null
  awk '{ printf "%.1f", $1 / 1024 }' < "$work/maxrss"
}
