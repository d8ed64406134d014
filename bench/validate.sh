#!/usr/bin/env bash
# Benchmark (issues 2 and 15, point c): `runner validate -f FILE` of a generated
# 100-step pipeline file: script steps with id, name, cwd, timeout, retries,
# continue_on_error, when and multi-line code (some reading an earlier step's
# outputs), a for_each group, and other kinds (install-packages,
# pip-install, packer-validate, terraform, ansible-lint), plus after-steps.
# Goal: mean <= 5 ms, whole process (start-up, YAML parsing, registry,
# building every step, printing the listing), i.e. <= 2.5 ms beyond the
# `runner --version` floor measured in the same run.
#
# Baselines in the same run: `true` (the cost of starting any process) and
# `runner --version` (the runner's own start-up: loading the binary, CLI
# parsing).
#   bench/validate.sh                # default: 100 runs each
#   RUNS=300 bench/validate.sh
source "$(dirname "$0")/lib.sh"

runs="${RUNS:-100}"
goal_ms=5
goal_beyond_ms=2.5
need hyperfine jq cargo
build_runner
make_work

# 100 steps: 88 scripts, 4 kinds x 2 + ansible-lint x 2 and a for_each of 2.
f="$work/pipeline.yml"
{
  echo 'build:'
  echo '  steps:'
  n=0
  for i in $(seq 88); do
    n=$((n + 1))
    echo "    - script:"
    echo "        id: step$i"
    echo "        name: step $i of the build"
    echo "        cwd: services/svc-$((i % 7))"
    echo "        timeout: $((i % 5 + 1))m"
    [ $((i % 3)) -eq 0 ] && echo "        retries: 2"
    [ $((i % 4)) -eq 0 ] && echo "        continue_on_error: true"
    [ $((i % 5)) -eq 0 ] && echo "        when: \"DEPLOY_ENV == staging\""
    echo "        code: |"
    echo "          echo \"building \$SERVICE part $i\""
    echo "          export PART_$i=done"
    if [ "$i" -gt 1 ]; then
      echo "          echo \"previous: \${{ outputs.step$((i - 1)).result }}\""
    fi
    echo "          test -d . && ls > /dev/null"
  done
  for i in 1 2; do
    n=$((n + 5))
    echo "    - install-packages:"
    echo "        name: packages $i"
    echo "        packages: wget unzip jq"
    echo "    - pip-install:"
    echo "        name: python deps $i"
    echo "        packages: [requests, pyyaml]"
    echo "    - packer-validate:"
    echo "        name: images $i"
    echo "        cwd: packer"
    echo "        template: [ubuntu-$i.json, ubuntu-$i.pkr.hcl]"
    echo "    - terraform:"
    echo "        id: plan$i"
    echo "        name: plan $i"
    echo "        command: plan"
    echo "        dir: infra/cluster-$i"
    echo "        vars: {region: eu-west-$i}"
    echo "    - ansible-lint:"
    echo "        name: lint $i"
    echo "        playbooks: [site.yml, deploy-$i.yml]"
  done
  n=$((n + 2))
  echo "    - for_each:"
  echo "        var: CLOUD"
  echo "        values: [aws, gcp, azure]"
  echo "        steps:"
  echo "          - script: {name: up, code: 'echo up \$CLOUD', teardown: 'echo down \$CLOUD'}"
  echo "          - script: {name: check, timeout: 30s, code: 'echo check \$CLOUD'}"
  echo "  after-steps:"
  echo "    - script: {name: notify, code: 'echo \$RUNNER_RESULT'}"
  echo "    - script: {name: report, code: 'echo \$WERCKER_RESULT'}"
  echo "# steps: $n"
} > "$f"
steps_total="$(sed -n 's/^# steps: //p' "$f")"
[ "$steps_total" -eq 100 ] || { echo "bench: generated $steps_total steps, not 100" >&2; exit 1; }

# It must be valid (exit 0) and list every step before it is timed.
listing="$("$runner" validate -f "$f")"
listed="$(grep -c '^ *- ' <<<"$listing")"
echo "validate lists $listed entries ($(wc -l < "$f") lines of YAML)" >&2
[ "$listed" -ge 100 ] || { echo "bench: validate listed $listed steps: $listing" >&2; exit 1; }

machine >&2
cd "$work"
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/result.json" \
  --command-name "runner validate (100 steps)" "$runner validate -f $f" \
  --command-name "runner --version" "$runner --version" \
  --command-name "true" "$(command -v true)"

j="$work/result.json"
v="$(stat_of "$j" 0 mean)"
ver="$(stat_of "$j" 1 mean)"
t="$(stat_of "$j" 2 mean)"
v_ms="$(ms "$v")"
echo
line_of "$j" 0 "runner validate, 100 steps"
line_of "$j" 1 "runner --version"
line_of "$j" 2 "true"
echo "ratio validate / true: $(ratio "$v" "$t"), validate / runner --version: $(ratio "$v" "$ver")"
beyond_ms="$(ms "$(awk -v a="$v" -v b="$ver" 'BEGIN { print a - b }')")"
echo "validate beyond the --version floor: $beyond_ms ms   (goal <= $goal_beyond_ms ms)   $(verdict "$beyond_ms" "<=" "$goal_beyond_ms")"
echo "mean $v_ms ms   (goal <= $goal_ms ms)   $(verdict "$v_ms" "<=" "$goal_ms")"
