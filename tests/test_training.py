"""Training one cell: a seeded CPU cell is reproducible without deterministic kernels."""

import copy
import types

import pytest
import torch

from rnnbench.nets import TaskNet
from rnnbench.testing import load_registry
from rnnbench.training import _deterministic, fit_cell, loader_workers


def test_a_seeded_cpu_cell_gives_the_same_numbers_twice(tmp_path):
    reg = load_registry()
    task, model = reg.tasks["adding-50"], reg.models["lstm"]
    profile = task.profiles["smoke"]
    data = task.prepare(profile, str(tmp_path))
    first = fit_cell(task, model, profile, 3, data, accelerator="cpu")
    assert not torch.are_deterministic_algorithms_enabled()
    second = fit_cell(task, model, profile, 3, data, accelerator="cpu")
    assert first["metrics"] == second["metrics"] and first["curve"] == second["curve"]
    assert first["device_class"].startswith("cpu: ") and first["device_class"] == second["device_class"]
    other_seed = fit_cell(task, model, profile, 4, data, accelerator="cpu")
    assert other_seed["metrics"] != first["metrics"]


def test_deterministic_kernels_only_where_a_gpu_is_used(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert _deterministic("gpu") == "warn" and _deterministic("auto") == "warn"
    assert _deterministic("cpu") is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _deterministic("auto") is False


def test_the_trainer_drives_the_task_net_through_its_hooks(tmp_path):
    reg = load_registry()
    adding, model = reg.tasks["adding-50"], reg.models["lstm"]
    resets = []

    class Recording(TaskNet):
        def __init__(self, inner):
            super().__init__(samples=lambda net: {"resets": list(resets)})
            self.inner = inner

        def training_loss(self, batch):
            return self.inner.training_loss(batch)

        def evaluate(self, batch, metrics):
            return self.inner.evaluate(batch, metrics)

        def reset_state(self, split):
            resets.append(split)

    class Wrapped(type(adding)):
        def build(self, data, model, profile):
            return Recording(super().build(data, model, profile))

    profile = adding.profiles["smoke"]
    data = adding.prepare(profile, str(tmp_path))
    record = fit_cell(Wrapped(adding.length, quick_steps=1), model, profile, 0, data, accelerator="cpu")
    assert record["samples"]["resets"][0] == "train" and record["samples"]["resets"][-1] == "test"
    assert record["samples"]["resets"].count("val") == len(record["curve"])


def test_a_build_that_returns_no_task_net_fails_naming_the_task(tmp_path):
    reg = load_registry()
    adding, model = reg.tasks["adding-50"], reg.models["lstm"]

    class PlainModule(type(adding)):
        def build(self, data, model, profile):
            return torch.nn.Linear(1, 1)

    profile = adding.profiles["smoke"]
    data = adding.prepare(profile, str(tmp_path))
    with pytest.raises(TypeError, match=r"^task adding-50: build\(\) returned Linear, not an rnnbench.nets.TaskNet$"):
        fit_cell(PlainModule(adding.length, quick_steps=1), model, profile, 0, data, accelerator="cpu")


# --- optimisers, schedules, early stopping, pruning ----------------------------------------

from types import SimpleNamespace  # noqa: E402

from rnnbench.api import Profile, TaskData  # noqa: E402
from rnnbench.data import LengthBucketedBatches  # noqa: E402
from rnnbench.training import LearningRateSchedule, loader, make_optimizer, with_seed  # noqa: E402

TOY = "fixtures.tuning_toy"


def bare(**changes):
    return Profile(max_steps=100, batch_size=4, **changes)


def test_each_optimizer_builds_with_its_settings():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    net[1].bias.requires_grad_(False)
    adam = make_optimizer(net.parameters(), bare(lr=0.01))
    assert type(adam) is torch.optim.Adam and adam.defaults["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in adam.param_groups) == 3  # the frozen bias is left out
    sgd = make_optimizer(net.parameters(), bare(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4))
    assert type(sgd) is torch.optim.SGD
    assert (sgd.defaults["lr"], sgd.defaults["momentum"], sgd.defaults["weight_decay"]) == (0.1, 0.9, 1e-4)
    assert sgd.defaults["nesterov"] is False
    adamw = make_optimizer(net.parameters(), bare(optimizer="adamw", lr=0.003, weight_decay=0.05))
    assert type(adamw) is torch.optim.AdamW and adamw.defaults["weight_decay"] == 0.05
    assert adamw.defaults["lr"] == 0.003


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"optimizer": "rmsprop"}, "optimizer 'rmsprop' is not one of adam, adamw, sgd"),
        ({"optimizer": "Adam"}, "optimizer 'Adam' is not one of"),
        ({"schedule": "exponential"}, "schedule 'exponential' is not one of constant, cosine, step, plateau"),
    ],
)
def test_a_profile_rejects_an_unknown_optimizer_or_schedule(changes, message):
    with pytest.raises(ValueError, match=message):
        bare(**changes)
    with pytest.raises(ValueError, match=message):
        bare().replace(**changes)


