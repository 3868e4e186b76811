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
import sys
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
    """GPU ids this process may use, found without importing torch. A GPU split into MIG
    slices gives its slices' UUIDs instead: each slice is a device of its own."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    proc = Path("/proc/driver/nvidia/gpus")
    if not proc.is_dir():
        return []
    gpus = [str(i) for i in range(len(list(proc.iterdir())))]
    return mig_devices(_nvidia_smi_listing(), gpus)


def _nvidia_smi_listing() -> str:
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return ""
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def mig_devices(listing: str, gpus: list[str]) -> list[str]:
    """From ``nvidia-smi -L``: each GPU's MIG slice UUIDs in place of the GPU (a GPU in MIG
    mode runs nothing itself), the GPU's index where it has no slices."""
    import re

    slices: dict[str, list[str]] = {}
    current = None
    for line in listing.splitlines():
        gpu = re.match(r"GPU (\d+):", line.strip())
        if gpu:
            current = gpu.group(1)
            continue
        mig = re.search(r"\(UUID: (MIG-[^)\s]+)\)", line)
        if mig and current is not None:
            slices.setdefault(current, []).append(mig.group(1))
    return [d for g in gpus for d in slices.get(g, [g])]


MAX_DEFAULT_CPU_WORKERS = 8  # each worker holds its task's data; beyond this, threads help more


