"""What runs inside a worker process: one cell at a time, imports paid once per worker.

``run_cell`` is also what an in-process or Ray executor calls. It never raises for a
cell's own failure: an exception, a non-finite loss or a broken plugin becomes a
``failed`` record with a one-line reason, so the suite goes on.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from rnnbench import registry as _registry

_DATA_CACHE_SIZE = 2
_TRACEBACK_FRAMES = 8
"""The most frames a failed record's traceback keeps (the innermost)."""


def _data_key(task_name: str, profile: Any) -> str:
    from rnnbench.data import fingerprint

    return fingerprint(task_name, profile.data_settings())


TASK_OUTPUTS = ("metrics", "primary", "baselines", "samples", "curve", "best_val", "metric_notes")


class PluginOutputError(Exception):
    """A plugin returned a value that a result record cannot hold; one line naming it."""


class NotPlain(Exception):
    def __init__(self, keys: list, what: str):
        super().__init__(what)
        self.keys, self.what = keys, what


def to_plain(value: Any, keys: tuple = ()) -> Any:
    """``value`` in plain JSON types: numpy and torch scalars become Python numbers (and
    their arrays lists), tuples lists, dict keys strings. NaN and inf stay floats: the
    store writes them, and a non-finite metric is a finding, not an error. Raises
    NotPlain with the path to the first value that no JSON type can hold."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    for plain_type in (bool, int, float, str):  # subclasses: numpy.float64 is a float
        if isinstance(value, plain_type):
            return plain_type(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            k = _plain_key(k, keys)
            out[k] = to_plain(v, (*keys, k))
        return out
    if isinstance(value, (list, tuple)):
        return [to_plain(v, (*keys, i)) for i, v in enumerate(value)]
    if isinstance(getattr(value, "ndim", None), int) and callable(getattr(value, "tolist", None)):
        try:  # numpy arrays and scalars, torch tensors: tolist() gives Python numbers
            plain = value.tolist()
        except Exception:
            plain = value
        if type(plain) is not type(value):
            return to_plain(plain, keys)
    what = type(value).__name__
    raise NotPlain(list(keys) or ["result"], f"an {what}" if what[:1].lower() in "aeiou" else f"a {what}")


def _plain_key(k: Any, keys: tuple) -> str:
    if isinstance(k, str):
        return str(k)
    try:
        plain = to_plain(k, keys)
    except NotPlain:
        plain = ...
    if plain is None or isinstance(plain, (bool, int, float)):
        return json.dumps(plain)  # as json.dump would write it: 1 -> "1", True -> "true"
    raise NotPlain([*keys, "<key>"], f"a key of type {type(k).__name__}")


class CellRunner:
    """Holds the registry and recently prepared data, so that consecutive cells of one
    task (other models, other seeds) do not prepare the same data again."""

    def __init__(
        self,
        plugin_args: list[str],
        accelerator: str = "cpu",
        cache_dir: str | None = None,
        cluster: bool = False,
        reraise: bool = False,
    ):
        from rnnbench.data import default_cache_dir

        self.plugin_args = plugin_args
        self.reraise = reraise
        self.accelerator = accelerator
        self.cluster = cluster
        self.cache_dir = cache_dir or default_cache_dir()
        self._registry: _registry.Registry | None = None
        self._data: dict[str, Any] = {}
        self._plugin_modules: dict[str, PluginModules] = {}
        self._identity: dict | None = None

    @property
    def registry(self) -> _registry.Registry:
        if self._registry is None:
            self._registry = _registry.load(self.plugin_args)
        return self._registry

    def run(self, cell: dict) -> dict:
        """The cell's result; with ``self.reraise`` an exception of the cell propagates
        (for a debugger) instead of becoming a failed result."""
        started = time.perf_counter()
        try:
            result = self._run(cell)
            first = result.pop("first_step_at", None)
            if first is not None:  # the fixed cost of a cell: data, build, trainer set-up
                result["setup_seconds"] = round(first - started, 3)
            result = self._plain(result, cell)
        except Exception as exc:  # the cell fails, the suite goes on
            if self.reraise:
                raise
            result = {"status": "failed", "reason": self._reason(exc, cell)}
            trace = self._traceback(exc, cell)
            if trace:
                result["traceback"] = trace
        result["wall_seconds"] = round(time.perf_counter() - started, 3)
        result["worker_provenance"] = self.identity()
        if self.accelerator == "gpu":
            result["cells_per_gpu"] = int(os.environ.get("RNNBENCH_CELLS_PER_GPU") or 1)
        return result

    def identity(self) -> dict:
        """Host, Ray node and this worker's own library versions (rnnbench.executors)."""
        if self._identity is None:
            from rnnbench.executors import worker_identity

            self._identity = worker_identity()
        return self._identity

    def _plain(self, result: dict, cell: dict) -> dict:
        """The result in plain JSON types, converted once here, where a failure can still
        be this cell's alone; the driver then writes it without surprises."""
        try:
            return to_plain(result)
        except NotPlain as exc:
            where = str(exc.keys[0]) + "".join(f"[{k!r}]" for k in exc.keys[1:])
            # metrics, baselines and samples hold the task plugin's own values
            owner = self.registry.owner.get(("task", cell["task"])) if exc.keys[0] in TASK_OUTPUTS else None
            who = f"task plugin '{owner}'" if owner else "the cell's result"
            raise PluginOutputError(f"{who}: {where} is {exc.what}, not a number, string, list or dict") from None

    def _run(self, cell: dict) -> dict:
        import torch

        from rnnbench.runner import cell_profile
        from rnnbench.training import fit_cell

        reg = self.registry
        task, model = reg.tasks[cell["task"]], reg.models[cell["model"]]
        profile = cell_profile(task.profiles[cell["profile"]], cell.get("settings") or {})
        if profile.param_budget:
            from rnnbench.budget import fit_profile

            profile = fit_profile(task, self._prepare(task, profile), model, profile, profile.param_budget)
        trial = cell.get("trial")
        should_prune = None
        if trial is not None:
            from rnnbench.tuning import trial_pruner

            should_prune = trial_pruner(trial)
        from rnnbench.training import free_device_memory, is_out_of_memory

        retried = None
        for attempt in (1, 2):
            data = self._prepare(task, profile)
            out_of_memory = False
            try:
                measured = fit_cell(
                    task,
                    model,
                    profile,
                    cell["seed"],
                    data,
                    self.accelerator,
                    cluster=self.cluster,
                    should_prune=should_prune,
                    test=trial is None,
                )
                break
            except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:  # cuDNN/cuBLAS report theirs as RuntimeError
                if not is_out_of_memory(exc) or attempt == 2 or profile.batch_size == 1:
                    raise
                out_of_memory = True
            if out_of_memory:  # outside the handler: the failed attempt's frames are released first
                free_device_memory()
                profile = profile.replace(batch_size=max(1, profile.batch_size // 2))
                retried = f"out of memory; retried with batch size {profile.batch_size}"
        measured["status"] = "ok"
        measured["data_fingerprint"] = data.fingerprint
        measured["baselines"] = task.baselines(data) if trial is None else {}
        notes = task.metric_notes(data)
        if notes:  # absent otherwise, as in every record written before tasks had notes
            measured["metric_notes"] = notes
        # a tuning trial is judged on validation: it keeps no test outcomes
        measured["outcomes"] = self._outcomes(task, data, measured) if trial is None else None
        measured["batch_size"] = profile.batch_size
        measured["hidden_size"] = profile.hidden_size
        if data.sequence_length is not None:
            measured["sequence_length"] = data.sequence_length
        if retried:
            measured["retried"] = retried
        return measured

    @staticmethod
    def _outcomes(task: Any, data: Any, measured: dict) -> dict | None:
        """The test outcomes with what the statistics need of the task, if they
        reproduce the primary metric; otherwise None and ``outcomes_note`` says why."""
        from rnnbench import outcomes as _outcomes

        plain = measured.get("outcomes")
        if plain is None:
            return None
        plain["serial"] = bool(task.serially_dependent)
        plain["series"] = int(task.outcome_series(data))
        plain["baselines"] = task.baseline_outcomes(data)
        try:
            kept = _outcomes.from_plain(plain)
            why = _outcomes.agrees(kept, task.primary_metric, measured["metrics"].get(task.primary_metric))
        except _outcomes.OutcomesError as exc:
            why = str(exc)
        if why:
            measured["outcomes_note"] = f"per-example outcomes not kept: {why}"
            return None
        plain["baselines"] = {n: {k: v.tolist() for k, v in cols.items()} for n, cols in kept.baselines.items()}
        return plain

    def _prepare(self, task: Any, profile: Any) -> Any:
        key = _data_key(task.name, profile)
        if key not in self._data:
            while len(self._data) >= _DATA_CACHE_SIZE:
                self._data.pop(next(iter(self._data)))
            self._data[key] = task.prepare(profile, self.cache_dir)
        return self._data[key]

    def _reason(self, exc: BaseException, cell: dict) -> str:
        from rnnbench.budget import BudgetUnreachable
        from rnnbench.data import DataUnavailable

        message = (str(exc).strip().splitlines() or [""])[0]
        if type(exc).__name__ == "NonFiniteLoss" or isinstance(
            exc, (DataUnavailable, _registry.PluginError, BudgetUnreachable, PluginOutputError)
        ):
            return message
        where = self._culprit(exc, cell)
        return f"{type(exc).__name__}: {message}" + (f" (in {where})" if where else "")

    def _culprit(self, exc: BaseException, cell: dict) -> str:
        """The cell's plugin whose code raised, or "" when neither the task's nor the
        model's code is to blame (the core, a library).

        Walking the traceback innermost first, the first frame in a module that exactly
        one of the two plugins owns (``PluginModules``) names it. A module both own (a
        helper the task's and the model's plugin share) is passed over, so its caller
        decides in which role it ran. An exception that says whose contract was broken
        (``attributed_to``, as rnnbench.nets.CoreContractError does) names that plugin
        wherever it was raised, and so does an AttributeError of an object whose class a
        plugin defined: the object lacks what its maker should have given it."""
        roles = self._roles(cell)
        if getattr(exc, "attributed_to", None) in roles:
            return roles[exc.attributed_to][0]

        def owners(module: str) -> list[str]:
            return [label for label, modules in roles.values() if module in modules]

        if isinstance(exc, AttributeError) and getattr(exc, "obj", None) is not None:
            makers = owners(type(exc.obj).__module__)
            if len(makers) == 1:
                return makers[0]
        shared = ""
        for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
            labels = owners(frame.f_globals.get("__name__", ""))
            if len(labels) == 1:
                return labels[0]
            if labels and not shared:
                same = {label.partition(" plugin ")[2] for label in labels}
                shared = f"plugin {same.pop()}" if len(same) == 1 else " or ".join(labels)
        return shared

    def _roles(self, cell: dict) -> dict[str, tuple[str, "PluginModules"]]:
        """``kind -> (label, the modules its plugin owns)`` for the cell's task and model."""
        try:
            reg = self.registry
        except _registry.PluginError:
            return {}
        roles = {}
        for kind in ("model", "task"):
            owner = reg.owner.get((kind, cell[kind]))
            if owner:
                if owner not in self._plugin_modules:
                    self._plugin_modules[owner] = PluginModules(reg.plugins[owner].module)
                roles[kind] = (f"{kind} plugin '{owner}'", self._plugin_modules[owner])
        return roles

    def _traceback(self, exc: BaseException, cell: dict) -> str | None:
        """The exception's traceback trimmed to what an author acts on: the frames of the
        cell's plugins, the innermost core (rnnbench) frame and the frame that raised.
        Lightning's and torch's dozens of frames in between say nothing about whose bug
        it is; a failure the reason already explains (data missing, NaN loss) has none."""
        from rnnbench.budget import BudgetUnreachable
        from rnnbench.data import DataUnavailable

        if type(exc).__name__ == "NonFiniteLoss" or isinstance(
            exc, (DataUnavailable, _registry.PluginError, BudgetUnreachable, PluginOutputError)
        ):
            return None
        frames = list(traceback.walk_tb(exc.__traceback__))
        if not frames:
            return None
        plugins = [modules for _, modules in self._roles(cell).values()]
        modules = [frame.f_globals.get("__name__", "") for frame, _ in frames]
        keep = {i for i, name in enumerate(modules) if any(name in owned for owned in plugins)}
        core = [i for i, name in enumerate(modules) if name == "rnnbench" or name.startswith("rnnbench.")]
        keep |= set(core[-1:]) | {len(frames) - 1}
        summary = traceback.StackSummary.extract((frames[i] for i in sorted(keep)), capture_locals=False)
        lines = ["Traceback (trimmed to the plugins' frames and the failing core frame):"]
        lines += [line.rstrip("\n") for line in summary.format()[-_TRACEBACK_FRAMES:]]
        lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)][-1:]
        return "\n".join(lines)


