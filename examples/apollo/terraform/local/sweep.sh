#!/bin/sh
# Sweeps a target's run directory when it is destroyed (the run_dir
# resource's destroy provisioner, which runs last). An interrupted create
# provisioner leaves a tainted resource, and terraform destroys a tainted
# resource without running its destroy provisioner; whatever it started is
# still removed here, by the records kept before anything starts:
#
#   * pid files (<run_dir>/*.pid) of services that were not stopped;
#   * stand-ins that have no pid file yet, found by the `--pidfile
#     <run_dir>/…` their command line carries;
#   * containers, named in <run_dir>/containers before `docker run`.
#
#   sweep.sh RUN_DIR
set -u
run_dir="$1"
here="$(dirname "$0")"

if [ ! -d "$run_dir" ]; then
    echo "sweep: no run directory $run_dir"
    exit 0
fi

for pidfile in "$run_dir"/*.pid; do
    [ -f "$pidfile" ] || continue
    sh "$here/stop-service.sh" "$pidfile" "$(basename "$pidfile" .pid)"
done

# Stand-ins started but not yet recorded by pid (killed mid-start).
unrecorded() {
    for proc in /proc/[0-9]*; do
        pid="${proc#/proc/}"
        [ "$pid" = "$$" ] && continue
        cmd="$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null)" || continue
        case "$cmd" in
            *"--pidfile $run_dir/"*) echo "$pid" ;;
        esac
    done
}
# A stand-in caught mid-start may still be forking into the background (its
# double fork makes new pids with the same command line): keep sweeping
# until two scans in a row find nothing, for up to 10 s, then kill what is
# left.
quiet=0 rounds=0
while [ "$quiet" -lt 2 ] && [ "$rounds" -lt 50 ]; do
    pids="$(unrecorded)"
    if [ -z "$pids" ]; then
        quiet=$((quiet + 1))
    else
        quiet=0
        for pid in $pids; do
            kill -TERM "$pid" 2>/dev/null && echo "sweep: stopped pid $pid (it had no pid file yet)"
        done
    fi
    rounds=$((rounds + 1))
    sleep 0.2
done
for pid in $(unrecorded); do
    kill -KILL "$pid" 2>/dev/null || true
done

if [ -f "$run_dir/containers" ]; then
    while read -r name; do
        [ -n "$name" ] || continue
        if docker rm -f "$name" >/dev/null 2>&1; then
            echo "sweep: removed container $name"
        fi
    done <"$run_dir/containers"
    mv -f "$run_dir/containers" "$run_dir/containers.removed"
fi
echo "sweep: $run_dir is clean"
