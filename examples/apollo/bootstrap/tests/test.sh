#!/usr/bin/env bash
# Unit tests of bootstrap/functions.sh, with a tiny assert framework: every
# function named test_* runs in a subshell; an assertion that fails prints
# what was expected and what came out. Exits 1 when any test failed.
#
#   cd bootstrap/tests && bash test.sh
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bootstrap/functions.sh
. "$here/../functions.sh"

FAILURES=0
ASSERT_FAILED=0

fail_assert() {
    echo "    assertion failed: $*"
    ASSERT_FAILED=1
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    if [ "$1" != "$2" ]; then
        fail_assert "${3:-value}: expected '$1', got '$2'"
    fi
}

# assert_ok CMD... : the command succeeds
assert_ok() {
    if ! "$@" >/dev/null 2>&1; then
        fail_assert "expected success: $*"
    fi
}

# assert_fails CMD... : the command fails (and says why on stderr)
assert_fails() {
    local err
    if err="$("$@" 2>&1 >/dev/null)"; then
        fail_assert "expected failure: $*"
    elif [ -z "$err" ]; then
        fail_assert "failed without a message: $*"
    fi
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
    case "$1" in
        *"$2"*) ;;
        *) fail_assert "expected '$1' to contain '$2'" ;;
    esac
}

# ------------------------------------------------------------------ tests

test_cloud_kind_maps_local_targets() {
    assert_eq local "$(cloud_kind local)"
    assert_eq local "$(cloud_kind local-a)"
    assert_eq local "$(cloud_kind local-17)"
    assert_eq aws "$(cloud_kind aws)"
    assert_eq digitalocean "$(cloud_kind digitalocean)"
}

test_cloud_kind_maps_machines_targets() {
    assert_eq machines "$(cloud_kind machines-a)"
    assert_eq terraform/machines "$(cloud_terraform_dir machines-b)"
}

test_cloud_subnet_gives_each_machines_target_its_network() {
    assert_eq 10.213.0.0/24 "$(cloud_subnet machines-a)"
    assert_eq 10.213.1.0/24 "$(cloud_subnet machines-b)"
    assert_eq 10.77.12.0/24 "$(cloud_subnet machines-12 10.77)"
    assert_fails cloud_subnet local-a
    assert_fails cloud_subnet machines-a 10.x
    assert_fails cloud_subnet machines-300
}

test_cloud_kind_rejects_unknown_clouds() {
    assert_fails cloud_kind gcp
    assert_fails cloud_kind ""
    assert_contains "$(cloud_kind gcp 2>&1)" "unknown cloud 'gcp'"
}

test_cloud_terraform_dir() {
    assert_eq terraform/local "$(cloud_terraform_dir local-b)"
    assert_eq terraform/aws "$(cloud_terraform_dir aws)"
    assert_fails cloud_terraform_dir azure
}

test_port_bases_differ_per_local_target() {
    assert_eq 18000 "$(cloud_port_base local-a 18000)"
    assert_eq 18100 "$(cloud_port_base local-b 18000)"
    assert_eq 18500 "$(cloud_port_base local-5 18000)"
    assert_eq 20000 "$(cloud_port_base local 20000)"
    assert_eq 18000 "$(cloud_port_base aws 18000)"
}

test_port_base_rejects_bad_input() {
    assert_fails cloud_port_base local-a abc
    assert_fails cloud_port_base local-xy 18000
    assert_fails cloud_port_base local-9999 18000
    assert_fails cloud_port_base nowhere 18000
}

test_join_by() {
    assert_eq "a,b,c" "$(join_by , a b c)"
    assert_eq "one" "$(join_by , one)"
    assert_eq "" "$(join_by ,)"
    assert_eq "x y" "$(join_by ' ' x y)"
}

test_zk_url_matches_the_seed_format() {
    assert_eq "zk://10.0.0.1:2181,10.0.0.2:2181/mesos" "$(zk_url /mesos 10.0.0.1:2181 10.0.0.2:2181)"
    assert_eq "zk://h:2181/marathon" "$(zk_url /marathon h:2181)"
    assert_fails zk_url /mesos
    assert_fails zk_url mesos h:2181
}

test_quorum_size() {
    assert_eq 1 "$(quorum_size 1)"
    assert_eq 2 "$(quorum_size 3)"
    assert_eq 3 "$(quorum_size 5)"
    assert_fails quorum_size 0
    assert_fails quorum_size three
}

test_env_file_set_replaces_and_keeps_lines() {
    local dir
    dir="$(mktemp -d)"
    printf 'A=1\nB=2\n' >"$dir/env"
    assert_ok env_file_set "$dir/env" B 'two words'
    assert_ok env_file_set "$dir/env" C 3
    assert_eq "$(printf 'A=1\nB=two\\ words\nC=3')" "$(cat "$dir/env")" "env file"
    (
        # shellcheck disable=SC1091
        . "$dir/env"
        assert_eq "two words" "$B" "B after sourcing"
        exit "$ASSERT_FAILED"
    ) || ASSERT_FAILED=1
    assert_fails env_file_set "$dir/env" "bad-key" x
    rm -rf "$dir"
}

# A fake docker client (a function shadows the command): FAKE_ENGINE=up|down,
# FAKE_IMAGES lists the images the engine has.
docker() {
    case "$1" in
        info) [ "${FAKE_ENGINE:-down}" = up ] ;;
        image) [ "${FAKE_ENGINE:-down}" = up ] && case " ${FAKE_IMAGES:-} " in *" $3 "*) true ;; *) false ;; esac ;;
        *) return 2 ;;
    esac
}

test_docker_image_for_needs_engine_and_image() {
    assert_eq "busybox:1" "$(FAKE_ENGINE=up FAKE_IMAGES="busybox:1 x" docker_image_for busybox:1 2>/dev/null)"
    assert_eq "" "$(FAKE_ENGINE=down FAKE_IMAGES="busybox:1" docker_image_for busybox:1 2>/dev/null)"
    assert_eq "" "$(FAKE_ENGINE=up FAKE_IMAGES="other" docker_image_for busybox:1 2>/dev/null)"
    assert_contains "$(FAKE_ENGINE=down docker_image_for busybox:1 2>&1)" "no Docker engine"
    assert_contains "$(FAKE_ENGINE=up docker_image_for busybox:1 2>&1)" "not found"
    assert_ok docker_image_for ""
}

# ------------------------------------------------------------------ runner

tests="$(declare -F | awk '$3 ~ /^test_/ {print $3}')"
total=0
for t in $tests; do
    total=$((total + 1))
    if (ASSERT_FAILED=0; "$t"; exit "$ASSERT_FAILED"); then
        echo "ok   $t"
    else
        echo "FAIL $t"
        FAILURES=$((FAILURES + 1))
    fi
done
echo "$((total - FAILURES)) of $total tests passed"
[ "$FAILURES" -eq 0 ]