class PluginModules:
    """The modules a plugin owns: the module that registered it (with its submodules when
    it is a package), and every module of its own top-level package that these import,
    directly or through one another, wherever the import statement stands (a model often
    imports its layers inside ``build_core``). A private helper such as
    ``rnnbench_plugins._deep_rnn_layers`` thus belongs to each plugin that imports it.

    Imports are read from the source (``ast``), not run, so nothing is loaded to find
    out; the core (``rnnbench``) never belongs to a plugin."""

    def __init__(self, root: str):
        self.root = root.partition(":")[0]
        self.top = self.root.partition(".")[0]
        self.package = _is_package(self.root)
        self.modules = {self.root}
        pending = _source_files(self.root, self.package) if self.top != "rnnbench" else []
        while pending:
            path, name = pending.pop()
            for imported in _imports(path, name):
                # the distribution's top-level package is everyone's namespace, no one's code
                if imported in self or imported.partition(".")[0] != self.top or imported == self.top:
                    continue
                source = _source_files(imported, False)
                if source:
                    self.modules.add(imported)
                    pending += source

    def __contains__(self, module: str) -> bool:
        return module in self.modules or (self.package and module.startswith(self.root + "."))


def _is_package(name: str) -> bool:
    module = sys.modules.get(name)
    if module is not None:
        return hasattr(module, "__path__")
    spec = _spec(name)
    return bool(spec and spec.submodule_search_locations)


