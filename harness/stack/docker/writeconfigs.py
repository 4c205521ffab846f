"""``python -m harness.stack.docker.writeconfigs --out DIR [--set KNOB=VALUE ...]``

Writes the docker substrate's config files for the given knobs. ``docker/config/`` in the
repository holds the default-knob files that ``docker-compose.ha.yml`` mounts when it is run by
hand; ``tests/unit/test_docker_configs.py`` fails when they are stale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.knobs import parse_assignment, resolve_knobs
from harness.stack.docker.configs import write_config_dir

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the docker substrate's config files "
                                                 "for the default knobs (or --set overrides).")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE")
    args = parser.parse_args(argv)
    overrides = dict(parse_assignment(s) for s in args.set)
    for p in write_config_dir(args.out, resolve_knobs(overrides)):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
