"""Load: an open-loop generator and a Locust driver, both writing every request to the timeline.

See :mod:`harness.load.generator` for the open-loop design (coordinated omission, lateness,
connection cap) and :mod:`harness.load.locust_driver` for Locust.
"""

from harness.load.generator import OpenLoopGenerator, default_max_connections
from harness.load.locust_driver import LocustDriver
from harness.load.mix import REPEAT_MODES, RequestMix
from harness.load.report import (
    LATENESS_MAX_BOUND_MS,
    LATENESS_P99_BOUND_MS,
    GeneratorReport,
    LiveStats,
)
from harness.load.schedule import ARRIVALS, Schedule

__all__ = [
    "ARRIVALS",
    "LATENESS_MAX_BOUND_MS",
    "LATENESS_P99_BOUND_MS",
    "REPEAT_MODES",
    "GeneratorReport",
    "LiveStats",
    "LocustDriver",
    "OpenLoopGenerator",
    "RequestMix",
    "Schedule",
    "default_max_connections",
]