def _spec(name: str):
    """The import spec of a module whose parent package is loaded, without loading it."""
    import importlib.util

    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None


def _source_files(name: str, package: bool) -> list[tuple[str, str]]:
    """``(path, module name)`` of the Python source of ``name``; with ``package``, of every
    module in the package too."""
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        spec = _spec(name)
        path = spec.origin if spec is not None else None
    if not path or not path.endswith(".py"):
        return []
    if not package:
        return [(path, name)]
    files = []
    root = os.path.dirname(path)
    for folder, _, names in os.walk(root):
        relative = os.path.relpath(folder, root)
        prefix = ".".join([name, *([] if relative == os.curdir else relative.split(os.sep))])
        for file in names:
            if file.endswith(".py"):
                stem = file[:-3]
                files.append((os.path.join(folder, file), prefix if stem == "__init__" else f"{prefix}.{stem}"))
    return files


def _imports(path: str, name: str) -> set[str]:
    """Every module name an ``import`` in the file may refer to (``from a import b``
    gives ``a`` and ``a.b``, since ``b`` may be a submodule), relative ones resolved."""
    import ast

    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return set()
    package = name if os.path.basename(path) == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                up = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join(up + ([node.module] if node.module else []))
            if node.module or node.level:
                found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {n for n in found if n}


