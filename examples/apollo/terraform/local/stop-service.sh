#!/bin/sh
# Stops a stand-in service started by terraform/local: SIGTERM, wait up to
# 10 s, then SIGKILL. Harmless when the service is already gone (destroying
# twice, or after a crash). The pid file is kept as <pidfile>.stopped, a
# record of which process ran.
#
#   stop-service.sh PIDFILE NAME
set -u
pidfile="$1"
name="${2:-service}"

if [ ! -f "$pidfile" ]; then
    echo "$name: not running (no $pidfile)"
    exit 0
fi
pid="$(cat "$pidfile" 2>/dev/null || true)"
case "$pid" in
    '' | *[!0-9]*)
        echo "$name: ignoring a pid file without a pid: $pidfile"
        mv -f "$pidfile" "$pidfile.stopped"
        exit 0
        ;;
esac

# Alive: signalable and not a zombie waiting to be reaped.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/status" ] && grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; then
        return 1
    fi
    return 0
}

if kill -TERM "$pid" 2>/dev/null; then
    i=0
    while alive "$pid"; do
        i=$((i + 1))
        if [ "$i" -ge 100 ]; then
            echo "$name: pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
    done
    echo "$name: stopped pid $pid"
else
    echo "$name: pid $pid was not running"
fi
mv -f "$pidfile" "$pidfile.stopped"
