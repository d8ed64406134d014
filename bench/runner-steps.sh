#!/usr/bin/env bash
# Benchmark (issue 2, point a): per-step overhead of the runner.
#
# A pipeline of 200 `script` steps, each `true`, run by `runner run -f FILE`
# (CI=1: plain output, sent to /dev/null by hyperfine), against plain bash
# starting the same 200 `bash -c true` one after another. Goal: runner wall
# time / bash wall time <= 1.10.
#
# Also timed, to split the difference: the runner with an empty pipeline
# (start-up: CLI, YAML, registry, git facts) and with 200 `#!/bin/true`
# steps (the step machinery without bash), next to bash running /bin/true
# 200 times.
#   bench/runner-steps.sh            # default: 15 runs each
#   RUNS=30 bench/runner-steps.sh
source "$(dirname "$0")/lib.sh"

runs="${RUNS:-15}"
steps=200
goal=1.10
need hyperfine jq cargo
build_runner
make_work
export CI=1

{
  echo 'build:'
  echo '  steps:'
  for i in $(seq "$steps"); do echo "    - script: {name: step-$i, code: 'true'}"; done
} > "$work/steps.yml"
{
  echo 'build:'
  echo '  steps:'
  for i in $(seq "$steps"); do printf '    - script: {name: step-%d, code: "#!/bin/true\\n"}\n' "$i"; done
} > "$work/shebang.yml"
printf 'build:\n  steps: []\n' > "$work/empty.yml"

# Every command must pass (and run every step) before it is timed.
for f in steps shebang; do
  out="$("$runner" run -f "$work/$f.yml")"
  grep -q "$steps passed" <<<"$out" || { echo "bench: $f.yml did not pass: $out" >&2; exit 1; }
done
"$runner" run -f "$work/empty.yml" >/dev/null

machine >&2
cd "$work"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/result.json" \
  --command-name "runner: $steps script steps (true)" "$runner run -f $work/steps.yml" \
  --command-name "bash: $steps x bash -c true" "bash -c 'for i in \$(seq $steps); do bash -c true; done'" \
  --command-name "runner: empty pipeline (start-up)" "$runner run -f $work/empty.yml" \
  --command-name "runner: $steps #!/bin/true steps (no bash)" "$runner run -f $work/shebang.yml" \
  --command-name "bash: $steps x /bin/true" "bash -c 'for i in \$(seq $steps); do /bin/true; done'"

j="$work/result.json"
r_mean="$(stat_of "$j" 0 mean)"
b_mean="$(stat_of "$j" 1 mean)"
start="$(stat_of "$j" 2 mean)"
shebang="$(stat_of "$j" 3 mean)"
true_loop="$(stat_of "$j" 4 mean)"
r="$(ratio "$r_mean" "$b_mean")"
echo
line_of "$j" 0 "runner, $steps script steps"
line_of "$j" 1 "bash, $steps x bash -c true"
line_of "$j" 2 "runner, empty pipeline (start-up)"
line_of "$j" 3 "runner, $steps #!/bin/true steps"
line_of "$j" 4 "bash, $steps x /bin/true"
awk -v r="$r_mean" -v b="$b_mean" -v s="$start" -v n="$steps" -v sh="$shebang" -v t="$true_loop" 'BEGIN {
  printf "per step: runner %.2f ms (after start-up %.2f ms), bash -c true %.2f ms; runner cost per step beyond bash: %.2f ms\n",
    r / n * 1000, (r - s) / n * 1000, b / n * 1000, (r - s - b) / n * 1000
  printf "without bash: runner %.2f ms per #!/bin/true step, bash loop %.2f ms per /bin/true\n",
    (sh - s) / n * 1000, t / n * 1000
}'
echo "ratio of the fastest runs (less sensitive to other load): $(ratio "$(stat_of "$j" 0 min)" "$(stat_of "$j" 1 min)")"
echo "ratio runner / bash: $r   (goal <= $goal)   $(verdict "$r" "<=" "$goal")"

# The machine's speed drifts within a run (hyperfine times all runs of one
# command, then the next). Also printed, as extra information: the median
# of per-round ratios over rounds that run the runner and bash back to back.
rounds="${ROUNDS:-15}"
ratios=()
for _ in $(seq "$rounds"); do
  t0=$(date +%s%N); "$runner" run -f "$work/steps.yml" > /dev/null
  t1=$(date +%s%N); bash -c "for i in \$(seq $steps); do bash -c true; done"
  t2=$(date +%s%N)
  ratios+=("$(ratio $((t1 - t0)) $((t2 - t1)))")
done
median="$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
echo "median ratio of $rounds back-to-back rounds: $median   (extra information)"
