"""Shared plumbing of Apollo's stand-in services (marathon.py, zookeeper.py).

The local cloud (terraform/local) starts these instead of virtual machines.
Each service binds its port *before* it detaches, so when the command that
started it returns, the port already listens and the pid file exists:
terraform's local-exec provisioner can start it and move on, without
sleeping or polling.

Detaching is the classic double fork: the service leaves terraform's process
group and session, its stdin/stdout/stderr are a log file (never terraform's
pipes, which would keep terraform waiting), and its pid file is written by the
service itself, atomically. SIGTERM stops it cleanly.
"""

import ctypes
import os
import signal
import sys
import time


def set_process_name(name):
    """Sets the kernel's name of this process (what `ps -C NAME` and
    /proc/PID/status show), so checks can look for `marathon` rather than
    `python3`. Best effort: only on Linux."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_name = 15
        libc.prctl(pr_set_name, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


def write_pidfile(path):
    """Writes this process's pid to `path` atomically (temp file + rename)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % os.getpid())
    os.replace(tmp, path)


def detach(pidfile, logfile, wait_seconds=10.0):
    """Double-forks into the background. Returns in the detached service
    process; the original process waits until the service has written its
    pid file and then exits 0 (1 if the pid file never appears)."""
    if os.path.exists(pidfile):
        os.remove(pidfile)
    first = os.fork()
    if first > 0:
        os.waitpid(first, 0)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if os.path.exists(pidfile):
                os._exit(0)
            time.sleep(0.02)
        sys.stderr.write("service did not start: no pid file %s\n" % pidfile)
        os._exit(1)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    # The service: no controlling terminal, its own session, output to a log.
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDONLY)
    log = os.open(logfile, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    write_pidfile(pidfile)


def stop_on_sigterm():
    """SIGTERM (what the destroy provisioner sends) ends the service through
    SystemExit, so `finally` blocks run."""

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def log(name, message):
    """One timestamped line in the service's log."""
    print("%s %s: %s" % (time.strftime("%Y-%m-%dT%H:%M:%S"), name, message), flush=True)


def add_common_arguments(parser):
    """The arguments every stand-in takes."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--pidfile", help="write the pid here")
    parser.add_argument("--log", help="log file (with --daemon)")
    parser.add_argument("--daemon", action="store_true", help="detach once listening")
    parser.add_argument("--config-dir", help="read configuration written by ansible from here")