def worker_layout(workers: int | None, gpus: list[str], cores: int | None = None, cells_per_gpu: int = 1) -> list[dict]:
    """One worker per visible GPU (pinned with CUDA_VISIBLE_DEVICES), else ``workers`` CPU
    workers, by default one per core up to ``MAX_DEFAULT_CPU_WORKERS``: the small recurrent
    nets of a cell use one core better than two (two single-threaded workers finish small
    cells 1.9x faster than one with two threads). Torch threads are divided between
    workers, because two processes with two threads each on two cores run ~10x slower.
    ``cells_per_gpu`` K runs K workers on each GPU, each limited to 1/K of its memory: one
    small recurrent cell leaves a large GPU mostly idle."""
    cores = cores or os.cpu_count() or 1
    if gpus:
        n = len(gpus) if not workers else min(workers, len(gpus))
        k = max(1, cells_per_gpu)  # workers per GPU, each with its share of the memory
        threads = max(1, cores // (n * k))
        return [
            {"gpu": g, "accelerator": "gpu", "threads": threads, "memory_fraction": 1.0 / k, "cells_per_gpu": k}
            for g in gpus[:n]
            for _ in range(k)
        ]
    n = max(1, workers or min(cores, MAX_DEFAULT_CPU_WORKERS))
    threads = max(1, cores // n)
    return [{"gpu": None, "accelerator": "cpu", "threads": threads} for _ in range(n)]


MEMORY_FRACTION_ENV = "RNNBENCH_GPU_MEMORY_FRACTION"
CELLS_PER_GPU_ENV = "RNNBENCH_CELLS_PER_GPU"

START_GRACE_SECONDS = 30.0
"""How long a worker may take to say it started a cell before the cell's own clock runs."""


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
        saved_share = {k: os.environ.get(k) for k in (MEMORY_FRACTION_ENV, CELLS_PER_GPU_ENV)}
        if self.spec.get("cells_per_gpu", 1) > 1:
            os.environ[MEMORY_FRACTION_ENV] = str(self.spec["memory_fraction"])
            os.environ[CELLS_PER_GPU_ENV] = str(self.spec["cells_per_gpu"])
        try:
            self.proc = ctx.Process(
                target=worker_main,
                # a GPU worker may start DataLoader workers, which a daemonic process may
                # not; _stop_all and die_with end it with the run all the same. A CPU worker
                # (no loader workers) stays daemonic, so the driver's exit never waits on it.
                daemon=self.spec["gpu"] is None,
                args=(child, self.plugin_args, self.spec["threads"], self.spec["accelerator"], os.getpid()),
            )
            self.proc.start()
        finally:
            for name, value in {"CUDA_VISIBLE_DEVICES": saved, **saved_share}.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
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
        cells_per_gpu: int = 1,
    ):
        self.layout = worker_layout(workers, visible_gpus() if gpus is None else gpus, cells_per_gpu=cells_per_gpu)
        self.plugin_args = plugin_args
        # a plugin that keeps global state (a class-level counter, a cache) would carry it
        # from one cell into the next in a reused worker
        self.fresh_worker = fresh_worker

    def describe(self) -> str:
        first = self.layout[0]
        kind = "GPU" if first["gpu"] is not None else "CPU"
        fresh = ", a fresh process per cell" if self.fresh_worker else ""
        per_gpu = f" ({first['cells_per_gpu']} per GPU)" if first.get("cells_per_gpu", 1) > 1 else ""
        return f"{len(self.layout)} {kind} worker(s){per_gpu}, {first['threads']} torch thread(s) each{fresh}"

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
                        # until the worker says it started the cell (a message away)
                        s.deadline = time.monotonic() + s.cell.time_limit + START_GRACE_SECONDS
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
            elif "started" in msg:  # the cell's clock starts now, in the worker
                if s.cell is not None:
                    s.deadline = time.monotonic() + s.cell.time_limit
            elif "fatal" in msg:  # the worker cannot run any cell here (a GPU without CUDA)
                raise ExecutorUnavailable(msg["fatal"])
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


RAY_PROBE_SECONDS = 5.0
"""How long an address may take to answer before the run stops with one line."""

FORWARDED_ENV_PREFIXES = ("RNNBENCH_",)
FORWARDED_ENV = (
    "HF_DATASETS_OFFLINE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HOME",
    "HF_DATASETS_CACHE",
    "CUBLAS_WORKSPACE_CONFIG",
)
"""Environment that changes what a cell does, sent to every Ray worker (runtime_env):
rnnbench's own settings (RNNBENCH_PLUGINS, RNNBENCH_CACHE, data overrides such as
RNNBENCH_STOCK_CSV), the offline switches, and every variable a registered task declares
in ``data_environment``."""


def forwarded_environment(plugin_args: list[str]) -> dict[str, str]:
    """The driver's variables that every worker must see as the driver does."""
    names = set(FORWARDED_ENV)
    try:
        from rnnbench import registry as _registry

        reg = _registry.load(plugin_args)
        for task in reg.tasks.values():
            names.update(task.data_environment)
    except Exception:  # a broken plugin is reported where it is used, not here
        pass
    return {k: v for k, v in os.environ.items() if k in names or k.startswith(FORWARDED_ENV_PREFIXES)}


def plugin_packages(plugin_args: list[str]) -> list[str]:
    """Folders of the packages of ``-p``/RNNBENCH_PLUGINS modules that are not installed
    (not under site-packages): a cluster's nodes lack them, so Ray ships them
    (runtime_env py_modules). Raises ExecutorUnavailable for a module Ray cannot ship."""
    import importlib.util

    from rnnbench.registry import parse_plugin_args

    loads, _ = parse_plugin_args(plugin_args)
    folders: list[str] = []
    for module in loads:
        top = module.partition(":")[0].partition(".")[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise ExecutorUnavailable(f"plugin module {module!r} is not importable here, so no worker can import it")
        origin = spec.origin or ""
        if "site-packages" in origin or "dist-packages" in origin:
            continue  # installed: every node must install it too (README)
        if not spec.submodule_search_locations:
            raise ExecutorUnavailable(
                f"plugin module {module!r} is a single file ({origin}); Ray ships packages only: "
                "put it in a package or install it on every node"
            )
        folder = list(spec.submodule_search_locations)[0]
        if folder not in folders:
            folders.append(folder)
    return folders


def resolve_ray_address(address: str | None) -> str | None:
    """The Ray address to connect to: ``address``, else ``RAY_ADDRESS``; None to start a
    local instance. ``auto``, ``HOST:PORT`` and ``ray://HOST:PORT`` must answer, as a
    gRPC server, within ``RAY_PROBE_SECONDS`` (an unreachable one, or another service's
    port, would otherwise hang ``ray.init`` for minutes); anything wrong raises
    ExecutorUnavailable with one line. Called before the run takes the result store's
    lock, so a wait never holds it."""
    import importlib.util
    import socket

    address = (address or os.environ.get("RAY_ADDRESS") or "").strip()
    if not address or address == "local":
        return None
    if importlib.util.find_spec("ray") is None:
        raise ExecutorUnavailable("the ray executor needs Ray: pip install 'rnnbench[ray]'")
    if address.startswith("ray://"):
        if importlib.util.find_spec("grpc") is None:
            raise ExecutorUnavailable(f"{address} needs Ray's client (grpcio): pip install 'rnnbench[ray]'")
        target = address[len("ray://") :]
    elif address == "auto":
        from ray._private.utils import read_ray_address

        target = read_ray_address()
        if not target:
            raise ExecutorUnavailable(
                "no Ray cluster runs on this machine (address 'auto'): start one with `ray start --head` "
                "or give its HOST:PORT"
            )
    else:
        target = address
    host, sep, port = target.rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ExecutorUnavailable(f"Ray address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_PROBE_SECONDS) as conn:
            speaks_grpc = _answers_http2(conn)
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc) or type(exc).__name__)
        raise ExecutorUnavailable(
            f"cannot reach the Ray cluster at {target} ({why} within {RAY_PROBE_SECONDS:.0f} s)"
        ) from None
    if not speaks_grpc:
        # ray.init would retry such a port for minutes
        raise ExecutorUnavailable(
            f"{target} answers but not as a Ray cluster (no gRPC reply within {RAY_PROBE_SECONDS:.0f} s): "
            "is it the head's GCS port (6379 by default) or its client port (10001, with ray://)?"
        )
    return address


HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""A client's HTTP/2 connection preface and an empty SETTINGS frame."""


def _answers_http2(conn) -> bool:
    """Whether the server on ``conn`` speaks HTTP/2, as Ray's GCS and client server
    (gRPC) do: it answers a client's preface with a SETTINGS frame (type 4) at once."""
    conn.sendall(HTTP2_PREFACE)
    header = b""
    try:
        while len(header) < 9:
            chunk = conn.recv(9 - len(header))
            if not chunk:
                break
            header += chunk
    except TimeoutError:
        pass
    return len(header) == 9 and header[3] == 4


def _local_ray_safety() -> dict[str, str | None]:
    """Settings for a Ray instance rnnbench starts itself: every server listens on the
    loopback interface only, and token authentication stays on (a token made for this run
    when none is configured, kept in the environment of this run's processes only). Returns
    the previous values of what it set, for ``_restore``."""
    changed: dict[str, str | None] = {}

    def put(name: str, value: str) -> None:
        changed[name] = os.environ.get(name)
        os.environ[name] = value

    # Ray advertises (and binds to) the node's address; on Linux its "clusters off"
    # switch makes that the loopback one
    put("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if "RAY_AUTH_MODE" not in os.environ:
        put("RAY_AUTH_MODE", "token")
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        has_token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
        if not has_token and not (Path.home() / ".ray" / "auth_token").is_file():
            import secrets

            put("RAY_AUTH_TOKEN", secrets.token_hex(32))
    if "ray" in sys.modules:  # imported already: make it read the settings again
        try:
            from ray._private import ray_constants
            from ray._raylet import Config

            ray_constants.ENABLE_RAY_CLUSTER = False
            Config.initialize("")
        except Exception:
            pass
    return changed


def _restore(changed: dict[str, str | None]) -> None:
    for name, value in changed.items():
        if name == "RAY_AUTH_MODE" or name == "RAY_AUTH_TOKEN":
            continue  # this process keeps talking to the instance it started, with its token
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if "ray" in sys.modules and "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" in changed:
        try:
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "1") != "0"
        except Exception:
            pass


def worker_identity() -> dict[str, str]:
    """Where this process runs and with which libraries: the host, the Ray node (``local``
    outside Ray) and the worker's own versions, for the record's provenance."""
    import platform
    import socket

    node = "local"
    if "ray" in sys.modules:
        try:
            import ray

            if ray.is_initialized():
                node = ray.get_runtime_context().get_node_id()
        except Exception:
            pass
    from rnnbench.runner import _version

    return {
        "host": socket.gethostname(),
        "node": node,
        "torch": _version("torch"),
        "pytorch_lightning": _version("pytorch-lightning"),
        "torchmetrics": _version("torchmetrics"),
        "python": platform.python_version(),
    }


class _RayCellActor:
    """One long-lived Ray worker per slot (per GPU, or per CPU slot): it pays the imports
    once and keeps its task's prepared data, like a local worker, and a GPU is never
    handed a fresh process per cell."""

    def __init__(
        self, plugin_args: list[str], accelerator: str, threads: int, forwarded: dict[str, str], cells_per_gpu: int = 1
    ):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if accelerator == "gpu" and cells_per_gpu > 1:
            os.environ[MEMORY_FRACTION_ENV] = str(1.0 / cells_per_gpu)
            os.environ[CELLS_PER_GPU_ENV] = str(cells_per_gpu)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)
        from rnnbench.worker import CellRunner, check_accelerator, share_gpu_memory

        self.forwarded = forwarded
        self.identity = worker_identity()
        try:
            check_accelerator(accelerator)
        except RuntimeError as exc:  # told to the driver by ready(), which stops the run
            self.fatal = str(exc)
            return
        self.fatal = None
        share_gpu_memory()
        # inside a cluster job Lightning must not mistake the cluster for SLURM
        self.runner = CellRunner(plugin_args, accelerator, cluster=True)
        import rnnbench.training  # noqa: F401  (the imports are paid before the first cell)

    def ready(self) -> dict:
        """Where it runs; also whether the driver's environment arrived (runtime_env)."""
        missing = sorted(k for k, v in self.forwarded.items() if os.environ.get(k) != v)
        return {**self.identity, "missing_env": missing, "fatal": self.fatal}

    def run(self, cell: dict) -> dict:
        return self.runner.run(cell)


