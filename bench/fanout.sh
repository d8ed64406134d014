#!/usr/bin/env bash
# Benchmark (issue 3, and issue 15 point d): fan-out. A `for_each` over 8
# values whose one step is `sleep 1`; every target runs at once, so the
# ideal wall time is 1 s. Goal: runner wall time / 1 s <= 1.10 (whole
# process, start-up included). Baseline in the same run: bash starting 8
# `sleep 1` in the background and waiting for them. Also printed: the run's
# own duration from its run_finished event (what the integration test
# bounds at 1.2 s).
# (d): the same over 64 values with `max_parallel: 64`, against bash
# starting 64 `sleep 1`: goal wall / 1 s <= 1.10 and peak RSS (GNU time,
# the runner's process tree) <= 60 MB.
#   bench/fanout.sh                  # default: 10 runs each
#   RUNS=20 bench/fanout.sh
source "$(dirname "$0")/lib.sh"

runs="${RUNS:-10}"
goal=1.10
goal_rss_mb=60
need hyperfine jq cargo
build_runner
make_work
export CI=1

cat > "$work/fanout.yml" <<'EOF'
build:
  steps:
    - for_each:
        var: TARGET
        values: [t1, t2, t3, t4, t5, t6, t7, t8]
        steps:
          - script:
              name: nap
              code: sleep 1
EOF

{
  echo 'build:'
  echo '  steps:'
  echo '    - for_each:'
  echo '        var: TARGET'
  echo "        values: [$(seq -s ', ' -f 't%g' 64)]"
  echo '        max_parallel: 64'
  echo '        steps:'
  echo '          - script:'
  echo '              name: nap'
  echo '              code: sleep 1'
} > "$work/fanout64.yml"

# It must pass, with all 64 targets, before it is timed.
"$runner" run -f "$work/fanout64.yml" --events "$work/events64.jsonl" > /dev/null
passed="$(grep -c '"event":"step_finished".*"status":"passed"' "$work/events64.jsonl" || true)"
[ "$passed" -ge 64 ] || { echo "bench: fan-out did not pass 64 targets ($passed)" >&2; exit 1; }

# It must pass, with all 8 targets, before it is timed.
out="$("$runner" run -f "$work/fanout.yml" --events "$work/events.jsonl")"
passed="$(grep -c '"status":"passed"' "$work/events.jsonl" || true)"
[ "$passed" -ge 8 ] || { echo "bench: fan-out did not pass 8 targets: $out" >&2; exit 1; }
run_ms="$(jq -r 'select(.event == "run_finished") | .duration_ms' "$work/events.jsonl")"

machine >&2
cd "$work"
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/result.json" \
  --command-name "runner: for_each over 8 values of sleep 1" "$runner run -f $work/fanout.yml" \
  --command-name "bash: 8 x sleep 1 & wait" "bash -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'" \
  --command-name "runner: for_each over 64 values of sleep 1" "$runner run -f $work/fanout64.yml" \
  --command-name "bash: 64 x sleep 1 & wait" "bash -c 'for i in \$(seq 64); do sleep 1 & done; wait'"
rss64="$(peak_rss_mb "$runner" run -f "$work/fanout64.yml")"

j="$work/result.json"
r_mean="$(stat_of "$j" 0 mean)"
b_mean="$(stat_of "$j" 1 mean)"
r="$(ratio "$r_mean" 1)"
echo
line_of "$j" 0 "runner, for_each of 8 x sleep 1"
line_of "$j" 1 "bash, 8 x sleep 1 & wait"
echo "run_finished duration_ms of a check run: $run_ms ms"
echo "ratio runner / bash: $(ratio "$r_mean" "$b_mean")   (extra information)"
echo "ratio runner / ideal 1 s: $r   (goal <= $goal)   $(verdict "$r" "<=" "$goal")"
r64="$(ratio "$(stat_of "$j" 2 mean)" 1)"
echo
line_of "$j" 2 "runner, for_each of 64 x sleep 1"
line_of "$j" 3 "bash, 64 x sleep 1 & wait"
echo "(d) ratio runner / bash, 64 targets: $(ratio "$(stat_of "$j" 2 mean)" "$(stat_of "$j" 3 mean)")   (extra information)"
echo "(d) ratio runner / ideal 1 s, 64 targets: $r64   (goal <= $goal)   $(verdict "$r64" "<=" "$goal")"
echo "(d) peak RSS, 64 targets: $rss64 MB   (goal <= $goal_rss_mb MB)   $(verdict "$rss64" "<=" "$goal_rss_mb")"
