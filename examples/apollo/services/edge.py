"""Apollo's edge (HAProxy) stand-in for the machines cloud: an HTTP server
that serves the files the converge writes (roles/haproxy: the health page)
from --www, on the load balancer machine.

    python3 edge.py --host 0.0.0.0 --port 80 --www /etc/apollo/haproxy [--daemon --pidfile P --log L]
"""

import argparse
import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import standin


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class Handler(SimpleHTTPRequestHandler):
    server_version = "haproxy-standin/1.0"

    def log_message(self, fmt, *fmt_args):
        standin.log("haproxy", "%s %s" % (self.address_string(), fmt % fmt_args))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    standin.add_common_arguments(parser)
    parser.add_argument("--www", required=True, help="directory to serve")
    args = parser.parse_args()

    www = os.path.abspath(args.www)
    server = Server((args.host, args.port), functools.partial(Handler, directory=www))
    if args.daemon:
        standin.detach(args.pidfile, args.log or os.devnull)
    elif args.pidfile:
        standin.write_pidfile(args.pidfile)
    standin.set_process_name("haproxy")
    standin.stop_on_sigterm()
    standin.log("haproxy", "listening on %s:%d, serving %s" % (args.host, args.port, www))
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        standin.log("haproxy", "stopped")


if __name__ == "__main__":
    main()
