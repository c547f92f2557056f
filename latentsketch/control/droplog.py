"""Count what an input drops and say so at a bounded rate.

A buggy or hostile sender can produce thousands of bad messages a second. Each one is counted (by
reason, for the HUD and tests) and the first in each interval is logged with its details, so the log
names the culprit without flooding the terminal or slowing the loop.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable


class DropLog:
    """Counter of ignored inputs plus a rate-limited warning line.

    Not shared between threads: each thread that drops things owns its own instance.
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.interval = interval
        self.total = 0
        self.by_reason: Counter[str] = Counter()
        self.logged = 0
        self._clock = clock
        self._last = -float("inf")
        self._suppressed = 0

    def drop(self, reason: str, fmt: str, *args: object) -> None:
        """Count one ignored input; log it unless a line went out less than ``interval`` ago.

        ``fmt % args`` is only formatted when the line is actually written, so a flood of drops
        costs a counter increment each.
        """
        self.total += 1
        self.by_reason[reason] += 1
        now = self._clock()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        more = ""
        if self._suppressed:
            more = f" ({self._suppressed} more ignored since the last report)"
        self.logger.warning("%s: ignored %s%s", self.what, fmt % args if args else fmt, more)
        self.logged += 1
        self._last = now
        self._suppressed = 0