def die_with(parent: int) -> None:
    """Tie this process's life to ``parent``'s and give it a process group of its own.

    A cell may hang and a plugin may start processes; none of them may outlive the run.
    Its own session lets the driver end the whole group at a time limit (os.killpg),
    children included, and keeps a Ctrl-C in the terminal for the driver to handle. On
    Linux the kernel signals this process when the driver dies, however it dies, and the
    whole group ends; everywhere a watchdog thread notices the driver is gone and ends the
    group, should the signal's handler be delayed or replaced."""
    import signal
    import threading

    try:
        os.setsid()
    except OSError:  # already a group leader
        pass

    def end_group(*_: Any) -> None:
        # SIGKILL to our own group: the processes a plugin started die with us
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    if sys.platform.startswith("linux"):
        # The kernel sends this when the driver thread that started us ends; the local
        # executor starts its workers from the thread that runs (and outlives) them. Not
        # SIGKILL: a process killed outright leaves its children behind.
        try:
            import ctypes

            signal.signal(signal.SIGTERM, end_group)
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError, ValueError):
            pass  # the watchdog below still covers it

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        end_group()

    if os.getppid() != parent:  # the driver died before prctl took effect
        os._exit(1)
    threading.Thread(target=watch, name="rnnbench-driver-watchdog", daemon=True).start()


def check_accelerator(accelerator: str) -> None:
    """Raise RuntimeError (one line) when a worker given a GPU cannot use CUDA: it would
    otherwise fail, or quietly run on the CPU, every cell it takes."""
    if accelerator != "gpu":
        return
    import torch

    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise RuntimeError(
            f"a GPU worker on {os.uname().nodename} sees no CUDA device (torch {torch.__version__}, {build}); "
            "install a CUDA build of torch there, or check CUDA_VISIBLE_DEVICES and the driver"
        )


def share_gpu_memory() -> None:
    """With several cells per GPU (``--cells-per-gpu``), hold this worker to its share of
    the device's memory, so one cell's growth fails that cell, not its neighbours'."""
    fraction = os.environ.get("RNNBENCH_GPU_MEMORY_FRACTION")
    if not fraction:
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(float(fraction))


def worker_main(conn: Any, plugin_args: list[str], threads: int, accelerator: str, parent: int | None = None) -> None:
    """Entry point of a worker process: receive cells, send back results, until None."""
    die_with(parent if parent is not None else os.getppid())
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    try:
        check_accelerator(accelerator)
    except RuntimeError as exc:
        conn.send({"fatal": str(exc)})
        conn.close()
        sys.exit(3)
    share_gpu_memory()
    runner = CellRunner(plugin_args, accelerator)
    # pay the heavy imports before the first cell's clock starts
    import torchmetrics.classification  # noqa: F401
    import torchmetrics.regression  # noqa: F401
    import torchmetrics.text  # noqa: F401

    import rnnbench.training  # noqa: F401

    conn.send({"ready": os.getpid()})
    while True:
        try:
            cell = conn.recv()
        except (EOFError, KeyboardInterrupt):
            break
        if cell is None:
            break
        conn.send({"started": time.time()})  # the driver's time limit counts from here
        conn.send(runner.run(cell))
    conn.close()
    sys.exit(0)
