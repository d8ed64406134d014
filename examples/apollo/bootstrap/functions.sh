# shellcheck shell=bash
# Bootstrap functions shared by Apollo's image provisioning (bootstrap.sh,
# run by packer) and the deploy pipeline (which sources this file to map a
# cloud name to its terraform configuration and ports).
#
# Source it; every function prints its result on stdout and returns non-zero
# with a message on stderr when its input is invalid.

# The kind of cloud a deploy target names: local-a, local-b, local-7 → local;
# aws, digitalocean → themselves.
cloud_kind() {
    case "${1:-}" in
        local | local-*) echo local ;;
        machines | machines-*) echo machines ;;
        aws | digitalocean) echo "$1" ;;
        '') echo "cloud_kind: no cloud given" >&2; return 1 ;;
        *) echo "cloud_kind: unknown cloud '$1' (expected aws, digitalocean, local, local-<name>, machines or machines-<name>)" >&2; return 1 ;;
    esac
}

# The terraform configuration of a cloud, relative to the repository root.
cloud_terraform_dir() {
    local kind
    kind="$(cloud_kind "${1:-}")" || return 1
    echo "terraform/$kind"
}

# The first port of a local target's block of 100 ports, so that targets
# applied in parallel never clash: local-a → BASE, local-b → BASE+100, …,
# local-<n> → BASE + n*100; other clouds → BASE.
cloud_port_base() {
    local cloud="${1:-}" base="${2:-18000}" suffix index
    case "$base" in
        '' | *[!0-9]*) echo "cloud_port_base: port base '$base' is not a number" >&2; return 1 ;;
    esac
    cloud_kind "$cloud" >/dev/null || return 1
    suffix="${cloud#local-}"
    if [ "$cloud" = local ] || [ "$suffix" = "$cloud" ]; then
        index=0
    elif [[ "$suffix" =~ ^[0-9]+$ ]]; then
        index=$((10#$suffix))
    elif [[ "$suffix" =~ ^[a-z]$ ]]; then
        index=$(($(printf '%d' "'$suffix") - 97))
    else
        echo "cloud_port_base: cannot derive ports from '$cloud' (use local-a … local-z or local-<number>)" >&2
        return 1
    fi
    local port=$((base + index * 100))
    if [ "$port" -lt 1024 ] || [ "$port" -gt 65400 ]; then
        echo "cloud_port_base: port base $port for '$cloud' is out of range 1024-65400" >&2
        return 1
    fi
    echo "$port"
}

# Joins the remaining arguments with the first: join_by , a b c → a,b,c
join_by() {
    local sep="${1:-}" first=1 item out=""
    shift || true
    for item in "$@"; do
        if [ "$first" -eq 1 ]; then out="$item"; first=0; else out="$out$sep$item"; fi
    done
    printf '%s\n' "$out"
}

# A ZooKeeper connection string: zk_url /mesos h1:2181 h2:2181 → zk://h1:2181,h2:2181/mesos
zk_url() {
    local path="${1:-}"
    shift || true
    if [ "$#" -eq 0 ]; then
        echo "zk_url: no ZooKeeper peers given" >&2
        return 1
    fi
    case "$path" in
        /*) ;;
        *) echo "zk_url: path '$path' must start with /" >&2; return 1 ;;
    esac
    echo "zk://$(join_by , "$@")$path"
}

# The quorum of an ensemble of N members (a majority): 1 → 1, 3 → 2, 5 → 3.
quorum_size() {
    local n="${1:-}"
    case "$n" in
        '' | *[!0-9]* | 0) echo "quorum_size: '$n' is not a positive number" >&2; return 1 ;;
    esac
    echo $((n / 2 + 1))
}

# Sets KEY=VALUE in a shell-style env file, replacing an existing KEY line
# and keeping every other line: env_file_set FILE KEY VALUE
env_file_set() {
    local file="${1:-}" key="${2:-}" value="${3-}" tmp
    if [ -z "$file" ] || ! [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
        echo "env_file_set: usage: env_file_set FILE KEY VALUE (KEY a shell name)" >&2
        return 1
    fi
    tmp="$(mktemp "$file.XXXXXX")" || return 1
    if [ -f "$file" ]; then
        grep -v "^$key=" "$file" >"$tmp" || true
    fi
    printf '%s=%q\n' "$key" "$value" >>"$tmp"
    mv -f "$tmp" "$file"
}

# The image to run the local cloud's containers from: prints IMAGE when a
# Docker engine answers and has it, else prints nothing and says why on
# stderr (the local cloud then runs without containers). Never fails.
#   docker_image_for stepwise/busybox:latest
docker_image_for() {
    local image="${1:-}"
    if [ -z "$image" ]; then
        echo "docker_image_for: no image given; no containers" >&2
    elif ! command -v docker >/dev/null 2>&1; then
        echo "notice: no docker client; the local cloud runs without containers" >&2
    elif ! docker info >/dev/null 2>&1; then
        echo "notice: no Docker engine reachable; the local cloud runs without containers" >&2
    elif ! docker image inspect "$image" >/dev/null 2>&1; then
        echo "notice: image $image not found (scripts/build-test-image.sh builds stepwise/busybox); no containers" >&2
    else
        echo "$image"
    fi
    return 0
}

# The private network (a /24) of a machines target, so that targets applied
# in parallel never share one: machines-a → BASE.0.0/24 … machines-z →
# BASE.25.0/24, machines-<n> → BASE.<n>.0/24. BASE is the first two octets
# (default 10.213).
cloud_subnet() {
    local cloud="${1:-}" base="${2:-10.213}" suffix index
    if ! [[ "$base" =~ ^[0-9]{1,3}\.[0-9]{1,3}$ ]]; then
        echo "cloud_subnet: subnet base '$base' is not two octets such as 10.213" >&2
        return 1
    fi
    suffix="${cloud#machines-}"
    if [ "$cloud" = machines ]; then
        index=0
    elif [ "$suffix" = "$cloud" ]; then
        echo "cloud_subnet: '$cloud' is not a machines target" >&2
        return 1
    elif [[ "$suffix" =~ ^[0-9]+$ ]] && [ $((10#$suffix)) -le 255 ]; then
        index=$((10#$suffix))
    elif [[ "$suffix" =~ ^[a-z]$ ]]; then
        index=$(($(printf '%d' "'$suffix") - 97))
    else
        echo "cloud_subnet: cannot derive a network from '$cloud' (use machines-a … machines-z or machines-<0-255>)" >&2
        return 1
    fi
    echo "$base.$index.0/24"
}
