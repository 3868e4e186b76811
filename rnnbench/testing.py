"""A contract test kit for plugin authors (and rnnbench's own tests).

Call these from your own pytest suite::

    from rnnbench.testing import fit_smoke
    def test_my_task_trains():
        record = fit_smoke("my-task", "lstm")
        assert record["primary"]["value"] is not None
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from typing import Any

from rnnbench import registry as _registry


@functools.lru_cache(maxsize=None)
def load_registry(*plugin_args: str) -> _registry.Registry:
    """The registry as ``rnnbench`` itself would load it (cached per process), except that
    a broken plugin fails here with its reason: the CLI skips it, a plugin's tests must not."""
    reg = _registry.load(plugin_args)
    broken = [f"{p.label}: {p.error}" for p in reg.plugins.values() if p.error]
    if broken:
        raise _registry.PluginError("; ".join(broken))
    return reg


def fit_smoke(
    task: str,
    model: str,
    seed: int = 0,
    profile: str = "smoke",
    cache_dir: str | None = None,
    plugins: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Prepare, train, validate and test one cell in this process on the CPU; return the
    measured part of its result record (metrics, primary, params, curve, samples ...)."""
    from rnnbench.data import default_cache_dir
    from rnnbench.training import fit_cell

    reg = load_registry(*plugins)
    t, m = reg.tasks[task], reg.models[model]
    reason = m.unsupported(t)
    if reason:
        raise AssertionError(f"{model} cannot serve {task}: {reason}")
    prof = t.profiles[profile]
    data = t.prepare(prof, cache_dir or default_cache_dir())
    record = fit_cell(t, m, prof, seed, data, accelerator="cpu")
    record["baselines"] = t.baselines(data)
    notes = t.metric_notes(data)
    if notes:
        record["metric_notes"] = notes
    from rnnbench.worker import CellRunner

    # as a run keeps them: with the baselines' outcomes, and only if they give the metric
    record["outcomes"] = CellRunner._outcomes(t, data, record)
    return record


# --- contract checks --------------------------------------------------------------------
# Each builds a small core (or a task's smoke data) and compares what the contract says
# must agree. They raise AssertionError with a message that names the broken promise.

INPUT, HIDDEN, BATCH, STEPS = 3, 8, 4, 12
ATOL = 1e-5


def _model(model: Any, plugins: tuple[str, ...] = ()):
    return load_registry(*plugins).models[model] if isinstance(model, str) else model


def build_core(model: Any, num_layers: int = 2, dropout: float = 0.1, hidden: int = HIDDEN):
    """A model's core in eval mode (dropout must then change nothing), seeded."""
    import torch

    torch.manual_seed(0)
    return _model(model).build_core(INPUT, hidden, num_layers, dropout).eval()


def random_inputs(steps: int = STEPS, seed: int = 1):
    import torch

    return torch.randn(BATCH, steps, INPUT, generator=torch.Generator().manual_seed(seed))


def check_shapes(core) -> None:
    import torch

    assert hasattr(core, "output_size"), (
        "expected the core to have an output_size attribute (the width of its outputs); it has none"
    )
    with torch.no_grad():
        returned = core(random_inputs())
    assert isinstance(returned, tuple) and len(returned) == 2, (
        f"expected forward(x) to return (outputs, state); got {_describe(returned)}"
    )
    y = returned[0]
    expected = (BATCH, STEPS, core.output_size)
    assert isinstance(y, torch.Tensor) and tuple(y.shape) == expected, (
        f"expected outputs of shape {expected} = (batch, time, output_size) for inputs of shape "
        f"{(BATCH, STEPS, INPUT)}; got {_describe(y)}" + _shape_hint(y, expected)
    )
    assert torch.isfinite(y).all(), "expected finite outputs on random inputs; got NaN or inf"


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a tensor of shape {tuple(shape)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}: ({', '.join(_describe(v) for v in value)})"
    return type(value).__name__


def _shape_hint(y: Any, expected: tuple[int, ...]) -> str:
    shape = tuple(getattr(y, "shape", ()))
    if shape == (expected[1], expected[0], expected[2]):
        return " (time-major: cores take and return batch-first tensors)"
    if len(shape) == 3 and shape[:2] == expected[:2]:
        return f" (the last dimension must equal output_size = {expected[2]})"
    return ""


def _close(got, expected, what: str, atol: float = ATOL, rtol: float = 1e-4) -> None:
    """``torch.testing.assert_close`` with the promise that failed named first."""
    import torch

    try:
        torch.testing.assert_close(got, expected, atol=atol, rtol=rtol)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


def future_changes_past(core, t: int = 5) -> bool:
    """Whether changing the inputs after step ``t`` changes any output up to ``t``."""
    import torch

    x = random_inputs()
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 3
    with torch.no_grad():
        y, _ = core(x)
        y_changed, _ = core(changed)
    assert not torch.allclose(y[:, t + 1 :], y_changed[:, t + 1 :]), (
        f"expected outputs after step {t} to depend on the inputs after it; changing those inputs changed nothing"
    )
    return not torch.allclose(y[:, : t + 1], y_changed[:, : t + 1], atol=ATOL)


def check_chunked_equals_whole(core, cut: int = 5, atol: float = ATOL) -> None:
    """A sequence fed in pieces, the state passed along, gives the whole's outputs and final
    state; a one-step piece (decoding) too."""
    import torch

    x = random_inputs()
    with torch.no_grad():
        whole, final = core(x)
        first, state = core(x[:, :cut])
        middle, state = core(x[:, cut : cut + 1], state)
        rest, state_rest = core(x[:, cut + 1 :], state)
    pieces = f"a sequence fed in pieces of {cut}, 1 and {STEPS - cut - 1} steps, the state passed along"
    _close(torch.cat([first, middle, rest], 1), whole, f"expected {pieces} to give the whole's outputs", atol)
    _close(flat_state(state_rest), flat_state(final), f"expected {pieces} to end in the whole's state", atol)


def check_padding_invariance(core, stateful: bool = True, atol: float = ATOL) -> None:
    """Outputs at valid steps of a padded batch (loud garbage in the padding) equal those of
    each sequence run alone; so does the final state, taken at each sequence's end. A
    stateful core is checked again started from a state (as a decoder is)."""
    import torch

    x = random_inputs()
    lengths = torch.tensor([STEPS, 7, 1, 10])
    padded = x.clone()
    for b, n in enumerate(lengths):
        padded[b, n:] = 100.0
    with torch.no_grad():
        starts = [None] + ([core(random_inputs(seed=2))[1]] if stateful else [])
        for start in starts:
            y, state = core(padded, start, lengths)
            for b, n in enumerate(lengths.tolist()):
                alone, alone_state = core(x[b : b + 1, :n], None if start is None else state_row(start, b))
                where = (
                    f"row {b} of a padded batch (length {n} of {STEPS}{', from a state' if start is not None else ''})"
                )
                _close(y[b : b + 1, :n], alone, f"expected {where} to give the outputs it gives alone", atol)
                if stateful:
                    _close(
                        flat_state(state, b),
                        flat_state(alone_state, 0),
                        f"expected {where} to end in the state it ends in alone (its last valid step's)",
                        atol,
                    )


def state_row(state, row: int):
    """Batch row ``row`` of a nested state, keeping the batch dimension."""
    import torch

    if isinstance(state, torch.Tensor):
        # torch RNN states are [layers*directions, batch, hidden]; others [batch, ...]
        return state[:, row : row + 1] if state.dim() == 3 else state[row : row + 1]
    return type(state)(state_row(s, row) for s in state)


def flat_state(state, row: int | None = None):
    """A nested state's tensors, flattened (only batch row ``row`` when given)."""
    import torch

    if isinstance(state, torch.Tensor):
        if row is not None:
            state = state_row(state, row)
        return torch.view_as_real(state).flatten() if state.is_complex() else state.flatten()
    return torch.cat([flat_state(s, row) for s in state])


def check_parallel_equals_step_by_step(core, steps: int = 40) -> None:
    """A core trained with a parallel scan (``core.step_by_step = False``) computes the same
    outputs and parameter gradients as its sequential reference form (``True``)."""

    x = random_inputs(steps=steps)
    results = []
    for step_by_step in (False, True):
        core.step_by_step = step_by_step
        core.zero_grad()
        y, _ = core(x)
        (y**2).mean().backward()
        results.append((y.detach(), [p.grad.clone() for p in core.parameters()]))
    (y_par, grads_par), (y_seq, grads_seq) = results
    _close(y_par, y_seq, "expected the parallel form's outputs to equal the step-by-step form's", 1e-5)
    for (name, _), gp, gs in zip(core.named_parameters(), grads_par, grads_seq):
        _close(gp, gs, f"expected the parallel form's gradient of {name} to equal the step-by-step form's", 1e-5, 1e-3)


def _smoke_cost(task: Any) -> float:
    p = task.profiles["smoke"]
    return p.max_steps * p.batch_size * p.hidden_size


def default_task(model: Any, plugins: tuple[str, ...] = ()) -> str:
    """The registered task with the cheapest smoke profile that ``model`` can serve."""
    reg = load_registry(*plugins)
    m = _model(model, plugins)
    served = [t for t in reg.tasks.values() if not m.unsupported(t)]
    assert served, f"{m.name} can serve no registered task"
    return min(served, key=lambda t: (_smoke_cost(t), t.name)).name


def default_model(task: str, plugins: tuple[str, ...] = ()) -> str:
    """The first registered model that can serve ``task`` (built-in plugins register first)."""
    reg = load_registry(*plugins)
    t = reg.tasks[task]
    served = [m.name for m in reg.models.values() if not m.unsupported(t)]
    assert served, f"no registered model can serve {task}"
    return served[0]


def plugin_module(kind: str, name: str, plugins: tuple[str, ...] = ()) -> str:
    """The module of the plugin that registers task or model ``name``."""
    return load_registry(*plugins).plugin_of(kind, name).module.partition(":")[0]


def check_light_import(module: str) -> None:
    """Importing ``module`` in a fresh interpreter imports neither torch nor lightning:
    every rnnbench command, ``list`` included, imports every plugin."""
    code = (
        "import importlib, sys, time\n"
        "start = time.perf_counter()\n"
        "importlib.import_module(sys.argv[1])\n"
        f"heavy = [m for m in {_registry.HEAVY_MODULES!r} if m in sys.modules]\n"
        "print(f'{time.perf_counter() - start:.1f}', ' and '.join(heavy))\n"
    )
    # what is importable here (pytest's rootdir, a test's syspath_prepend) is importable there
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, env=env)
    if proc.returncode:
        why = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise AssertionError(f"importing {module} in a fresh interpreter failed: {why}")
    seconds, _, heavy = proc.stdout.strip().partition(" ")
    assert not heavy, (
        f"{module} imports {heavy} at import time ({seconds} s added to every rnnbench command); "
        "import it inside the functions that use it"
    )


