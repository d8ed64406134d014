#!/usr/bin/env bash
# Benchmark (issue 2, point b): output throughput through secret masking.
#
# A `script` step runs `cat DATA` on a generated 1 GiB file of 100-200-byte
# lines in which a registered secret (`--secret BENCH_TOKEN`, 24 characters)
# appears every ~500 lines; the runner reads the step's stdout through a
# pipe, splits it into lines, masks them and prints them (CI=1, plain
# output, to /dev/null). Baseline: `cat DATA` to /dev/null, timed in the
# same run. Goal: runner throughput / cat throughput >= 0.5. Also reported:
# the ratio to `cat DATA | cat` to /dev/null (the same bytes through a
# pipe, which is what the runner reads through).
#
# Peak RSS (goal <= 30 MB): GNU time's maximum resident set size of the
# runner's process tree (the largest of runner, bash and cat, which is the
# runner), plus the runner's own VmHWM polled from /proc while it runs.
#
# Before timing, a 4 MiB sample goes through the runner and the output is
# checked: the secret must be absent and `***` present once per occurrence.
#   bench/masking.sh                 # default: 3 runner runs, 10 baseline runs
#   RUNS=5 SIZE_MB=512 bench/masking.sh
source "$(dirname "$0")/lib.sh"

runs="${RUNS:-3}"
size_mb="${SIZE_MB:-1024}"
goal_ratio=0.5
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

machine >&2
echo "data: $bytes bytes, $lines lines" >&2
cat "$work/data" > /dev/null   # in the page cache for every command
cd "$work"
hyperfine -N --warmup 2 --runs 10 --export-json "$work/base.json" \
  --command-name "cat DATA > /dev/null" "cat $work/data" \
  --command-name "cat DATA | cat > /dev/null" "bash -c 'cat $work/data | cat'"
hyperfine -N --runs "$runs" --export-json "$work/runner.json" \
  --command-name "runner: script step cat DATA, masked" "$runner run -f $work/mask.yml --secret BENCH_TOKEN"

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

cat_mean="$(stat_of "$work/base.json" 0 mean)"
pipe_mean="$(stat_of "$work/base.json" 1 mean)"
run_mean="$(stat_of "$work/runner.json" 0 mean)"
r="$(ratio "$cat_mean" "$run_mean")"
rp="$(ratio "$pipe_mean" "$run_mean")"
mbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f MB/s", b / s / 1e6 }'; }
echo
line_of "$work/base.json" 0 "cat DATA > /dev/null"
line_of "$work/base.json" 1 "cat DATA | cat > /dev/null"
line_of "$work/runner.json" 0 "runner (masking, --secret)"
echo "throughput: cat $(mbps "$cat_mean"), cat | cat $(mbps "$pipe_mean"), runner $(mbps "$run_mean")"
echo "ratio runner / cat:       $r   (goal >= $goal_ratio)   $(verdict "$r" ">=" "$goal_ratio")"
echo "ratio runner / cat | cat: $rp   (extra information)"
awk -v t="$tree_kb" -v h="$hwm_kb" 'BEGIN { printf "peak RSS: runner VmHWM %.1f MB (polled), process tree max %.1f MB (GNU time)\n", h / 1024, t / 1024 }'
rss_mb="$(awk -v t="$tree_kb" 'BEGIN { printf "%.1f", t / 1024 }')"
echo "peak RSS $rss_mb MB   (goal <= $goal_rss_mb MB)   $(verdict "$rss_mb" "<=" "$goal_rss_mb")"
