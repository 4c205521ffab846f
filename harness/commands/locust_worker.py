"""``chaos-harness locust-worker --master HOST:PORT``: a Locust worker for a distributed run.

Start one (or several) on each load machine; the harness's run (an experiment with
``load.generator: locust`` and ``load.remote_workers: N``) is the master and waits for them. The worker gets its pacing and question
mix from the master and sends every request it made back to the master, which puts them on its
own clock (see ``harness.load.locust_remote``). The front door's API key is read from this
machine's environment (``--api-key-env``), never sent over Locust's channel. Needs the harness
installed with the ``locust`` extra. Exit code: Locust's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

from harness.errors import ConfigError

__all__ = ["register", "run", "worker_command"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "locust-worker", help="run a Locust worker for a distributed load run",
        description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--master", required=True, metavar="HOST:PORT",
                   help="the master's address (the harness prints it when it waits for workers)")
    p.add_argument("--api-key-env", default="CHAOS_API_KEY", metavar="VAR",
                   help="environment variable holding the front door's API key "
                        "(default CHAOS_API_KEY; unset: no key sent)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="request timeout in seconds; match the experiment's load.timeout "
                        "(default 10)")
    p.set_defaults(func=run)


def worker_command(master: str) -> list[str]:
    """The Locust command line of a remote worker for ``HOST:PORT``."""
    from harness.load.locust_driver import LOCUSTFILE

    host, sep, port = master.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("the master is HOST:PORT", field="--master", value=master)
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", host.strip("[]"), "--master-port", port, "--loglevel", "WARNING"]


def run(args: argparse.Namespace) -> int:
    cmd = worker_command(args.master)
    env = {**os.environ, "CH_LOCUST_REMOTE": "1", "CH_LOCUST_TIMEOUT_S": repr(args.timeout),
           "CH_LOCUST_API_KEY": os.environ.get(args.api_key_env, ""), "PYTHONUNBUFFERED": "1"}
    print(f"locust worker -> master {args.master}", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 130