def _own_module(m: Any, plugins: tuple[str, ...]) -> str | None:
    """The plugin module of a registered model, else the module that defines its class."""
    registered = load_registry(*plugins).models.get(m.name)
    if registered is not None and type(registered) is type(m):
        return plugin_module("model", m.name, plugins)
    module = type(m).__module__
    return None if module == "__main__" else module


def check_model(model: Any, task: str | None = None, plugins: tuple[str, ...] = ()) -> None:
    """Everything the model contract promises: a plugin module that imports no torch at
    import time, shapes, the causality it declares, chunked
    == whole when stateful, padding invariance, and a deterministic smoke fit on ``task``
    (default: the cheapest registered task it can serve)."""
    m = _model(model, plugins)
    module = _own_module(m, plugins)
    if module:
        check_light_import(module)
    task = task or default_task(m, plugins)
    core = build_core(m)
    check_shapes(core)
    causal = "causal" in m.provides
    step = 5
    leaks = future_changes_past(core, step)
    assert leaks != causal, (
        f"{m.name} declares itself causal, but changing inputs after step {step} changed its outputs up to step {step}"
        if causal
        else f"{m.name} does not declare itself causal, but no output depends on a later input: "
        "add 'causal' to its provides"
    )
    if "stateful" in m.provides:
        check_chunked_equals_whole(core)
    check_padding_invariance(core, stateful="stateful" in m.provides)
    if "decoder" in m.provides:
        check_decoder(m)
    first = fit_smoke(task, m.name, plugins=plugins)
    again = fit_smoke(task, m.name, plugins=plugins)
    _same_fits(first, again)


