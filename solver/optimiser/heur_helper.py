"""A second ruin-and-recreate search in a helper process, on the machine's other core.

When the heuristic alone has the time (no column generation, not a repair) and the
caller allows two workers, :class:`HelperSearch` starts ``python -m
solver.optimiser.heur_helper`` with the compiled instance, the constructed plan, its
own seed and the same deadline; both processes search, and the parent keeps the
better plan. The wall time is the parent's own (the helper stops at the deadline and
is killed if it has not answered by then), so ``--time-limit`` holds as before.

The job goes to the helper's stdin from a thread (the parent starts searching at once),
the answer comes back on its stdout; its stderr goes to a temporary file that is
logged should the helper fail. Any failure (the helper cannot start, crashes, answers
late or with a plan of the wrong shape) leaves the parent's own plan: the helper can
only add. A parent killed outright leaves a helper that still stops at its deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from solver.optimiser.opt_instance import Instance, IntArray

log = logging.getLogger(__name__)

# the package root, first on the helper's path: it runs the code the parent runs
_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class HelperJob:
    inst: Instance
    start: IntArray  # the plan to start from: one site index (or -1) per cell
    seed: int
    deadline: float  # time.monotonic() (system-wide on Linux: the same clock as the parent's)


@dataclass(frozen=True)
class HelperAnswer:
    best: IntArray  # the best plan found: one site index (or -1) per cell
    objective: float
    iterations: int
    peak_rss_mb: float  # the helper process's own peak resident set


class HelperSearch:
    """A running helper search; :meth:`collect` returns its best plan or None."""

    def __init__(self, job: HelperJob) -> None:
        self.shape = job.start.shape
        self._answer: bytes = b""
        # closed in close(), which collect() always reaches
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        read_end, write_end = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "solver.optimiser.heur_helper"],
                stdin=read_end,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
            )
        except BaseException:
            os.close(write_end)
            self._stderr.close()
            raise
        finally:
            os.close(read_end)
        data = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        self._writer = threading.Thread(
            target=_write_all, args=(write_end, data), name="rvrota-helper-in", daemon=True
        )
        self._reader = threading.Thread(target=self._read, name="rvrota-helper-out", daemon=True)
        self._writer.start()
        self._reader.start()

    def _read(self) -> None:
        stdout = self.proc.stdout
        if stdout is not None:
            self._answer = stdout.read()

    def collect(self, until: float) -> HelperAnswer | None:
        """The helper's answer if it comes by ``until`` (monotonic); the helper is then ended."""
        try:
            self._reader.join(max(0.0, until - time.monotonic()))
            if self._reader.is_alive():
                log.warning("the helper search did not answer in time; its plan is not used")
                return None
            return self._decode(self._answer)
        finally:
            self.close()

    def _decode(self, data: bytes) -> HelperAnswer | None:
        try:
            answer = pickle.loads(data) if data else None
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
            log.warning("the helper search's answer is unreadable (%s)", exc)
            answer = None
        if isinstance(answer, HelperAnswer) and answer.best.shape == self.shape:
            return answer
        if isinstance(answer, str):
            log.warning("the helper search failed:\n%s", answer)
        elif answer is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(1.0)  # for its exit code (close() ends it in any case)
            self._stderr.seek(0)
            tail = self._stderr.read()[-2000:].decode("utf-8", "replace")
            code = self.proc.returncode
            log.warning("the helper search ended (code %s) without a plan: %s", code, tail)
        else:
            log.warning("the helper search answered with a plan of the wrong shape")
        return None

    def close(self) -> None:
        """End the helper (whatever it is doing) and release its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
            log.warning("the helper search (pid %d) did not end", self.proc.pid)
        self._reader.join(1.0)
        self._writer.join(1.0)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


def _write_all(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except OSError:  # the helper ended before reading its job: collect() says so
        pass


def run_job(job: HelperJob) -> HelperAnswer:
    """The helper's work: search from ``job.start`` with ``job.seed`` until ``job.deadline``."""
    from solver.optimiser.heur_search import Heuristic

    heur = Heuristic(job.inst, job.seed)
    heur.start_from(heur.state.routes(job.start))
    heur.search(job.deadline)
    best = np.asarray(heur.best, dtype=np.int64)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return HelperAnswer(best, float(heur.best_objective), heur.iterations, rss)


def main() -> int:
    """Read a pickled :class:`HelperJob` on stdin, write a pickled :class:`HelperAnswer`."""
    data = sys.stdin.buffer.read()
    try:
        answer: HelperAnswer | str = run_job(pickle.loads(data))
    except Exception:  # noqa: BLE001 - any failure goes back to the parent, which logs it
        import traceback

        answer = traceback.format_exc()
    try:
        sys.stdout.buffer.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # the parent is gone or gave up: nothing to tell
        return 1
    # the pipe's end closed now (not at interpreter exit): the parent reads the answer at once
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    # run as the module's own name (not ``__main__``) so that its answer unpickles
    from solver.optimiser.heur_helper import main as _main

    sys.exit(_main())
