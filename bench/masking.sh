#!/usr/bin/env bash
# Benchmark (issue 15, point b): output throughput through masking.
#
# A `script` step prints a file of lines (1 GiB by default) in which a
# registered secret appears every 500 lines; the runner reads it through a
# pipe, masks it and prints it (CI=1, plain output, to /dev/null). Baseline
# in the same run: `cat DATA | cat` to /dev/null (the same bytes through a
# pipe, which is what the runner reads through; the honest limit of a
# design that reads a child's pipe), with `cat DATA` alone beside it.
# Timed twice: without an events file and with `--events /dev/null` (every
# line also serialized as a JSON event).
# Goals: runner / `cat | cat` >= 0.8 without events, >= 0.5 with them.
#
# Peak RSS (goal <= 30 MB): GNU time's maximum resident set size of the
# runner's process tree (the runner is the largest process), for the big
# file (with and without events) and for a 100 MB single line (no newline
# until the end) with the secret inside it every ~1 MB, plus the runner's
# own VmHWM polled from /proc during the big run.
#
# Before timing, a 4 MiB sample and the single line go through the runner
# and the output is checked: the secret must be absent and `***` present
# once per occurrence.
#   bench/masking.sh                 # default: 3 runner runs, 10 baseline runs
#   RUNS=5 SIZE_MB=512 LINE_MB=50 bench/masking.sh
source "$(dirname "$0")/lib.sh"

runs="${RUNS:-3}"
size_mb="${SIZE_MB:-1024}"
line_mb="${LINE_MB:-100}"
goal_ratio=0.8
goal_events_ratio=0.5
goal_rss_mb=30
need hyperfine jq cargo python3 /usr/bin/time
build_runner
make_work
export CI=1
export BENCH_TOKEN="bench-Tok3n-0123456789ab"   # 24 characters
[ "${#BENCH_TOKEN}" -eq 24 ]

# A 4 MiB chunk of lines, repeated up to the size.
python3 - "$work/chunk" "$BENCH_TOKEN" <<'PY'
import random, sys
path, secret = sys.argv[1], sys.argv[2]
rng = random.Random(42)
alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
out, size, i = [], 0, 0
while size < 4 * 1024 * 1024:
    n = rng.randint(100, 200)           # line length, newline included
    head = "line %08d " % i
    body = "".join(rng.choices(alphabet, k=n - len(head) - 1))
    if i % 500 == 250:
        p = rng.randint(0, len(body) - len(secret))
        body = body[:p] + secret + body[p + len(secret):]
    out.append(head + body + "\n")
    size += n
    i += 1
open(path, "w").write("".join(out))
PY
chunks=$(( (size_mb + 3) / 4 ))
for _ in $(seq "$chunks"); do cat "$work/chunk"; done > "$work/data"
bytes="$(stat -c %s "$work/data")"
lines="$(wc -l < "$work/data")"

# One line of LINE_MB MB, the secret in it every ~1 MB, one newline at the end.
python3 - "$work/line" "$BENCH_TOKEN" "$line_mb" <<'PY'
import sys
path, secret, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
filler = ("0123456789abcdefghij" * 52429)[: 1024 * 1024 - len(secret)]
with open(path, "w") as f:
    for _ in range(mb):
        f.write(filler + secret)
    f.write("\n")
PY

cat > "$work/sample.yml" <<EOF
build:
  steps:
    - script: {name: print, code: 'cat $work/chunk'}
EOF
cat > "$work/mask.yml" <<EOF
build:
  steps:
    - script: {name: print, code: 'cat $work/data'}
EOF
cat > "$work/line.yml" <<EOF
build:
  steps:
    - script: {name: print, code: 'cat $work/line'}
EOF

# The secret must be masked: absent from the output, one *** per occurrence.
expected="$(grep -o "$BENCH_TOKEN" "$work/chunk" | wc -l)"
"$runner" run -f "$work/sample.yml" --secret BENCH_TOKEN > "$work/sample.out"
leaked="$(grep -c "$BENCH_TOKEN" "$work/sample.out" || true)"
masked="$(grep -o '\*\*\*' "$work/sample.out" | wc -l)"
shown="$(grep -c '^print | line ' "$work/sample.out" || true)"
echo "sample: $(wc -l < "$work/chunk") lines, $expected secrets in; out: $shown lines, $leaked secrets, $masked ***" >&2
if [ "$leaked" -ne 0 ] || [ "$masked" -ne "$expected" ] || [ "$expected" -eq 0 ] || [ "$shown" -ne "$(wc -l < "$work/chunk")" ]; then
  echo "bench: masking check failed" >&2
  exit 1