def schedule(direction="min", **changes):
    return LearningRateSchedule(bare(**changes), direction)


def test_warm_up_ramps_the_learning_rate_linearly_to_its_value():
    s = schedule(warmup_steps=10)
    assert [s.factor(step, 0) for step in (0, 4, 9, 10, 99)] == pytest.approx([0.1, 0.5, 1.0, 1.0, 1.0])
    assert schedule().factor(0, 0) == 1.0  # no warm-up: the full rate from the first step


def test_cosine_decays_to_zero_at_max_steps():
    s = schedule(schedule="cosine")
    assert s.factor(0, 0) == 1.0 and s.factor(50, 0) == pytest.approx(0.5)
    assert s.factor(99, 0) < 1e-3 and s.factor(100, 0) == pytest.approx(0.0, abs=1e-12)
    factors = [s.factor(step, 0) for step in range(101)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    warm = schedule(schedule="cosine", warmup_steps=10)
    assert warm.factor(4, 0) == pytest.approx(0.5 * s.factor(4, 0))


def test_the_step_schedule_decays_by_its_factor_every_epoch_from_decay_after():
    s = schedule(schedule="step", decay_factor=0.5, decay_after=2)
    assert [s.factor(0, epoch) for epoch in range(5)] == pytest.approx([1.0, 1.0, 0.5, 0.25, 0.125])
    # the step counts epochs, not steps
    assert s.factor(10_000, 1) == 1.0


def validate(s, values):
    module = SimpleNamespace(curve=[])
    factors = []
    for i, value in enumerate(values):
        module.curve.append((i, value))
        s.on_validation_end(None, module)
        factors.append(s.factor(i, 0))
    return factors


def test_the_plateau_schedule_decays_after_decay_after_stale_validations():
    s = schedule(schedule="plateau", decay_factor=0.5, decay_after=2)
    #                      best  best stale stale->x0.5 best stale stale->x0.25
    factors = validate(s, [1.0, 0.9, 0.95, 0.9, 0.8, 0.85, 0.8])
    assert factors == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    # a maximised metric: lower is stale
    up = schedule("max", schedule="plateau", decay_factor=0.1, decay_after=1)
    assert validate(up, [0.5, 0.6, 0.6, 0.7, 0.1]) == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])
    # other schedules ignore validations
    assert validate(schedule(decay_after=1), [1.0, 2.0, 3.0]) == [1.0, 1.0, 1.0]


def test_the_schedule_sets_every_parameter_group_before_each_step():
    net = torch.nn.Linear(2, 1)
    opt = make_optimizer(net.parameters(), bare(lr=0.2))
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 5.0})
    s = schedule(lr=0.2, warmup_steps=4, schedule="step", decay_factor=0.5, decay_after=1)
    s.on_train_batch_start(SimpleNamespace(global_step=1, current_epoch=1, optimizers=[opt]), None, None, 0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.2 * 0.5 * 0.5] * 2)


@pytest.fixture(scope="module")
def toy():
    reg = load_registry(TOY)
    task = reg.tasks["tune-toy"]
    profile = task.profiles["smoke"]
    return task, reg.models["elman"], profile, task.prepare(profile, None)


