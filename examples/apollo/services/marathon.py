#!/usr/bin/env python3
"""A Marathon stand-in for Apollo's local cloud.

Serves the parts of Marathon's REST API that Apollo's tests read:

    GET /ping            -> pong
    GET /v2/info         -> marathon-like JSON (name, version, leader,
                            marathon_config, zookeeper_config, http_config)
    GET /v2/apps         -> {"apps": []}
    GET /v2/deployments  -> []

The ZooKeeper peers (`--zk host:port,...`) come from terraform. What the
ansible converge configures is read from `<config-dir>/marathon/marathon.json`
on every request (mesos_user, executor, hostname, ...): before the converge
those fields are null, after it they hold the configured values — so a host
check of /v2/info proves that the converge reached the running service.

`elected` is true and `leader` is set only while a quorum of the ZooKeeper
peers answers `ruok` with `imok`, as a real Marathon needs its ZooKeeper.

    python3 marathon.py --port 8080 --zk 127.0.0.1:2181,... [--config-dir DIR]
                        [--daemon --pidfile P --log L]
"""

import argparse
import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402

VERSION = "0.8.1"
CONFIGURABLE = ("mesos_user", "executor", "hostname", "mesos_role", "task_launch_timeout")


def zk_ok(peer, timeout=0.5):
    """Whether the ZooKeeper at host:port answers ruok with imok."""
    host, _, port = peer.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(b"ruok")
            return s.recv(4) == b"imok"
    except (OSError, ValueError):
        return False


def configured(config_dir):
    """What ansible wrote to marathon.json, or {} before the converge."""
    if not config_dir:
        return {}
    try:
        with open(os.path.join(config_dir, "marathon", "marathon.json"), encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def info(args):
    peers = [p for p in args.zk.split(",") if p]
    up = sum(1 for p in peers if zk_ok(p))
    elected = bool(peers) and up > len(peers) // 2
    conf = configured(args.config_dir)
    hostname = conf.get("hostname") or args.host
    marathon_config = {key: conf.get(key) for key in CONFIGURABLE}
    marathon_config.update(
        {
            "master": "zk://%s/mesos" % ",".join(peers),
            "hostname": hostname,
            "http_port": args.port,
            "checkpoint": True,
            "failover_timeout": 604800,
            "local_port_min": 10000,
            "local_port_max": 20000,
        }
    )
    return {
        "name": "marathon",
        "version": VERSION,
        "elected": elected,
        "leader": "%s:%d" % (hostname, args.port) if elected else None,
        "frameworkId": "20150101-000000-0000000000-%d-0000" % args.port,
        "marathon_config": marathon_config,
        "zookeeper_config": {
            "zk": "zk://%s/marathon" % ",".join(peers),
            "zk_timeout": 10000,
            "zk_session_timeout": 1800000,
            "zk_max_versions": 25,
            "zk_hosts": ",".join(peers),
            "zk_path": "/marathon",
            "zk_quorum_up": up,
        },
        "http_config": {"http_port": args.port, "assets_path": None},
        "event_subscriber": None,
    }


def make_handler(args):
    class Handler(BaseHTTPRequestHandler):
        server_version = "marathon-standin/" + VERSION

        def reply(self, status, body, content_type="application/json; charset=utf-8"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            if path == "/ping":
                self.reply(200, b"pong\n", "text/plain")
            elif path == "/v2/info":
                self.reply(200, info(args))
            elif path == "/v2/apps":
                self.reply(200, {"apps": []})
            elif path == "/v2/deployments":
                self.reply(200, [])
            else:
                self.reply(404, {"message": "not found: %s" % path})

        def log_message(self, fmt, *fmt_args):
            standin.log("marathon", "%s %s" % (self.address_string(), fmt % fmt_args))

    return Handler


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    standin.add_common_arguments(parser)
    parser.add_argument("--zk", default="", help="ZooKeeper peers, host:port,host:port")
    args = parser.parse_args()

    server = Server((args.host, args.port), make_handler(args))
    if args.daemon:
        standin.detach(args.pidfile, args.log or os.devnull)
    elif args.pidfile:
        standin.write_pidfile(args.pidfile)
    standin.set_process_name("marathon")
    standin.stop_on_sigterm()
    standin.log("marathon", "listening on %s:%d, zk %s" % (args.host, args.port, args.zk))
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        standin.log("marathon", "stopped")


if __name__ == "__main__":
    main()
