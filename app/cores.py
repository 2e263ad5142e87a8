"""The CPU probe: how many threads to use now, given what else keeps this machine's cores busy. Used by the
local embedder (index/embedders.py) and the embedded language model (app/llm/llamacpp.py)."""
from __future__ import annotations

import os
import time
from pathlib import Path


def free_cores(want: int) -> int:
    """How many of `want` threads to use now: fewer when other processes already keep the cores busy.

    Both llama.cpp and torch split each operation across their threads and wait at a barrier; on an
    oversubscribed machine one preempted thread stalls all the others (measured on 2 busy cores: llama.cpp
    generated 5 tok/s with 2 threads, 28 tok/s with 1). Reads the instantaneous run queue (/proc/loadavg) a few
    times, minus this process's own running threads (ingestion writes one file while it embeds the next: that
    is planned work, not a neighbour); CITEQA_ADAPTIVE_THREADS=0 turns this off.
    """
    if want <= 1 or os.environ.get("CITEQA_ADAPTIVE_THREADS", "1") == "0":
        return max(1, want)
    now = time.monotonic()
    last = _FREE_CORES.get(want)
    if last and now - last[0] < 0.5:  # the load does not change that fast; sampling costs ~5 ms
        return last[1]
    cores = os.cpu_count() or want
    try:
        runs = []
        for _ in range(5):
            with open("/proc/loadavg") as f:
                running = int(f.read().split()[3].split("/")[0])
            # only this thread runs (the usual case): skip the scan of this process's threads (~2 ms with 40)
            runs.append(running - (_own_running() if running > 1 else 1))
            time.sleep(0.001)
        others = sorted(runs)[len(runs) // 2]
    except (OSError, ValueError, IndexError):
        return want
    n = max(1, min(want, cores - others))
    _FREE_CORES[want] = (now, n)
    return n


_FREE_CORES: dict[int, tuple[float, int]] = {}


def _own_running() -> int:
    """Threads of this process that are running now (this one included)."""
    n = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the thread ended
            continue
        n += text[text.rindex(")") + 2 : text.rindex(")") + 3] == "R"
    return max(1, n)