def test_patience_stops_a_run_whose_validation_stops_improving(toy):
    task, model, profile, data = toy
    frozen = profile.replace(max_steps=40, val_every=2, optimizer="sgd", lr=0.0)  # nothing ever improves
    stopped = fit_cell(task, model, frozen.replace(patience=2), 0, data, accelerator="cpu")
    assert stopped["steps"] == 6 and [s for s, _ in stopped["curve"]] == [2, 4, 6]
    assert stopped["primary"]["value"] is not None  # still tested, at its best checkpoint
    learning = fit_cell(task, model, profile.replace(max_steps=12, patience=2), 0, data, accelerator="cpu")
    assert learning["steps"] == 12  # lr 1e-3 keeps improving the toy's validation loss


def test_patience_and_pruning_start_counting_at_min_steps(toy):
    task, model, profile, data = toy
    frozen = profile.replace(max_steps=40, val_every=2, optimizer="sgd", lr=0.0, patience=2, min_steps=10)
    stopped = fit_cell(task, model, frozen, 0, data, accelerator="cpu")
    assert stopped["steps"] == 14  # judged from step 10 on: best there, stale at 12 and 14
    asked = []
    fit_cell(task, model, frozen, 0, data, accelerator="cpu", should_prune=lambda s, v: asked.append(s), test=False)
    assert asked and min(asked) >= 10
    # a task that is solved stops at once, min_steps or not
    solved = fit_cell(
        task, model, frozen.replace(stop_at=1e9 if task.direction == "min" else -1e9), 0, data, accelerator="cpu"
    )
    assert solved["steps"] == 2


def test_the_plateau_schedule_waits_for_min_steps():
    s = schedule(schedule="plateau", decay_factor=0.5, decay_after=1, min_steps=2)
    module = SimpleNamespace(curve=[])
    factors = []
    for step, value in enumerate([1.0, 1.0, 1.0, 1.0]):
        module.curve.append((step, value))
        s.on_validation_end(None, module)
        factors.append(s.factor(step, 0))
    assert factors == [1.0, 1.0, 1.0, 0.5]  # steps 0 and 1 are not judged; 2 is the first best


def test_a_pruned_trial_stops_at_the_validation_that_pruned_it_and_is_not_tested(toy):
    task, model, profile, data = toy
    asked = []

    def prune_at_4(step, value):
        asked.append(step)
        return step >= 4

    out = fit_cell(task, model, profile, 0, data, accelerator="cpu", should_prune=prune_at_4, test=False)
    assert asked == [2, 4] and out["pruned_at"] == 4 and out["steps"] == 4
    assert out["metrics"] == {} and out["samples"] == {} and out["best_val"]["value"] is not None
    kept = fit_cell(task, model, profile, 0, data, accelerator="cpu", should_prune=lambda s, v: False)
    assert "pruned_at" not in kept and kept["steps"] == profile.max_steps and kept["metrics"]


def test_a_trial_that_reaches_its_last_validation_is_complete_not_pruned(toy):
    """At the step cap, or where early stopping ends the run, training is over: the trial
    trained as long as any other, and the pruner is not asked."""
    task, model, profile, data = toy
    asked = []

    def always(step, value):
        asked.append(step)
        return True

    capped = profile.replace(max_steps=2)  # one validation, the last
    out = fit_cell(task, model, capped, 0, data, accelerator="cpu", should_prune=always, test=False)
    assert asked == [] and "pruned_at" not in out and out["steps"] == 2
    frozen = profile.replace(max_steps=40, val_every=2, optimizer="sgd", lr=0.0, patience=1)
    asked.clear()
    stopped = fit_cell(
        task, model, frozen, 0, data, accelerator="cpu", should_prune=lambda s, v: s > 2 and always(s, v)
    )
    assert "pruned_at" not in stopped and stopped["steps"] == 4  # early stopping ended it at its 2nd validation


# --- the cell's seed orders the training data ----------------------------------------------


def first_batches(data, seed, n=3):
    torch.manual_seed(12345 + seed * 7)  # the global random state must not matter
    it = iter(loader(data, with_seed(data.train, seed), 8, True, False, seed))
    return [next(it) for _ in range(n)]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_seeds_order_a_shuffled_map_style_dataset():
    data = TaskData(train=torch.utils.data.TensorDataset(torch.arange(200)), val=None, test={}, fingerprint="t")
    flat = lambda batches: [b[0] for b in batches]  # noqa: E731
    assert same(flat(first_batches(data, 1)), flat(first_batches(data, 1)))
    assert not same(flat(first_batches(data, 1)), flat(first_batches(data, 2)))
    # evaluation loaders keep their order
    plain = next(iter(loader(data, data.train, 8, False, False)))[0]
    assert torch.equal(plain, torch.arange(8))


