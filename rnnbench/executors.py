"""Executors: where cells run. Each takes cells and reports each cell's result as it
arrives; the CLI writes results, so every executor shares one result store.

- ``local``: reused worker processes on this machine, one per visible GPU or ``--workers``
  CPU workers, each cell under a time limit (TorchBench-style isolation);
- ``ray``: each cell a Ray task (``num_gpus=1`` where the cluster has GPUs);
- ``inprocess``: one after another in this process, for debugging and tests.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from dataclasses import asdict
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Protocol

from rnnbench.runner import Cell

OnResult = Callable[[Cell, dict], None]
OnStart = Callable[[Cell], None]


class Executor(Protocol):
    """What the run asks of an executor (rnnbench.suite); each one here provides it."""

    def describe(self) -> str:
        """One line for the plan: what runs the cells."""

    def run(self, cells: list[Cell], on_result: OnResult, on_start: OnStart) -> None:
        """Run the cells, reporting each result as it arrives; return when all are done."""

    def drain(self) -> None:
        """Start no more cells; the running ones finish (a full disk, say)."""


class ExecutorUnavailable(Exception):
    """The executor cannot start (e.g. Ray not installed); the message says what to do."""


def visible_gpus() -> list[str]:
    """GPU ids this process may use, found without importing torch."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    proc = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(proc.iterdir())))] if proc.is_dir() else []


MAX_DEFAULT_CPU_WORKERS = 8  # each worker holds its task's data; beyond this, threads help more


