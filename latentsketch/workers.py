"""What every background worker of the live loop does first: step back for the render loop.

The camera encoder, the drop encoder and the palette decoder run in threads beside the loop.
On a machine whose cores are all busy they share a core with it, and at the same priority the
scheduler gives them whole time slices while a frame waits: measured with the camera on
(``benchmarks/bench_camera.py``, 2 cores, load ~1.5), 12-16 of ~170 frames went over 33 ms at
the loop's priority, 0-1 with the worker 10 nice levels lower. Its own work takes longer
(encode median 15 -> 47 ms), which a source at 10 pictures a second does not notice.
"""

from __future__ import annotations

import os
import threading

NICE = 10  # how many nice levels below the process a worker thread runs


def lower_priority(levels: int = NICE) -> None:
    """Lower the calling thread's CPU priority by ``levels`` nice steps where the OS has one per
    thread (Linux: a thread is a task with its own nice value); elsewhere, or when not allowed,
    nothing. Call it first thing in the thread's target."""
    try:
        own = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, own + levels))
    except (AttributeError, OSError):
        pass