def check_decoder(model: Any) -> None:
    """What the ``decoder`` capability promises: ``build_decoder`` gives a causal, stateful
    core (chunked == whole, padding-invariant) and a bridge whose output, from the final
    state of the model's own core, the decoder takes as its initial state."""
    import torch

    m = _model(model)
    torch.manual_seed(0)
    decoder, bridge = m.build_decoder(INPUT, HIDDEN, 2, 0.1)
    decoder.eval()
    check_shapes(decoder)
    assert not future_changes_past(decoder), f"{m.name}'s decoder is not causal: a later input changed an output"
    check_chunked_equals_whole(decoder)
    check_padding_invariance(decoder, stateful=True)
    x = random_inputs()
    _, final = build_core(m)(x)
    with torch.no_grad():
        y, _ = decoder(x, bridge(final))
    assert tuple(y.shape) == (BATCH, STEPS, decoder.output_size), (
        f"{m.name}'s decoder started from its bridged encoder state gave shape {tuple(y.shape)}"
    )


def _same_fits(first: dict, again: dict) -> None:
    differ = sorted(
        k
        for k in first["metrics"].keys() | again["metrics"].keys()
        if first["metrics"].get(k) != again["metrics"].get(k)
    )
    assert not differ, (
        "expected two fits with the same seed to give the same metrics; "
        + "; ".join(f"{k}: {first['metrics'].get(k)} then {again['metrics'].get(k)}" for k in differ)
        + " (a random source not seeded from torch, or state kept between fits?)"
    )