def worker_layout(workers: int | None, gpus: list[str], cores: int | None = None) -> list[dict]:
    """One worker per visible GPU (pinned with CUDA_VISIBLE_DEVICES), else ``workers`` CPU
    workers, by default one per core up to ``MAX_DEFAULT_CPU_WORKERS``: the small recurrent
    nets of a cell use one core better than two (two single-threaded workers finish small
    cells 1.9x faster than one with two threads). Torch threads are divided between
    workers, because two processes with two threads each on two cores run ~10x slower."""
    cores = cores or os.cpu_count() or 1
    if gpus:
        n = len(gpus) if not workers else min(workers, len(gpus))
        threads = max(1, cores // n)
        return [{"gpu": g, "accelerator": "gpu", "threads": threads} for g in gpus[:n]]
    n = max(1, workers or min(cores, MAX_DEFAULT_CPU_WORKERS))
    threads = max(1, cores // n)
    return [{"gpu": None, "accelerator": "cpu", "threads": threads} for _ in range(n)]


class _Slot:
    def __init__(self, spec: dict, plugin_args: list[str]):
        self.spec, self.plugin_args = spec, plugin_args
        self.proc: multiprocessing.Process | None = None
        self.conn = None
        self.ready = False
        self.cell: Cell | None = None
        self.deadline = 0.0
        self.failed_starts = 0

    def start(self) -> None:
        from rnnbench.worker import worker_main

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        # the child inherits the environment at start: pin it to its GPU (or to none)
        os.environ["CUDA_VISIBLE_DEVICES"] = self.spec["gpu"] if self.spec["gpu"] is not None else ""
        try:
            self.proc = ctx.Process(
                target=worker_main,
                daemon=True,
                args=(child, self.plugin_args, self.spec["threads"], self.spec["accelerator"], os.getpid()),
            )
            self.proc.start()
        finally:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
        child.close()
        self.conn, self.ready, self.cell = parent, False, None

    def kill(self) -> None:
        """End the worker and every process it started: it leads its own process group
        (rnnbench.worker.die_with), and a plugin's helper processes are in that group."""
        if self.proc is not None:
            if self.proc.pid is not None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass  # not yet its own group, or the group is gone
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None


def _stop_all(slots: list[_Slot], grace: float = 10.0) -> None:
    """Stop every worker at once: an idle one is asked to exit and given ``grace`` seconds
    (one deadline for all), a busy one is killed at once: its cell's result could no
    longer be recorded, and waiting for it would hold up the driver's exit."""
    asked = []
    for s in slots:
        if s.cell is None and s.conn is not None and s.proc is not None and s.proc.is_alive():
            try:
                s.conn.send(None)
                asked.append(s)
            except (OSError, ValueError):
                pass
    deadline = time.monotonic() + grace
    for s in asked:
        s.proc.join(max(0.0, deadline - time.monotonic()))
    for s in slots:
        s.kill()


class LocalExecutor:
    """A pool of reused worker processes on this machine, one cell per worker at a time."""

    name = "local"

    def __init__(
        self,
        plugin_args: list[str],
        workers: int | None = None,
        gpus: list[str] | None = None,
        fresh_worker: bool = False,
    ):
        self.layout = worker_layout(workers, visible_gpus() if gpus is None else gpus)
        self.plugin_args = plugin_args
        # a plugin that keeps global state (a class-level counter, a cache) would carry it
        # from one cell into the next in a reused worker
        self.fresh_worker = fresh_worker

    def describe(self) -> str:
        first = self.layout[0]
        kind = "GPU" if first["gpu"] is not None else "CPU"
        fresh = ", a fresh process per cell" if self.fresh_worker else ""
        return f"{len(self.layout)} {kind} worker(s), {first['threads']} torch thread(s) each{fresh}"

    def run(
        self,
        cells: list[Cell],
        on_result: Callable[[Cell, dict], None],
        on_start: Callable[[Cell], None] = lambda c: None,
    ) -> None:
        pending = deque(cells)
        self.draining = False
        slots = [_Slot(spec, self.plugin_args) for spec in self.layout[: max(1, len(cells))]]
        try:
            for s in slots:
                s.start()
            while (pending and not self.draining) or any(s.cell for s in slots):
                for s in slots:
                    if s.ready and s.cell is None and pending and not self.draining:
                        s.cell = pending.popleft()
                        s.deadline = time.monotonic() + s.cell.time_limit
                        on_start(s.cell)
                        s.conn.send(asdict(s.cell))
                live = [s for s in slots if s.conn is not None]
                timeout = min((s.deadline for s in slots if s.cell), default=time.monotonic() + 1) - time.monotonic()
                waitables = [s.conn for s in live] + [s.proc.sentinel for s in live]
                ready = wait(waitables, timeout=max(0.05, min(timeout, 5.0)))
                for s in live:
                    if s.conn in ready or s.proc.sentinel in ready:
                        self._receive(s, on_result)
                now = time.monotonic()
                for s in slots:
                    if s.cell and now > s.deadline:
                        cell, s.cell = s.cell, None
                        s.kill()
                        s.start()
                        on_result(cell, {"status": "failed", "reason": f"timeout after {cell.time_limit:.0f} s"})
        finally:
            _stop_all(slots)

    def drain(self) -> None:
        """Start no more cells; the running ones finish and report (e.g. the disk is full:
        new results could not be saved either)."""
        self.draining = True

    def _receive(self, s: _Slot, on_result: Callable[[Cell, dict], None]) -> None:
        msg = None
        try:
            if s.conn.poll():
                msg = s.conn.recv()
        except (EOFError, OSError):
            pass  # the worker is gone; its exit code says more below
        if msg is not None:
            if "ready" in msg:
                s.ready = True
            else:  # on_result's own errors are the driver's, never a dead worker's
                cell, s.cell = s.cell, None
                on_result(cell, msg)
                if self.fresh_worker:
                    s.kill()
                    s.start()
            return
        if s.proc is not None and not s.proc.is_alive():
            code = s.proc.exitcode
            cell, was_ready = s.cell, s.ready
            s.kill()
            if cell is not None:
                on_result(cell, {"status": "failed", "reason": f"worker process died (exit code {code})"})
            s.failed_starts = 0 if was_ready else s.failed_starts + 1
            if s.failed_starts >= 3:  # it dies before taking a cell: restarting will not help
                raise RuntimeError(
                    f"worker processes die at start-up (exit code {code}); run with --executor inprocess to see why"
                )
            s.start()


class InProcessExecutor:
    """Runs cells in this process, one after another: for debugging and for tests."""

    name = "inprocess"

    def __init__(self, plugin_args: list[str], accelerator: str = "cpu", reraise: bool = False):
        from rnnbench.worker import CellRunner

        # reraise: a cell's exception propagates (``rnnbench run --executor inprocess``, for
        # a debugger's post-mortem) instead of becoming a failed record
        self.runner = CellRunner(plugin_args, accelerator, reraise=reraise)

    def describe(self) -> str:
        return "in-process"

    def run(
        self,
        cells: list[Cell],
        on_result: Callable[[Cell, dict], None],
        on_start: Callable[[Cell], None] = lambda c: None,
    ) -> None:
        self.draining = False
        for cell in cells:
            if self.draining:
                break
            on_start(cell)
            on_result(cell, self.runner.run(asdict(cell)))

    def drain(self) -> None:
        """Start no more cells."""
        self.draining = True


_RAY_RUNNER = None


def _ray_run_cell(cell: dict, plugin_args: list[str], accelerator: str, threads: int) -> dict:
    """Body of the Ray task. Ray reuses its worker processes, so the runner (registry and
    prepared data) is kept per process, like a local worker's."""
    global _RAY_RUNNER
    import torch

    from rnnbench.worker import CellRunner

    torch.set_num_threads(threads)
    if _RAY_RUNNER is None or _RAY_RUNNER.plugin_args != plugin_args:
        # inside a cluster job Lightning must not mistake the cluster for SLURM
        _RAY_RUNNER = CellRunner(plugin_args, accelerator, cluster=True)
    return _RAY_RUNNER.run(cell)


class RayExecutor:
    """Each cell is a Ray task: ``num_gpus=1`` on a cluster with GPUs, else one CPU.

    ``address=None`` starts a local Ray instance; pass a cluster's address (``ray://...``
    or ``auto`` inside a Ray job) to spread cells over its nodes. Results come back to
    this driver, which writes them into the same result store as the local executor.
    """

    name = "ray"

    def __init__(self, plugin_args: list[str], address: str | None = None, workers: int | None = None):
        try:
            import ray
        except ImportError:
            raise ExecutorUnavailable("the ray executor needs Ray: pip install 'rnnbench[ray]'") from None
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        self.ray, self.plugin_args = ray, plugin_args
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=workers or os.cpu_count() or 1, **kwargs)
        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        self.cpus = int(resources.get("CPU", 1))
        self.slots = self.gpus or max(1, min(workers or self.cpus, self.cpus))

    def describe(self) -> str:
        kind = f"{self.gpus} GPU(s)" if self.gpus else f"{self.slots} CPU slot(s)"
        return f"Ray cluster with {kind}"

    def run(self, cells: list[Cell], on_result: OnResult, on_start: OnStart = lambda c: None) -> None:
        ray = self.ray
        if self.gpus:
            remote = ray.remote(num_gpus=1, num_cpus=1, max_retries=0)(_ray_run_cell)
            accelerator, threads = "gpu", max(1, self.cpus // max(self.gpus, 1))
        else:
            remote = ray.remote(num_cpus=1, max_retries=0)(_ray_run_cell)
            accelerator, threads = "cpu", max(1, self.cpus // self.slots)
        pending = deque(cells)
        running: dict = {}
        self.draining = False
        try:
            while (pending and not self.draining) or running:
                while pending and len(running) < self.slots and not self.draining:
                    cell = pending.popleft()
                    on_start(cell)
                    ref = remote.remote(asdict(cell), self.plugin_args, accelerator, threads)
                    running[ref] = (cell, time.monotonic() + cell.time_limit)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in ready:
                    cell, _ = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # the worker died under the task
                        result = {"status": "failed", "reason": f"ray task failed: {type(exc).__name__}"}
                    on_result(cell, result)
                now = time.monotonic()
                for ref, (cell, deadline) in list(running.items()):
                    if now > deadline:
                        ray.cancel(ref, force=True)
                        running.pop(ref)
                        on_result(cell, {"status": "failed", "reason": f"timeout after {cell.time_limit:.0f} s"})
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def drain(self) -> None:
        """Submit no more cells; the running ones finish and report."""
        self.draining = True
