"""The test suite's clock. `make test-dates` runs the suite with the clock moved: CPE_TEST_CLOCK is
an ISO 8601 instant (2027-01-02T09:00:00+08:00) from which this process's clock runs on
(time-machine: time.time, datetime.now; monotonic clocks, sleeps and timeouts stay real). The root
conftest calls `start()` when pytest configures itself. Subprocesses that read the clock (the AIS
simulator) are started on the same moved clock by their launcher (`moved_clock_argv`).
PostgreSQL keeps its own clock: the platform never reads it (times come from the application)."""

import os
import sys
import time
from datetime import datetime

CLOCK = os.environ.get("CPE_TEST_CLOCK", "")
_OFFSET = [0.0]  # seconds the moved clock runs ahead of the real one


def start():
    """Move this process's clock to CPE_TEST_CLOCK (nothing when it is not set)."""
    if CLOCK:
        import time_machine

        _OFFSET[0] = datetime.fromisoformat(CLOCK).timestamp() - time.time()
        time_machine.travel(datetime.fromisoformat(CLOCK), tick=True).start()


def moved_clock_argv(module: str) -> list[str]:
    """The argv that runs `python -m module` on this process's clock: the real command when the
    clock is real, else one that moves the child's clock by the same offset (an offset, not an
    instant: the child's start-up time must not put its clock behind ours)."""
    if not CLOCK:
        return [sys.executable, "-m", module]
    boot = (
        "import runpy, sys, time, time_machine; "
        "time_machine.travel(time.time() + float(sys.argv.pop(1)), tick=True).start(); "
        f"sys.argv[0] = {module!r}; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", boot, repr(_OFFSET[0])]
