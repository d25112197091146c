"""Processes seen through /proc (no psutil): descendants of a pid, and whether a
process seen earlier is still alive (pid and start time, so reuse is not confused)."""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    state: str
    start: int  # clock ticks since boot
    command: str


def read_proc(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # the command name sits in parentheses and may hold spaces
    rest = stat[stat.rindex(")") + 2 :].split()
    command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return Proc(
        pid=pid,
        ppid=int(rest[1]),
        pgid=int(rest[2]),
        state=rest[0],
        start=int(rest[19]),
        command=command,
    )


def all_procs() -> list[Proc]:
    procs = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = read_proc(int(entry))
            if proc is not None:
                procs.append(proc)
    return procs


def descendants(root: int) -> list[Proc]:
    """Every live process below ``root`` (children, grandchildren, ...)."""
    by_parent: dict[int, list[Proc]] = {}
    for proc in all_procs():
        by_parent.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    todo = [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def still_alive(seen: Proc) -> bool:
    """True if the process seen earlier still runs (a zombie counts as gone)."""
    now = read_proc(seen.pid)
    return now is not None and now.start == seen.start and now.state != "Z"


def kill_groups(procs: list[Proc]) -> None:
    """Last-resort clean-up after a failed test: SIGKILL the groups of these processes."""
    for pgid in {p.pgid for p in procs if still_alive(p)} - {os.getpgrp()}:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
