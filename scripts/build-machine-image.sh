#!/usr/bin/env bash
# Build the machines cloud's base image: a minimal Debian rootfs made by
# debootstrap (openssh-server, python3, sudo, iproute2, procps), imported
# with `docker import` as stepwise/machine-base:<content hash>.
#
# Cached by content: the tag is a hash of this script, the package list and
# the suite, so a second run with nothing changed finds the image and only
# prints its name. The name is also tagged `stepwise/machine-base:latest`.
#
# A machine started from the image runs /usr/local/sbin/machine-init: it
# creates fresh ssh host keys, authorizes $MACHINE_SSH_PUBKEY for root and for
# the user `apollo` (passwordless sudo) and runs sshd in the foreground.
#
# Variables: MACHINE_IMAGE_SUITE (default bookworm), MACHINE_IMAGE_MIRROR
# (default: the first Debian archive in this host's apt sources),
# MACHINE_IMAGE_REPO (default stepwise/machine-base), MACHINE_IMAGE_CACHE
# (downloaded packages kept for the next build, default /var/cache/stepwise/debootstrap).
# Prints the image reference on the last line of stdout.
set -euo pipefail

SUITE="${MACHINE_IMAGE_SUITE:-bookworm}"
REPO="${MACHINE_IMAGE_REPO:-stepwise/machine-base}"
PACKAGES="openssh-server,python3,sudo,iproute2,procps"
SSH_USER=apollo
CACHE="${MACHINE_IMAGE_CACHE:-/var/cache/stepwise/debootstrap}"

log() { printf '[machine-image] %s\n' "$*" >&2; }
die() { printf '[machine-image] ERROR: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker CLI not found (scripts/install-tools.sh)"
docker info >/dev/null 2>&1 || die "no Docker engine answers; start one with scripts/start-dockerd.sh"

HASH="$( { cat "$0"; printf '%s\n%s\n' "$PACKAGES" "$SUITE"; } | sha256sum | cut -c1-12)"
IMAGE="$REPO:$HASH"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "cached: $IMAGE"
  docker tag "$IMAGE" "$REPO:latest"
  echo "$IMAGE"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap not found (scripts/install-tools.sh installs it)"

mirror_from_apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$f"
  done | head -n1
  if [ -f /etc/apt/sources.list ]; then
    awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list
  fi
}
MIRROR="${MACHINE_IMAGE_MIRROR:-$(mirror_from_apt_sources | head -n1)}"
[ -n "$MIRROR" ] || die "no Debian archive in the apt sources; set MACHINE_IMAGE_MIRROR"

WORK="$(mktemp -d /var/tmp/machine-image.XXXXXX)"
ROOT="$WORK/rootfs"
cleanup() {
  umount "$ROOT/proc" "$ROOT/sys" 2>/dev/null || true
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
t0=$SECONDS
log "debootstrap $SUITE ($PACKAGES) into $ROOT"
mkdir -p "$CACHE"
debootstrap --variant=minbase --cache-dir="$CACHE" --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
  || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
log "debootstrap took $((SECONDS - t0))s"

# The image carries no host keys and no apt caches; each machine makes its own keys.
rm -f "$ROOT"/etc/ssh/ssh_host_*
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
chroot "$ROOT" useradd --create-home --shell /bin/bash "$SSH_USER"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$SSH_USER" >"$ROOT/etc/sudoers.d/$SSH_USER"
chmod 0440 "$ROOT/etc/sudoers.d/$SSH_USER"
cat >"$ROOT/usr/local/sbin/machine-init" <<'INIT'
#!/bin/sh
# Start a machine: host keys, the run's public key, sshd in the foreground.
set -e
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
for home in /root /home/apollo; do
  mkdir -p "$home/.ssh"
  printf '%s\n' "${MACHINE_SSH_PUBKEY:-}" >"$home/.ssh/authorized_keys"
  chmod 700 "$home/.ssh"; chmod 600 "$home/.ssh/authorized_keys"
done
chown -R apollo:apollo /home/apollo/.ssh
# Services that a converge registered (/etc/machine/services.d/*.sh) start again.
for s in /etc/machine/services.d/*.sh; do [ -f "$s" ] && sh "$s" || true; done
exec /usr/sbin/sshd -D -e
INIT
chmod 0755 "$ROOT/usr/local/sbin/machine-init"
mkdir -p "$ROOT/etc/machine/services.d"

t1=$SECONDS
tar -C "$ROOT" --numeric-owner --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* -c . | docker import \
  --change 'ENTRYPOINT ["/usr/local/sbin/machine-init"]' \
  --change 'EXPOSE 22' \
  --change "LABEL stepwise.machine-image.hash=$HASH" \
  - "$IMAGE" >/dev/null
docker tag "$IMAGE" "$REPO:latest"
log "docker import took $((SECONDS - t1))s; built $IMAGE in $((SECONDS - t0))s"
echo "$IMAGE"
