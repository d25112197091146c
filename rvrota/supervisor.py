"""Child processes of the demo, each in a process group of its own, stopped together."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class ChildExited(RuntimeError):
    """A child process exited while it should have been running."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Children:
    """Child processes, each in a process group of its own, stopped together."""

    children: list[Child] = field(default_factory=list)

    def start(self, name: str, args: Sequence[str], env: dict[str, str], log_path: Path) -> Child:
        with log_path.open("ab") as out:
            process = subprocess.Popen(
                list(args),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        log.info("started %s (pid %d): %s", name, process.pid, " ".join(args))
        return child

    def check(self) -> None:
        """Raise when a child has exited (with the end of its log)."""
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise ChildExited(
                    f"{child.name} exited with code {code}; end of {child.log_path}:\n"
                    + tail(child.log_path)
                )

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every child's process group, wait, then SIGKILL what is left."""
        for child in reversed(self.children):
            _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM; killing it", child.name)
        for child in self.children:
            # the whole group: also grandchildren (uvicorn workers, solver pools)
            _signal_group(child.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(5)
        self.children.clear()


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the demo dies, even by SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