fi
"$runner" run -f "$work/line.yml" --secret BENCH_TOKEN > "$work/line.out"
leaked="$(grep -c "$BENCH_TOKEN" "$work/line.out" || true)"
masked="$(grep -o '\*\*\*' "$work/line.out" | wc -l)"
echo "single line: $line_mb MB, $line_mb secrets in; out: $(wc -c < "$work/line.out") bytes, $leaked secrets, $masked ***" >&2
if [ "$leaked" -ne 0 ] || [ "$masked" -ne "$line_mb" ]; then
  echo "bench: masking check of the single line failed" >&2
  exit 1
fi
rm -f "$work/line.out"

machine >&2
echo "data: $bytes bytes, $lines lines" >&2
cat "$work/data" > /dev/null   # in the page cache for every command
cd "$work"
hyperfine -N --warmup 2 --runs 10 --export-json "$work/base.json" \
  --command-name "cat DATA > /dev/null" "cat $work/data" \
  --command-name "cat DATA | cat > /dev/null" "bash -c 'cat $work/data | cat'"
hyperfine -N --runs "$runs" --export-json "$work/runner.json" \
  --command-name "runner: script step cat DATA, masked" "$runner run -f $work/mask.yml --secret BENCH_TOKEN" \
  --command-name "runner: the same with --events" "$runner run -f $work/mask.yml --secret BENCH_TOKEN --events /dev/null"

# Peak memory: GNU time over the tree, VmHWM of the runner itself.
/usr/bin/time -f '%M' -o "$work/maxrss" "$runner" run -f "$work/mask.yml" --secret BENCH_TOKEN > /dev/null &
time_pid=$!
hwm_kb=0
runner_pid=""
while kill -0 "$time_pid" 2>/dev/null; do
  [ -n "$runner_pid" ] || runner_pid="$(ps -o pid= --ppid "$time_pid" | tr -d ' ' | head -n1)"
  if [ -n "$runner_pid" ]; then
    v="$(awk '/^VmHWM:/ { print $2 }' "/proc/$runner_pid/status" 2>/dev/null || true)"
    [ -n "$v" ] && [ "$v" -gt "$hwm_kb" ] && hwm_kb="$v"
  fi
  sleep 0.1
done
wait "$time_pid"
tree_kb="$(tail -n1 "$work/maxrss")"
line_rss_mb="$(peak_rss_mb "$runner" run -f "$work/line.yml" --secret BENCH_TOKEN)"
events_rss_mb="$(peak_rss_mb "$runner" run -f "$work/mask.yml" --secret BENCH_TOKEN --events /dev/null)"

cat_mean="$(stat_of "$work/base.json" 0 mean)"
pipe_mean="$(stat_of "$work/base.json" 1 mean)"
run_mean="$(stat_of "$work/runner.json" 0 mean)"
ev_mean="$(stat_of "$work/runner.json" 1 mean)"
r="$(ratio "$pipe_mean" "$run_mean")"
re="$(ratio "$pipe_mean" "$ev_mean")"
mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
echo
line_of "$work/base.json" 0 "cat DATA > /dev/null"
line_of "$work/base.json" 1 "cat DATA | cat > /dev/null"
line_of "$work/runner.json" 0 "runner (masking, --secret)"
line_of "$work/runner.json" 1 "runner (masking, --secret, --events)"
echo "throughput: cat $(mbps "$cat_mean"), cat | cat $(mbps "$pipe_mean"), runner $(mbps "$run_mean"), runner with events $(mbps "$ev_mean")"
echo "ratio runner / cat:                 $(ratio "$cat_mean" "$run_mean")   (extra information)"
echo "ratio runner / cat | cat:           $r   (goal >= $goal_ratio)   $(verdict "$r" ">=" "$goal_ratio")"
echo "ratio runner --events / cat | cat:  $re   (goal >= $goal_events_ratio)   $(verdict "$re" ">=" "$goal_events_ratio")"
awk -v t="$tree_kb" -v h="$hwm_kb" 'BEGIN { printf "peak RSS: runner VmHWM %.1f MB (polled), process tree max %.1f MB (GNU time)\n", h / 1024, t / 1024 }'
rss_mb="$(awk -v t="$tree_kb" 'BEGIN { printf "%.1f", t / 1024 }')"
echo "peak RSS, $size_mb MB of lines:          $rss_mb MB   (goal <= $goal_rss_mb MB)   $(verdict "$rss_mb" "<=" "$goal_rss_mb")"
echo "peak RSS, the same with --events:     $events_rss_mb MB   (goal <= $goal_rss_mb MB)   $(verdict "$events_rss_mb" "<=" "$goal_rss_mb")"
echo "peak RSS, one $line_mb MB line:           $line_rss_mb MB   (goal <= $goal_rss_mb MB)   $(verdict "$line_rss_mb" "<=" "$goal_rss_mb")"
