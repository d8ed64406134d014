#!/usr/bin/env bash
# Build the local test image stepwise/busybox:latest (FROM scratch + busybox-static)
# without any registry access, then check that the engine can run, exec into and
# inspect containers from it, including --privileged ones.
# Idempotent: the build is skipped when the image exists (STEPWISE_REBUILD=1 forces it).
# Needs a running engine: scripts/start-dockerd.sh.
set -euo pipefail

IMAGE="${STEPWISE_TEST_IMAGE:-stepwise/busybox:latest}"
BUSYBOX="${STEPWISE_BUSYBOX:-/bin/busybox}"
DOCKER="${DOCKER:-docker}"

log() { printf '[build-test-image] %s\n' "$*"; }
die() { printf '[build-test-image] ERROR: %s\n' "$*" >&2; exit 1; }

"$DOCKER" info >/dev/null 2>&1 || die "docker engine not answering; run scripts/start-dockerd.sh"

if [ "${STEPWISE_REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "image $IMAGE already exists; skipping build"
else
  [ -x "$BUSYBOX" ] || die "$BUSYBOX missing; install busybox-static (scripts/install-tools.sh)"
  # must be static: the image has no libc
  if ldd "$BUSYBOX" >/dev/null 2>&1; then
    die "$BUSYBOX is dynamically linked; need busybox-static"
  fi
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx" "$ctx.log"' EXIT
  cp "$BUSYBOX" "$ctx/busybox"
  # /tmp and /root exist so that tests can write files there.
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/root", "/etc", "/var/tmp", "/mnt"]
RUN ["/bin/busybox", "--install", "-s"]
RUN ["/bin/busybox", "chmod", "1777", "/tmp", "/var/tmp"]
RUN ["/bin/sh", "-c", "echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'root:x:0:' > /etc/group"]
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["/bin/sh"]
EOF
  log "building $IMAGE from $BUSYBOX"
  # DOCKER_BUILDKIT=0: the classic builder needs no buildx plugin and no network.
  if ! DOCKER_BUILDKIT=0 "$DOCKER" build --network none -q -t "$IMAGE" "$ctx" >"$ctx.log" 2>&1; then
    cat "$ctx.log" >&2
    die "docker build failed"
  fi
  rm -rf "$ctx" "$ctx.log"; trap - EXIT
  log "built $IMAGE ($("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE"))"
fi

# ---------------------------------------------------------------- checks
out="$("$DOCKER" run --rm --network none "$IMAGE" sh -c 'echo ok')"
[ "$out" = ok ] || die "docker run printed '$out', expected ok"
log "run --rm --network none: ok"

name="stepwise-selftest-$$"
cleanup() { "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$DOCKER" run --network none -d --name "$name" "$IMAGE" sleep 1000 >/dev/null
[ "$("$DOCKER" exec "$name" sh -c 'echo exec-ok')" = exec-ok ] || die "docker exec failed"
[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$name")" = true ] || die "docker inspect: container not running"
cleanup
log "run -d / exec / inspect: ok"

out="$("$DOCKER" run --rm --network none --privileged "$IMAGE" sh -c 'mount -t tmpfs none /mnt && echo privileged-ok')"
[ "$out" = privileged-ok ] || die "--privileged run printed '$out'"
log "run --privileged (tmpfs mount inside): ok"
