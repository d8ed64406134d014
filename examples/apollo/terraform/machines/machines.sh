#!/bin/sh
# The machines cloud's docker CLI calls, run by terraform's local-exec
# provisioners (see main.tf). Every object carries the labels
# stepwise.run=$RUN_ID and stepwise.target=$TARGET; before an object is
# created, its name is appended to $STATE_DIR/created.list, so what an
# interrupted apply made is known even when terraform's state is not.
#
#   machines.sh preflight                  fail clearly when no engine answers
#   machines.sh network                    the target's private network + ssh key pair
#   machines.sh machine NAME HOST ROLE ADDR one machine from $IMAGE, hostname HOST
#   machines.sh remove-machine NAME        remove one machine
#   machines.sh sweep                      remove every container and network with
#                                          the run's labels, and the key pair
set -eu

: "${TARGET:?TARGET is required}" "${RUN_ID:?RUN_ID is required}" "${STATE_DIR:?STATE_DIR is required}"
LABELS="--label stepwise.run=$RUN_ID --label stepwise.target=$TARGET --label stepwise.example=apollo-machines"
FILTER="--filter label=stepwise.run=$RUN_ID --filter label=stepwise.target=$TARGET"

log() { printf '[machines %s] %s\n' "$TARGET" "$*"; }
record() { mkdir -p "$STATE_DIR"; printf '%s %s\n' "$1" "$2" >>"$STATE_DIR/created.list"; }

preflight() {
  if ! command -v docker >/dev/null 2>&1; then
    echo "the machines cloud needs the docker CLI and a Docker engine: run scripts/install-tools.sh, then scripts/start-dockerd.sh" >&2
    exit 1
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "the machines cloud needs a Docker engine and none answers: start one with scripts/start-dockerd.sh (nothing was created)" >&2
    exit 1
  fi
  if ! docker image inspect "${IMAGE:?IMAGE is required}" >/dev/null 2>&1; then
    echo "the machines cloud's image $IMAGE does not exist: build it with scripts/build-machine-image.sh and the build pipeline's packer-build (nothing was created)" >&2
    exit 1
  fi
}

network() {
  : "${NETWORK:?}" "${SUBNET:?}" "${KEY:?}"
  record network "$NETWORK"
  # shellcheck disable=SC2086 # LABELS is a list of flags
  docker network create --driver bridge --subnet "$SUBNET" $LABELS "$NETWORK" >/dev/null
  record key "$KEY"
  mkdir -p "$(dirname "$KEY")"
  rm -f "$KEY" "$KEY.pub"
  # ECDSA in PEM: what both OpenSSH and serverspec's net-ssh read without extra gems.
  ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -C "apollo-$TARGET-$RUN_ID" -f "$KEY"
  log "network $NETWORK ($SUBNET), key $KEY"
}

machine() {
  name="$1" host="$2" role="$3" address="$4"
  : "${NETWORK:?}" "${KEY:?}" "${IMAGE:?}"
  record container "$name"
  # shellcheck disable=SC2086
  docker run -d --name "$name" --hostname "$host" --network "$NETWORK" --ip "$address" \
    $LABELS --label "stepwise.role=$role" \
    -e "MACHINE_SSH_PUBKEY=$(cat "$KEY.pub")" "$IMAGE" >/dev/null
  # sshd answers once the machine has made its host keys.
  i=0
  until python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], 22), 1).recv(4)' "$address" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 100 ]; then
      docker logs "$name" >&2 || true
      echo "machine $name ($address): sshd did not answer within 20s" >&2
      exit 1
    fi
    sleep 0.2
  done
  log "machine $name: $role at $address"
}

remove_machine() {
  docker rm -f "$1" >/dev/null 2>&1 || true
  log "machine $1: removed"
}

sweep() {
  if ! docker info >/dev/null 2>&1; then
    rm -rf "$STATE_DIR/ssh"
    log "no Docker engine answers: nothing to sweep but the key pair"
    return 0
  fi
  # shellcheck disable=SC2086
  ids="$(docker ps -aq $FILTER)"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  # shellcheck disable=SC2086
  nets="$(docker network ls -q $FILTER)"
  # shellcheck disable=SC2086
  [ -z "$nets" ] || docker network rm $nets >/dev/null
  rm -rf "$STATE_DIR/ssh"
  log "swept: $(printf '%s' "$ids" | grep -c . || true) container(s), $(printf '%s' "$nets" | grep -c . || true) network(s), key pair"
}

cmd="${1:-}"
[ $# -eq 0 ] || shift
case "$cmd" in
  preflight) preflight ;;
  network) network ;;
  machine) machine "$@" ;;
  remove-machine) remove_machine "$@" ;;
  sweep) sweep ;;
  *) echo "machines.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