def test_seeds_order_length_bucketed_batches():
    items = [{"x": torch.zeros(1 + i % 13), "i": i} for i in range(300)]

    def collate(batch):
        return torch.tensor([it["i"] for it in batch])

    train = LengthBucketedBatches(items, 8, collate, epochs=2, seed=0)
    val = LengthBucketedBatches(items, 8, collate)
    data = TaskData(train=train, val=val, test={}, fingerprint="t", collate=None, batched=True, shuffle=False)
    assert same(first_batches(data, 1), first_batches(data, 1))
    assert not same(first_batches(data, 1), first_batches(data, 2))
    reseeded = with_seed(train, 5)
    assert reseeded is not train and train.seed == 0  # the prepared data is not changed
    assert sorted(int(i) for k in range(train.per_epoch) for i in reseeded[k]) == list(range(300))
    assert with_seed(val, 5) is val
    assert with_seed([1, 2, 3], 5) == [1, 2, 3]  # a dataset without with_seed is kept


def test_two_seeds_of_a_cell_see_different_training_batches(toy):
    task, model, profile, data = toy
    firsts = []

    class Recording(type(task)):
        def build(self, data, model, profile):
            net = super().build(data, model, profile)
            inner = net.training_loss

            def training_loss(batch):
                if net.first is None:
                    net.first = batch["y"].clone()
                    firsts.append(net.first)
                return inner(batch)

            net.first, net.training_loss = None, training_loss
            return net

    for seed in (0, 1, 0):
        fit_cell(Recording("tune-toy"), model, profile.replace(max_steps=2), seed, data, accelerator="cpu")
    assert torch.equal(firsts[0], firsts[2]) and not torch.equal(firsts[0], firsts[1])


# --- GPU policies, tested on the CPU ---------------------------------------------------


@pytest.mark.parametrize(("policy", "matmul", "tf32", "lightning"), [
    ("fp32", "highest", False, "32-true"),
    ("tf32", "high", True, "32-true"),
    ("bf16-mixed", "high", True, "bf16-mixed"),
])  # fmt: skip
def test_one_precision_policy_sets_every_family_s_switches_alike(policy, matmul, tf32, lightning):
    from rnnbench.training import apply_precision

    saved = (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)
    try:
        assert apply_precision(policy) == lightning
        assert torch.get_float32_matmul_precision() == matmul
        assert torch.backends.cudnn.allow_tf32 is tf32 and torch.backends.cuda.matmul.allow_tf32 is tf32
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]


def test_the_precision_policy_comes_from_the_environment_and_is_checked(monkeypatch):
    from rnnbench.training import DEFAULT_PRECISION, precision_policy

    monkeypatch.delenv("RNNBENCH_PRECISION", raising=False)
    assert precision_policy() == DEFAULT_PRECISION
    monkeypatch.setenv("RNNBENCH_PRECISION", "fp16")
    with pytest.raises(ValueError, match="fp16"):
        precision_policy()


