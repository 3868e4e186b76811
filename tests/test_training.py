"""Training one cell: a seeded CPU cell is reproducible without deterministic kernels."""

import pytest
import torch

from rnnbench.nets import TaskNet
from rnnbench.testing import load_registry
from rnnbench.training import _deterministic, fit_cell


def test_a_seeded_cpu_cell_gives_the_same_numbers_twice(tmp_path):
    reg = load_registry()
    task, model = reg.tasks["adding-50"], reg.models["lstm"]
    profile = task.profiles["smoke"]
    data = task.prepare(profile, str(tmp_path))
    first = fit_cell(task, model, profile, 3, data, accelerator="cpu")
    assert not torch.are_deterministic_algorithms_enabled()
    second = fit_cell(task, model, profile, 3, data, accelerator="cpu")
    assert first["metrics"] == second["metrics"] and first["curve"] == second["curve"]
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
    record = fit_cell(Flaky(adding.length, quick_steps=1), model, profile, 0, data, accelerator="cpu")
    assert calls["test_oom"] == 1 and calls["train"] == record["steps"]  # trained once
    assert record["test_retried"].startswith("out of memory in testing")
    assert record["primary"]["value"] is not None
    assert record["precision"] and record["throughput_clock"] == "host"


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


def test_a_local_worker_may_start_loader_processes():
    import multiprocessing

    from rnnbench import executors

    slot = executors._Slot({"gpu": None, "accelerator": "cpu", "threads": 1}, [])
    slot.start()
    try:
        assert not slot.proc.daemon
    finally:
        slot.kill()
    assert multiprocessing.get_context("spawn")
