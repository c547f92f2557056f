"""Background workers step back for the render loop: their threads run at a lower priority."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from latentsketch.workers import NICE, lower_priority


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_a_worker_thread_runs_nicer_than_the_loop_and_the_loop_keeps_its_priority() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    seen: list[int] = []

    def work() -> None:
        lower_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    t = threading.Thread(target=work)
    t.start()
    t.join(5)
    assert seen == [min(19, own + NICE)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own   # the loop's