def check_task_net(task: str, model: str | None = None, plugins: tuple[str, ...] = ()) -> None:
    """``task.build`` on its smoke data returns an ``rnnbench.nets.TaskNet``."""
    from rnnbench.data import default_cache_dir
    from rnnbench.nets import TaskNet

    reg = load_registry(*plugins)
    t = reg.tasks[task]
    profile = t.profiles["smoke"]
    model = model or default_model(task, plugins)
    net = t.build(t.prepare(profile, default_cache_dir()), reg.models[model], profile)
    assert isinstance(net, TaskNet), (
        f"expected {task}'s build() to return an rnnbench.nets.TaskNet; got {type(net).__name__}"
    )


def check_task(task: str, model: str | None = None, plugins: tuple[str, ...] = ()) -> None:
    """Everything the task contract promises: a plugin module that imports no torch at
    import time, profiles, metrics with the primary one and
    its direction, smoke data that builds a TaskNet, baselines on the same metrics, and a
    deterministic smoke fit that reports every metric (with ``model``, default: the first
    registered model that can serve it)."""
    from rnnbench.api import PROFILES, SHAPES

    check_light_import(plugin_module("task", task, plugins))
    model = model or default_model(task, plugins)
    t = load_registry(*plugins).tasks[task]
    assert t.shape in SHAPES, f"expected {task}'s shape to be one of {', '.join(SHAPES)}; got {t.shape!r}"
    assert t.direction in ("min", "max"), f"expected {task}'s direction to be 'min' or 'max'; got {t.direction!r}"
    missing = sorted(set(PROFILES) - set(t.profiles))
    assert not missing, f"expected {task} to declare the profiles {', '.join(PROFILES)}; it lacks {', '.join(missing)}"
    check_task_net(task, model, plugins)
    first = fit_smoke(task, model, plugins=plugins)
    assert t.primary_metric in first["metrics"], (
        f"expected the metrics to include the primary metric {t.primary_metric!r}; got {', '.join(first['metrics'])}"
    )
    for name, values in first.get("baselines", {}).items():
        unknown = sorted(set(values) - set(first["metrics"]))
        assert not unknown, (
            f"expected baseline {name} to report only the task's metrics ({', '.join(first['metrics'])}); "
            f"got also {', '.join(unknown)}"
        )
    again = fit_smoke(task, model, plugins=plugins)
    _same_fits(first, again)
    check_outcomes(t, first)


