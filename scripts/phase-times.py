#!/usr/bin/env python3
"""Per-phase wall times of the Apollo example's pipelines, from the runner's
JSON-lines event logs: image build (packer), apply, converge, tests,
destroy. A phase's time is the span from its first step's start to its last
step's end over all targets (targets run in parallel).

    phase-times.py BUILD.jsonl DEPLOY.jsonl [BASE_IMAGE_SECONDS]
"""

import json
import sys
from datetime import datetime

PHASES = [
    ("image build", lambda s: s in ("build the apollo/node image",)),
    ("apply", lambda s: s == "terraform apply"),
    ("converge", lambda s: s.startswith("converge")),
    ("tests", lambda s: "checks" in s or "serverspec" in s or s.startswith("machine APIs") or s.startswith("docker bench")),
    ("destroy", lambda s: s == "terraform destroy" or s.startswith("teardown:")),
]


def parse(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def spans(paths):
    started, finished = {}, {}
    for path in paths:
        try:
            lines = open(path, encoding="utf-8").read().splitlines()
        except OSError as e:
            sys.stderr.write("phase-times: %s\n" % e)
            continue
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") not in ("step_started", "step_finished") or e.get("status") == "skipped":
                continue
            for phase, matches in PHASES:
                if matches(e.get("step", "")):
                    t = parse(e["time"])
                    if e["event"] == "step_started":
                        started[phase] = min(started.get(phase, t), t)
                    else:
                        finished[phase] = max(finished.get(phase, t), t)
    return started, finished


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    started, finished = spans(sys.argv[1:3])
    if len(sys.argv) > 3:
        print("  %-22s %6ss" % ("base image (debootstrap)", sys.argv[3]))
    for phase, _ in PHASES:
        if phase in started and phase in finished:
            print("  %-22s %6.1fs" % (phase, (finished[phase] - started[phase]).total_seconds()))
        else:
            print("  %-22s %7s" % (phase, "-"))


if __name__ == "__main__":
    main()