class _RaySlot:
    def __init__(self):
        self.actor = None
        self.ready_ref = None
        self.identity: dict | None = None
        self.cell: Cell | None = None
        self.ref = None
        self.deadline = 0.0


class RayExecutor:
    """Cells on a Ray cluster, one long-lived actor per slot: one per GPU (``num_gpus=1``)
    on a cluster with GPUs, else one per CPU slot. A cell's clock starts when its actor,
    warm, takes it; a timed-out cell's actor is killed and replaced. A cell whose actor
    died with its node is tried once more on another actor, and the number of slots
    follows the cluster as nodes join or leave.

    ``address=None`` (and no ``RAY_ADDRESS``) starts a local Ray instance bound to the
    loopback interface with token authentication on; ``auto``, ``HOST:PORT`` or
    ``ray://HOST:PORT`` joins a cluster. The driver's environment that changes a cell
    (``forwarded_environment``) and plugin packages that are not installed reach every
    worker through Ray's runtime_env. Results come back to this driver, which writes them
    into the same result store as the local executor.
    """

    name = "ray"
    RESCAN_SECONDS = 10.0

    def __init__(
        self, plugin_args: list[str], address: str | None = None, workers: int | None = None, cells_per_gpu: int = 1
    ):
        self.cells_per_gpu = max(1, cells_per_gpu)
        address = resolve_ray_address(address)
        changed = _local_ray_safety() if address is None else {}
        try:
            import ray
        except ImportError:
            _restore(changed)
            raise ExecutorUnavailable("the ray executor needs Ray: pip install 'rnnbench[ray]'") from None
        self.ray, self.plugin_args, self.workers = ray, plugin_args, workers
        self.forwarded = forwarded_environment(plugin_args)
        runtime_env: dict = {"env_vars": dict(self.forwarded)}
        if address is not None:
            packages = plugin_packages(plugin_args)
            if packages:
                runtime_env["py_modules"] = packages
        self.address = address
        try:
            if not ray.is_initialized():
                if address is None:
                    ray.init(
                        # "local", not None: ray.init(None) would join RAY_ADDRESS's cluster
                        # or the last one `ray start` made on this machine, neither of them
                        # bound to loopback by rnnbench
                        address="local",
                        num_cpus=workers or os.cpu_count() or 1,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level="ERROR",
                        runtime_env=runtime_env,
                    )
                elif address.startswith("ray://"):
                    ray.init(address=address, runtime_env=runtime_env, logging_level="ERROR")
                else:
                    ray.init(address=address, log_to_driver=False, logging_level="ERROR", runtime_env=runtime_env)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExecutorUnavailable(f"Ray at {address or 'a new local instance'}: {first}") from None
        finally:
            _restore(changed)
        self.runtime_env = runtime_env
        self._size()

    def _size(self) -> None:
        resources = self.ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        self.cpus = int(resources.get("CPU", 1))
        self.slots = self.gpus * self.cells_per_gpu or max(1, min(self.workers or self.cpus, self.cpus))

    def describe(self) -> str:
        kind = f"{self.gpus} GPU(s)" if self.gpus else f"{self.slots} CPU slot(s)"
        return f"Ray cluster with {kind}, one long-lived worker each"

    def _start(self, slot: _RaySlot) -> None:
        ray = self.ray
        if self.gpus:
            accelerator, threads = "gpu", max(1, self.cpus // max(self.slots, 1))
            options = {"num_gpus": 1 / self.cells_per_gpu, "num_cpus": 1}
        else:
            accelerator, threads = "cpu", max(1, self.cpus // self.slots)
            options = {"num_cpus": 1}
        cls = ray.remote(max_restarts=0, max_task_retries=0, runtime_env=self.runtime_env, **options)(_RayCellActor)
        slot.actor = cls.remote(self.plugin_args, accelerator, threads, self.forwarded, self.cells_per_gpu)
        slot.ready_ref = slot.actor.ready.remote()
        slot.identity, slot.cell, slot.ref = None, None, None

    def _stop(self, slot: _RaySlot) -> None:
        if slot.actor is not None:
            try:
                self.ray.kill(slot.actor, no_restart=True)
            except Exception:
                pass
        slot.actor = slot.ready_ref = slot.ref = slot.identity = slot.cell = None

    def _resize(self, slots: list[_RaySlot], want: int) -> list[_RaySlot]:
        """``want`` slots: busy ones are kept (their cells finish), then idle ones up to
        ``want``, warm ones first. Every idle slot let go has its actor killed: a dropped
        actor would hold its share of a GPU or CPU for the rest of the run."""
        busy = [s for s in slots if s.cell is not None]
        idle = sorted((s for s in slots if s.cell is None), key=lambda s: s.identity is None)  # warm first
        kept = idle[: max(0, want - len(busy))]
        for s in idle[len(kept) :]:
            self._stop(s)
        slots = busy + kept
        while len(slots) < want:
            slots.append(_RaySlot())
        return slots

    def run(self, cells: list[Cell], on_result: OnResult, on_start: OnStart = lambda c: None) -> None:
        ray = self.ray
        pending = deque(cells)
        lost_on: dict[int, str] = {}  # id(cell) -> the node its worker was lost on
        self.draining = False
        slots: list[_RaySlot] = []
        rescan = 0.0
        failed_starts = 0

        def settle(slot: _RaySlot, result: dict) -> None:
            cell = slot.cell
            slot.cell = slot.ref = None
            on_result(cell, result)

        try:
            while (pending and not self.draining) or any(s.cell for s in slots):
                now = time.monotonic()
                if now >= rescan:  # slots follow the cluster as it grows or shrinks
                    rescan = now + self.RESCAN_SECONDS
                    self._size()
                    slots = self._resize(slots, min(self.slots, max(1, len(pending) + sum(1 for s in slots if s.cell))))
                for s in slots:
                    if s.actor is None and not (self.draining or not pending):
                        self._start(s)
                    if s.identity is not None and s.cell is None and pending and not self.draining:
                        s.cell = _next_cell(pending, s, slots, lost_on)
                        if s.cell is None:
                            continue
                        on_start(s.cell)
                        s.ref = s.actor.run.remote(asdict(s.cell))
                        s.deadline = time.monotonic() + s.cell.time_limit
                waiting = [s.ready_ref for s in slots if s.ready_ref is not None]
                waiting += [s.ref for s in slots if s.ref is not None]
                if not waiting:
                    time.sleep(0.2)
                    continue
                done, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
                for s in slots:
                    if s.ready_ref is not None and s.ready_ref in done:
                        ref, s.ready_ref = s.ready_ref, None
                        try:
                            identity = ray.get(ref)
                        except Exception as exc:
                            self._stop(s)
                            if _node_lost(exc):  # not the worker's fault: the slot starts again
                                continue  # on a node that is there (the rescan sizes the cluster)
                            failed_starts += 1
                            if failed_starts >= 3:
                                raise ExecutorUnavailable(f"Ray workers fail at start-up: {_ray_reason(exc)}") from None
                            continue
                        if identity.get("fatal"):  # e.g. a GPU worker whose torch sees no CUDA
                            raise ExecutorUnavailable(identity["fatal"])
                        if identity.get("missing_env"):
                            raise ExecutorUnavailable(
                                f"the driver's {', '.join(identity['missing_env'])} did not reach the Ray worker "
                                f"on {identity.get('host')}; the run would differ there"
                            )
                        s.identity, failed_starts = identity, 0
                    if s.ref is not None and s.ref in done:
                        try:
                            result = ray.get(s.ref)
                        except Exception as exc:  # the actor died under the cell: its node, most likely
                            where = (s.identity or {}).get("host", "?")
                            node = (s.identity or {}).get("node", "?")
                            cell, where_ran = s.cell, _where(s)
                            self._stop(s)
                            reason = f"Ray worker lost on host {where} (node {node[:12]}): {_ray_reason(exc)}"
                            if id(cell) not in lost_on:
                                lost_on[id(cell)] = node
                                pending.appendleft(cell)  # once more, on another node (_next_cell)
                                continue
                            on_result(cell, {"status": "failed", "reason": reason + "; retried once", **where_ran})
                            continue
                        settle(s, result)
                now = time.monotonic()
                for s in slots:
                    if s.cell is not None and now > s.deadline:
                        cell, where_ran = s.cell, _where(s)
                        # the cell may have left threads, memory or a GPU context behind:
                        # its worker is not known to be clean, so it is replaced
                        self._stop(s)
                        reason = f"timeout after {cell.time_limit:.0f} s"
                        on_result(cell, {"status": "failed", "reason": reason, **where_ran})
        finally:
            for s in slots:
                self._stop(s)

    def drain(self) -> None:
        """Submit no more cells; the running ones finish and report."""
        self.draining = True


def _next_cell(pending: deque, slot: _RaySlot, slots: list[_RaySlot], lost_on: dict[int, str]) -> Cell | None:
    """The first pending cell ``slot`` may take, removed from ``pending``. A cell whose
    worker was lost is not given to a worker on the same node while a worker elsewhere
    can take it: the node may be failing (its memory, its GPU), though still listed."""
    here = (slot.identity or {}).get("node")
    for i, cell in enumerate(pending):
        lost = lost_on.get(id(cell))
        elsewhere = lost == here and any(o.identity and o.identity.get("node") != lost for o in slots)
        if not elsewhere:
            del pending[i]
            return cell
    return None


NODE_LOST = "its node has died"
"""What Ray says of an actor lost with its node (ActorDiedError)."""


def _node_lost(exc: BaseException) -> bool:
    """Whether a Ray actor died with its node (gone, or preempted by the autoscaler)
    rather than of its own start-up, which would fail again wherever it ran."""
    return bool(getattr(exc, "preempted", False)) or NODE_LOST in str(exc)


def _where(slot: _RaySlot) -> dict:
    """The host, node and versions of a slot's worker, for a record the driver writes."""
    identity = {k: v for k, v in (slot.identity or {}).items() if k not in ("missing_env", "fatal")}
    return {"worker_provenance": identity} if identity else {}


def _ray_reason(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__