def check_outcomes(task: Any, measured: dict) -> None:
    """Per-example outcomes, where the task net keeps them (``TaskNet.outcomes``), give
    the primary metric that the task reports, and so do its baselines' outcomes
    (``Task.baseline_outcomes``) the values its ``baselines`` report."""
    from rnnbench import outcomes

    assert "outcomes_note" not in measured, measured.get("outcomes_note")
    if measured.get("outcomes") is None:
        return
    kept = outcomes.from_plain(measured["outcomes"])
    for name in kept.baselines:
        reported = measured["baselines"].get(name, {}).get(task.primary_metric)
        got = outcomes.of(kept, task.primary_metric, baseline=name).value()
        assert reported is not None and abs(got - reported) <= 1e-4 * max(1.0, abs(reported)), (
            f"baseline {name}: its outcomes give {task.primary_metric} {got}, its baselines() say {reported}"
        )


def check_device_placement(task: str, models: list[str] | None = None, plugins: tuple[str, ...] = ()) -> list[str]:
    """One training step (loss and backward) and one evaluation step of ``task``'s smoke
    data with each of ``models`` (default: every registered model that serves it), run with
    the default device set to ``meta`` while the net, metrics and batch stay on the CPU.

    A tensor created without ``device=`` (``torch.zeros(n)`` in a forward pass) lands on
    the meta device, and the first operation mixing it with the CPU tensors fails, as it
    would on a GPU where it would land on the host: a CPU-only machine catches what would
    otherwise fail only on a GPU. Returns one line per failing model (empty: all placed)."""
    import torch

    from rnnbench.data import default_cache_dir
    from rnnbench.training import loader, with_seed

    reg = load_registry(*plugins)
    t = reg.tasks[task]
    profile = t.profiles["smoke"]
    names = models if models is not None else [m for m, model in reg.models.items() if not model.unsupported(t)]
    data = t.prepare(profile, default_cache_dir())
    train_batch = next(iter(loader(data, with_seed(data.train, 0), profile.batch_size, True, False, 0)))
    val_batch = next(iter(loader(data, data.val, profile.batch_size, False, False)))
    failures = []
    for name in names:
        torch.manual_seed(0)
        net = t.build(data, reg.models[name], profile)
        metrics = torch.nn.ModuleDict(t.metrics(data))
        step = "build"
        try:
            with torch.device("meta"):
                step = "training step"
                net.train()
                net.reset_state("train")
                net.training_loss(train_batch).backward()
                step = "evaluation step"
                net.eval()
                net.reset_state("val")
                with torch.no_grad():
                    net.evaluate(val_batch, metrics)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not only device ones
            message = (str(exc).strip().splitlines() or [""])[0]
            failures.append(f"{task} x {name}, {step}: {type(exc).__name__}: {message[:200]}")
    return failures
