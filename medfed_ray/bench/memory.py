"""Peak memory of a process tree: the driver and every Ray process it started.

Resident set sizes double-count the shared libraries every TensorFlow process
maps; proportional set size (PSS) splits each shared page among the
processes that map it, so the sum over a tree is what the tree really costs.
Linux only (``/proc/<pid>/smaps_rollup``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def descendants(root: int) -> list[int]:
    """Process ids of ``root`` and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])

    found, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        frontier.extend(pid for pid in children if pid not in found)
        found.update(children)
    return sorted(found)


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process in bytes (0 if it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """Samples the summed PSS of a process tree in a thread until stopped.

    Use as a context manager; ``peak_bytes`` and ``peak_processes`` hold the
    largest total seen and the number of processes at that moment.
    """

    def __init__(self, root: int | None = None, interval_s: float = 0.25):
        self.root = root or os.getpid()
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def sample_once(self) -> None:
        """Take one sample now."""
        pids = descendants(self.root)
        total = sum(pss_bytes(pid) for pid in pids)
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len(pids)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.sample_once()
            self._stop.wait(self.interval_s)
