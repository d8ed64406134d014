# stepwise_events: an ansible callback plugin shipped inside the stepwise
# step-ansible crate and written to a temporary directory for each run.
#
# It writes one JSON object per line to the file named by the environment
# variable STEPWISE_ANSIBLE_EVENTS: one per task result and one with the
# PLAY RECAP stats. The normal stdout callback keeps printing for people;
# this file is what the step reads, so it never parses colored text.
# ansible-core 2.19 ships no JSON callback of its own (ansible.posix.json
# lives in a collection that may not be installed).
from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: stepwise_events
    type: aggregate
    short_description: write task results and recap stats as JSON lines for stepwise
    description:
      - Writes one JSON object per task result and one with the recap stats
        to the file named by the STEPWISE_ANSIBLE_EVENTS environment variable.
    requirements:
      - enabled in callbacks_enabled
"""

# Failure messages are cut to this many characters.
MAX_MSG = 2000


def _field(obj, public, private):
    # ansible-core 2.19 has `result.task`; older versions only `result._task`.
    value = getattr(obj, public, None)
    if value is None:
        value = getattr(obj, private, None)
    return value


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "stepwise_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get("STEPWISE_ANSIBLE_EVENTS")
        self._out = open(path, "a", encoding="utf-8") if path else None

    def _write(self, record):
        if self._out is None:
            return
        self._out.write(json.dumps(record, default=str) + "\n")
        self._out.flush()

    def _result(self, status, result, ignore_errors=False):
        task = _field(result, "task", "_task")
        host = _field(result, "host", "_host")
        data = _field(result, "result", "_result") or {}
        record = {
            "event": "result",
            "status": status,
            "host": host.get_name() if host is not None else "",
            "task": task.get_name() if task is not None else "",
            "action": getattr(task, "action", None),
            "path": task.get_path() if task is not None else None,
            "changed": bool(data.get("changed", False)),
            "ignore_errors": bool(ignore_errors),
        }
        # Never copy the message of a no_log task.
        no_log = bool(getattr(task, "no_log", False)) or "censored" in data
        if status in ("failed", "unreachable") and not no_log:
            msg = data.get("msg")
            if not msg and data.get("stderr"):
                msg = data.get("stderr")
            if msg:
                record["msg"] = str(msg)[:MAX_MSG]
        self._write(record)

    def v2_runner_on_ok(self, result, *args, **kwargs):
        self._result("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False, *args, **kwargs):
        self._result("failed", result, ignore_errors)

    def v2_runner_on_skipped(self, result, *args, **kwargs):
        self._result("skipped", result)

    def v2_runner_on_unreachable(self, result, *args, **kwargs):
        self._result("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed.keys()):
            hosts[host] = stats.summarize(host)
        self._write({"event": "stats", "hosts": hosts})