def test_allocation_failures_of_every_library_count_as_out_of_memory():
    from rnnbench.training import is_out_of_memory

    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_out_of_memory(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate`"))
    assert not is_out_of_memory(RuntimeError("non-finite loss at step 3"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_nondeterministic_kernels_are_named_from_torch_s_warnings():
    from rnnbench.training import nondeterministic_ops

    caught = [
        "cumsum_cuda_kernel does not have a deterministic implementation, but you set 'torch.use_determ...",
        "ctc_loss_backward_gpu does not have a deterministic implementation, but you set ...",
        "cumsum_cuda_kernel does not have a deterministic implementation, but you set ...",
        "something else",
    ]
    assert nondeterministic_ops(caught) == ["cumsum_cuda_kernel", "ctc_loss_backward_gpu"]


def test_an_out_of_memory_in_testing_retries_the_test_only(tmp_path):
    reg = load_registry()
    adding, model = reg.tasks["adding-50"], reg.models["lstm"]
    calls = {"train": 0, "test_oom": 0}

    class Flaky(type(adding)):
        def build(self, data, model, profile):
            net = super().build(data, model, profile)
            training_loss, evaluate, reset = net.training_loss, net.evaluate, net.reset_state
            state = {"split": "train"}

            def counted_loss(batch):
                calls["train"] += 1
                return training_loss(batch)

            def flaky_evaluate(batch, metrics):
                if state["split"] == "test" and calls["test_oom"] == 0:
                    calls["test_oom"] += 1
                    raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
                return evaluate(batch, metrics)

            def remember(split):
                state["split"] = split
                reset(split)

            net.training_loss, net.evaluate, net.reset_state = counted_loss, flaky_evaluate, remember
            return net

    profile = adding.profiles["smoke"]
    data = adding.prepare(profile, str(tmp_path))
    flaky = copy.copy(adding)
    flaky.__class__ = Flaky  # the registered task, whatever its constructor takes
    record = fit_cell(flaky, model, profile, 0, data, accelerator="cpu")
    assert calls["test_oom"] == 1 and calls["train"] == record["steps"]  # trained once
    assert record["test_retried"].startswith("out of memory in testing")
    assert record["primary"]["value"] is not None
    assert record["precision"] and record["throughput_clock"] == "host"


def test_kernels_without_a_deterministic_implementation_are_recorded_not_filtered(tmp_path):
    """On a GPU torch warns of each op without a deterministic kernel (deterministic=
    "warn"); the cell's record names them. Simulated on the CPU by a net that warns as
    torch does, at every step (recorded once)."""
    import warnings

    reg = load_registry()
    adding, model = reg.tasks["adding-50"], reg.models["lstm"]

    class Warns(type(adding)):
        def build(self, data, model, profile):
            net = super().build(data, model, profile)
            training_loss = net.training_loss

            def warned_loss(batch):
                warnings.warn(
                    "cumsum_cuda_kernel does not have a deterministic implementation, but you set "
                    "'torch.use_deterministic_algorithms(True, warn_only=True)'",
                    UserWarning,
                )
                return training_loss(batch)

            net.training_loss = warned_loss
            return net

    profile = adding.profiles["smoke"]
    data = adding.prepare(profile, str(tmp_path))
    warning = copy.copy(adding)
    warning.__class__ = Warns
    record = fit_cell(warning, model, profile, 0, data, accelerator="cpu")
    assert record["nondeterministic_ops"] == ["cumsum_cuda_kernel"]
    plain = fit_cell(adding, model, profile, 0, data, accelerator="cpu")
    assert "nondeterministic_ops" not in plain


def test_throughput_on_a_gpu_is_timed_by_cuda_events(monkeypatch):
    """The host's clock stops before the device finishes; on a GPU each training batch is
    timed by a pair of CUDA events (faked here: 250 ms of device time per batch)."""
    from rnnbench.training import _Counter

    synced = []

    class Event:
        def __init__(self, enable_timing=False):
            assert enable_timing
            self.at = None

        def record(self):
            self.at = len(synced)

        def synchronize(self):
            synced.append(self)

        def elapsed_time(self, end):
            return 250.0

    monkeypatch.setattr(torch.cuda, "Event", Event)
    net = types.SimpleNamespace(count=lambda batch: 8)
    module = types.SimpleNamespace(device=torch.device("cuda", 0))
    counter = _Counter(net)
    for i in range(4):
        counter.on_train_batch_start(None, module, {}, i)
        counter.on_train_batch_end(None, module, None, {}, i)
    assert counter.clock == "cuda-events"
    assert counter.seconds == pytest.approx(1.0) and counter.count == 32
    assert synced, "the last event is waited for before reading the device's time"
    on_cpu = _Counter(net)
    on_cpu.on_train_batch_start(None, types.SimpleNamespace(device=torch.device("cpu")), {}, 0)
    on_cpu.on_train_batch_end(None, types.SimpleNamespace(device=torch.device("cpu")), None, {}, 0)
    assert on_cpu.clock == "host" and on_cpu.seconds < 1.0


def test_lengths_stay_on_the_host_when_a_batch_moves_to_the_device(tmp_path):
    from rnnbench.training import CellModule

    reg = load_registry()
    task, model = reg.tasks["adding-50"], reg.models["lstm"]
    profile = task.profiles["smoke"]
    data = task.prepare(profile, str(tmp_path))
    module = CellModule(task, task.build(data, model, profile), data, profile)
    batch = {"x": torch.zeros(2, 3), "lengths": torch.tensor([3, 2]), "y_lengths": torch.tensor([1, 1])}
    moved = module.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert list(moved) == list(batch)
    assert moved["lengths"].device.type == "cpu" and moved["lengths"] is batch["lengths"]
    assert moved["x"].device.type == "meta" and moved["y_lengths"].device.type == "meta"


def test_loader_workers_only_on_a_gpu_where_the_task_asks(monkeypatch):
    from types import SimpleNamespace

    from rnnbench.training import loader_workers

    data = SimpleNamespace(info={"loader_workers": 2})
    monkeypatch.delenv("RNNBENCH_LOADER_WORKERS", raising=False)
    assert loader_workers(data, torch.device("cpu")) == 0
    assert loader_workers(data, torch.device("cuda", 0)) == 2
    assert loader_workers(SimpleNamespace(info={}), torch.device("cuda", 0)) == 0
    monkeypatch.setenv("RNNBENCH_LOADER_WORKERS", "4")
    assert loader_workers(data, torch.device("cuda", 0)) == 4


def test_only_a_gpu_worker_may_start_loader_processes():
    """Loader workers run only on a GPU (training.loader_workers), and a daemonic process
    may not start children; a CPU worker stays daemonic, so the driver never waits on it."""
    from rnnbench import executors

    cpu = executors._Slot({"gpu": None, "accelerator": "cpu", "threads": 1}, [])
    gpu = executors._Slot({"gpu": "0", "accelerator": "cpu", "threads": 1}, [])
    try:
        cpu.start()
        gpu.start()
        assert cpu.proc.daemon
        assert not gpu.proc.daemon
    finally:
        cpu.kill()
        gpu.kill()


def test_a_cpu_cell_starts_no_loader_processes():
    data = types.SimpleNamespace(info={"loader_workers": 4})
    assert loader_workers(data, torch.device("cpu")) == 0


def test_the_cpu_model_comes_from_cpuinfo_else_from_platform(tmp_path, monkeypatch):
    import platform

    from rnnbench.training import cpu_model

    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763  64-Core Processor\n")
    assert cpu_model(str(x86)) == "AMD EPYC 7763 64-Core Processor"
    arm = tmp_path / "arm"  # aarch64 kernels name no model: "processor" is the core's number
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n")
    monkeypatch.setattr(platform, "processor", lambda: "")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert cpu_model(str(arm)) == "aarch64"
    assert cpu_model(str(tmp_path / "missing")) == "aarch64"


def test_a_cells_device_class_is_found_where_it_trains(monkeypatch):
    from rnnbench.training import cpu_model, device_class

    threads = torch.get_num_threads()
    assert device_class(torch.device("cpu"), "tf32") == (
        f"cpu: {cpu_model()}, {threads} thread{'' if threads == 1 else 's'}"
    )
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.delenv("RNNBENCH_CELLS_PER_GPU", raising=False)
    assert device_class(torch.device("cuda", 0), "tf32") == "gpu: NVIDIA H200, tf32"
    monkeypatch.setenv("RNNBENCH_CELLS_PER_GPU", "2")
    assert device_class(torch.device("cuda", 0), "bf16-mixed") == "gpu: NVIDIA H200, bf16-mixed, 2 cells per GPU"


def test_init_scale_keeps_normalisations_and_a_core_that_owns_its_initialisation():
    import torch

    from rnnbench.training import initialise_uniform

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.core = torch.nn.RNN(3, 4, nonlinearity="relu")
            torch.nn.init.eye_(self.core.weight_hh_l0)
            self.norm = torch.nn.LayerNorm(4)
            self.head = torch.nn.Linear(4, 2)

    torch.manual_seed(0)
    net = Net()
    initialise_uniform(net, 0.05)
    assert torch.equal(net.norm.weight, torch.ones(4)) and torch.equal(net.norm.bias, torch.zeros(4))
    assert not torch.equal(net.core.weight_hh_l0, torch.eye(4))
    assert all(p.abs().max() <= 0.05 for p in (*net.core.parameters(), *net.head.parameters()))
    net = Net()
    initialise_uniform(net, 0.05, keep=net.core)
    assert torch.equal(net.core.weight_hh_l0, torch.eye(4)) and net.head.weight.abs().max() <= 0.05
