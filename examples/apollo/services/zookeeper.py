#!/usr/bin/env python3
"""A ZooKeeper stand-in for Apollo's local cloud.

Listens on a TCP port and answers ZooKeeper's four-letter admin commands the
way a real server does (one command per connection, then close):

    ruok -> imok
    srvr -> "Zookeeper version: ...", "Mode: leader|follower", ...
    stat -> srvr plus a client list
    mntr -> zk_version, zk_server_state, ... (tab separated)

The server id (`--myid`) decides the mode: 1 is the leader. When ansible has
written `<config-dir>/zookeeper/zoo.cfg`, its `server.N` lines are reported
as the ensemble size.

    python3 zookeeper.py --port 2181 --myid 1 [--config-dir DIR] [--daemon --pidfile P --log L]
"""

import argparse
import os
import socketserver
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402

VERSION = "3.4.6-standin, built on 01/01/2015 00:00 GMT"


def ensemble_size(config_dir):
    """Number of `server.N=` lines in zoo.cfg, or 1 when not configured."""
    if not config_dir:
        return 1
    try:
        with open(os.path.join(config_dir, "zookeeper", "zoo.cfg"), encoding="utf-8") as f:
            return max(1, sum(1 for line in f if line.startswith("server.")))
    except OSError:
        return 1


def make_handler(args):
    mode = "leader" if args.myid == 1 else "follower"

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(5)
            try:
                word = self.request.recv(4).decode("ascii", "replace")
            except OSError:
                return
            servers = ensemble_size(args.config_dir)
            if word == "ruok":
                reply = "imok"
            elif word in ("srvr", "stat"):
                reply = (
                    "Zookeeper version: %s\nLatency min/avg/max: 0/0/0\nReceived: 1\nSent: 1\n"
                    "Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: %s\nNode count: 4\n"
                    % (VERSION, mode)
                )
                if word == "stat":
                    reply = "Clients:\n /%s:%d[0](queued=0,recved=1,sent=0)\n\n" % self.client_address + reply
            elif word == "mntr":
                reply = (
                    "zk_version\t%s\nzk_server_state\t%s\nzk_quorum_size\t%d\nzk_myid\t%d\n"
                    % (VERSION, mode, servers, args.myid)
                )
            else:
                reply = ""
            try:
                self.request.sendall(reply.encode())
            except OSError:
                pass

    return Handler


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    standin.add_common_arguments(parser)
    parser.add_argument("--myid", type=int, default=1, help="this server's id (1 = leader)")
    args = parser.parse_args()

    server = Server((args.host, args.port), make_handler(args))
    if args.daemon:
        standin.detach(args.pidfile, args.log or os.devnull)
    elif args.pidfile:
        standin.write_pidfile(args.pidfile)
    standin.set_process_name("zookeeper")
    standin.stop_on_sigterm()
    standin.log("zookeeper", "myid %d listening on %s:%d" % (args.myid, args.host, args.port))
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        standin.log("zookeeper", "stopped")


if __name__ == "__main__":
    main()
