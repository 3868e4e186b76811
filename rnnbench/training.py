"""Train and test one (task, model, seed) cell with a Lightning Trainer.

Imports torch and lightning; only worker processes (and tests) import this module.
The per-step path does no host sync and no logging: the loss is summed on the device
and read once per validation, because on small recurrent models a per-step
``self.log`` or ``.item()`` costs as much as the step itself.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import resource
import shutil
import tempfile
import time
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.plugins.environments import LightningEnvironment
from torch.utils.data import DataLoader

from rnnbench.api import Model, Profile, Task, TaskData
from rnnbench.nets import TaskNet

for _name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
    logging.getLogger(_name).setLevel(logging.ERROR)
warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*Checkpoint directory.*exists.*")
warnings.filterwarnings("ignore", ".*deterministic.*")
warnings.filterwarnings("ignore", ".*LeafSpec.*")
warnings.filterwarnings("ignore", ".*`isinstance.*treespec.*")

NONFINITE_CHECK_EVERY = 10


class NonFiniteLoss(RuntimeError):
    def __init__(self, step: int):
        super().__init__(f"non-finite loss at step {step}")
        self.step = step


class CellModule(pl.LightningModule):
    """The generic training logic: the task net supplies loss and evaluation."""

    def __init__(self, task: Task, net: TaskNet, data: TaskData, profile: Profile):
        super().__init__()
        self.task, self.net, self.profile = task, net, profile
        self.val_metrics = torch.nn.ModuleDict(task.metrics(data))
        if task.primary_metric not in self.val_metrics:
            raise ValueError(f"task {task.name}: metrics() lacks primary metric {task.primary_metric!r}")
        self.test_names = list(data.test)
        self.test_metrics = torch.nn.ModuleList(torch.nn.ModuleDict(task.metrics(data)) for _ in self.test_names)
        self.curve: list[tuple[int, float]] = []
        self.test_results: dict[str, float] = {}
        self.test_outcomes: list = []
        """Per-example outcomes of the primary (first) test set, batch by batch."""
        self._test_idx = 0
        self._reset_loss()

    def _reset_loss(self) -> None:
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_n = 0
        self._bad_step = torch.full((), -1, dtype=torch.long, device=self.device)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """The batch on the device, except ``lengths``, which stays on the host: packing
        needs it there (``pack_padded_sequence``), so a copy to the device would come back
        with a host-device sync at every step."""
        if isinstance(batch, dict) and isinstance(batch.get("lengths"), torch.Tensor):
            rest = {k: v for k, v in batch.items() if k != "lengths"}
            moved = super().transfer_batch_to_device(rest, device, dataloader_idx)
            return {k: batch[k] if k == "lengths" else moved[k] for k in batch}
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    # --- training -------------------------------------------------------------------
    def on_train_start(self) -> None:
        self._reset_loss()

    def on_train_epoch_start(self) -> None:
        self.net.reset_state("train")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.net.training_loss(batch)
        detached = loss.detach()
        bad = ~torch.isfinite(detached) & (self._bad_step < 0)
        self._bad_step = torch.where(bad, torch.full_like(self._bad_step, self.global_step), self._bad_step)
        self._loss_sum = self._loss_sum + detached
        self._loss_n += 1
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.global_step % NONFINITE_CHECK_EVERY == 0:
            self._raise_if_nonfinite()

    def _raise_if_nonfinite(self) -> None:
        step = int(self._bad_step)
        if step >= 0:
            raise NonFiniteLoss(step)

    def configure_optimizers(self):
        return make_optimizer(self.parameters(), self.profile)

    # --- evaluation -----------------------------------------------------------------
    def _eval_step(self, batch: Any, metrics: torch.nn.ModuleDict) -> None:
        self.net.evaluate(batch, metrics)

    def _eval_results(self, metrics: torch.nn.ModuleDict) -> dict[str, float]:
        out = {name: float(m.compute()) for name, m in metrics.items()}
        for m in metrics.values():
            m.reset()
        return out

    def on_validation_epoch_start(self) -> None:
        self.net.reset_state("val")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        self._raise_if_nonfinite()
        results = self._eval_results(self.val_metrics)
        value = results[self.task.primary_metric]
        if not math.isfinite(value):  # never let a NaN metric become "best"
            value = math.inf if self.task.direction == "min" else -math.inf
        self.curve.append((int(self.global_step), value))
        self.log("val_primary", value, prog_bar=False, logger=False)

    def on_test_epoch_start(self) -> None:
        self.net.reset_state("test")
        self.test_outcomes = []
        self.net.outcome_sink = self.test_outcomes

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        if dataloader_idx != self._test_idx:
            # multiple test sets run one after another: close the previous one
            self._finish_test_set()
            self._test_idx = dataloader_idx
            self.net.reset_state("test")
            self.net.outcome_sink = None  # outcomes of the primary test set only
        self._eval_step(batch, self.test_metrics[dataloader_idx])

    def _finish_test_set(self) -> None:
        idx = self._test_idx
        results = self._eval_results(self.test_metrics[idx])
        suffix = "" if idx == 0 else f"_{self.test_names[idx]}"
        self.test_results.update({f"{k}{suffix}": v for k, v in results.items()})

    def on_test_epoch_end(self) -> None:
        self._finish_test_set()
        self._test_idx = 0
        self.net.outcome_sink = None


NORMALISATIONS = (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.modules.batchnorm._NormBase)


def initialise_uniform(net: torch.nn.Module, scale: float, keep: torch.nn.Module | None = None) -> None:
    """Every parameter of ``net`` (adapter, core and head) drawn from uniform(-scale, scale)
    (``Profile.init_scale``), from the seeded global generator, except where a uniform draw
    would change what the model is rather than how it starts: normalisation layers keep
    their unit gain and zero shift, and ``keep`` (a core whose model declares
    ``own_initialisation``) keeps what its model built."""
    kept = {id(p) for p in keep.parameters()} if keep is not None else set()
    for module in net.modules():
        if isinstance(module, NORMALISATIONS):
            kept.update(id(p) for p in module.parameters())
    with torch.no_grad():
        for p in net.parameters():
            if id(p) not in kept:
                p.uniform_(-scale, scale)


def make_optimizer(parameters: Any, profile: Profile) -> torch.optim.Optimizer:
    """The profile's optimiser at its base learning rate (``LearningRateSchedule`` scales it)."""
    params = [p for p in parameters if p.requires_grad]
    if profile.optimizer == "sgd":
        return torch.optim.SGD(params, lr=profile.lr, momentum=profile.momentum, weight_decay=profile.weight_decay)
    if profile.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=profile.lr, weight_decay=profile.weight_decay)
    return torch.optim.Adam(params, lr=profile.lr, weight_decay=profile.weight_decay)


class LearningRateSchedule(pl.Callback):
    """Sets every parameter group's learning rate before each training step: the profile's
    ``lr`` times a linear warm-up factor times the schedule's factor (``Profile.schedule``).
    One callback instead of chained torch schedulers, because the step schedule counts
    epochs, warm-up counts steps and the plateau schedule counts validations."""

    def __init__(self, profile: Profile, direction: str):
        self.profile, self.direction = profile, direction
        self.plateau_factor = 1.0
        self._best: float | None = None
        self._stale = 0

    def factor(self, step: int, epoch: int) -> float:
        p = self.profile
        warm = min(1.0, (step + 1) / p.warmup_steps) if p.warmup_steps > 0 else 1.0
        if p.schedule == "cosine":
            progress = min(1.0, step / max(1, p.max_steps))
            return warm * 0.5 * (1.0 + math.cos(math.pi * progress))
        if p.schedule == "step":
            return warm * p.decay_factor ** max(0, epoch - p.decay_after + 1)
        if p.schedule == "plateau":
            return warm * self.plateau_factor
        return warm

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        lr = self.profile.lr * self.factor(trainer.global_step, trainer.current_epoch)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr

    def on_validation_end(self, trainer, pl_module):
        if self.profile.schedule != "plateau" or not pl_module.curve:
            return
        step, value = pl_module.curve[-1]
        if step < (self.profile.min_steps or 0):
            return
        better = self._best is None or (value < self._best if self.direction == "min" else value > self._best)
        if better:
            self._best, self._stale = value, 0
            return
        self._stale += 1
        if self._stale >= max(1, self.profile.decay_after):
            self.plateau_factor *= self.profile.decay_factor
            self._stale = 0


class PatientEarlyStopping(EarlyStopping):
    """Lightning's early stopping, whose patience starts counting at ``min_steps``
    (``Profile.min_steps``); reaching ``stopping_threshold`` stops at any step."""

    def __init__(self, *args, min_steps: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_steps = min_steps or 0

    def on_validation_end(self, trainer, pl_module):
        if trainer.global_step < self.min_steps and not self._solved(trainer):
            return
        super().on_validation_end(trainer, pl_module)

    def _solved(self, trainer) -> bool:
        value = trainer.callback_metrics.get(self.monitor)
        return (
            value is not None
            and self.stopping_threshold is not None
            and bool(self.monitor_op(value, self.stopping_threshold))
        )


class Pruning(pl.Callback):
    """Stops a tuning trial whose validation curve ``should_prune(step, value)`` judges
    hopeless (rnnbench.tuning decides; the trainer only asks after each validation, and
    not before ``min_steps``)."""

    def __init__(self, should_prune, min_steps: int | None = None):
        self.should_prune, self.min_steps = should_prune, min_steps or 0
        self.pruned_at: int | None = None

    def on_validation_end(self, trainer, pl_module):
        if pl_module.curve and self.pruned_at is None:
            step, value = pl_module.curve[-1]
            if step < self.min_steps:
                return
            if trainer.should_stop or step >= trainer.max_steps:
                return  # training ends here anyway (its cap, or early stopping): a complete trial
            if self.should_prune(step, value):
                self.pruned_at = step
                trainer.should_stop = True


def with_seed(dataset: Any, seed: int) -> Any:
    """``dataset`` drawing its order from ``seed``: a batched dataset that shuffles itself
    (``rnnbench.data.LengthBucketedBatches``) offers ``with_seed``; others are returned as
    they are (a TBPTT stream's order is the text's)."""
    reseed = getattr(dataset, "with_seed", None)
    return reseed(seed) if callable(reseed) else dataset


def loader_workers(data: TaskData, device: torch.device) -> int:
    """DataLoader worker processes for a cell: on a GPU, what the task asks for where its
    collation costs (``data.info["loader_workers"]``, e.g. padding speech features), so the
    training thread only feeds the device; ``RNNBENCH_LOADER_WORKERS`` overrides. None on a
    CPU, where a worker process would take a core from the training itself."""
    if device.type != "cuda":
        return 0
    override = os.environ.get("RNNBENCH_LOADER_WORKERS")
    return max(0, int(override if override else data.info.get("loader_workers", 0)))


def loader(
    data: TaskData,
    dataset: Any,
    batch_size: int,
    train: bool,
    pin: bool,
    seed: int | None = None,
    workers: int = 0,
) -> DataLoader:
    shuffle = train and data.shuffle and not data.batched
    return DataLoader(
        dataset,
        num_workers=workers,
        persistent_workers=workers > 0 and train,
        batch_size=None if data.batched else batch_size,
        shuffle=shuffle,
        # the cell's seed, not the global random state, orders the training data
        generator=torch.Generator().manual_seed(seed) if shuffle and seed is not None else None,
        collate_fn=data.collate,
        drop_last=False,  # a test loader that drops its last batch scores a different test set
        pin_memory=pin,
    )


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda-max-allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process-max-rss"


PRECISIONS = ("fp32", "tf32", "bf16-mixed")
PRECISION_ENV = "RNNBENCH_PRECISION"
DEFAULT_PRECISION = "tf32"
"""One float policy for every model (``--precision``): fp32 computes float32 matmuls and
convolutions in full precision everywhere; tf32 (default) lets every family's matmuls
and cuDNN kernels use TF32 tensor cores (before, cuDNN's LSTM/GRU did and every other
family did not); bf16-mixed adds Lightning's bfloat16 autocast. No effect on a CPU."""


def precision_policy() -> str:
    """The run's policy: ``RNNBENCH_PRECISION`` (the CLI sets it; workers inherit it)."""
    value = os.environ.get(PRECISION_ENV) or DEFAULT_PRECISION
    if value not in PRECISIONS:
        raise ValueError(f"{PRECISION_ENV}={value!r} is not one of {', '.join(PRECISIONS)}")
    return value


def apply_precision(policy: str) -> str:
    """Set torch's float32 matmul and cuDNN TF32 switches from ``policy``, the same for
    every model family; returns Lightning's ``precision`` argument."""
    tf32 = policy != "fp32"
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    return "bf16-mixed" if policy == "bf16-mixed" else "32-true"


OOM_MESSAGES = ("out of memory", "CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED")


def is_out_of_memory(exc: BaseException) -> bool:
    """A device allocation failure, whichever library reported it: torch's allocator
    (OutOfMemoryError), or cuDNN/cuBLAS failing to allocate their workspace."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    message = str(exc)
    return any(m in message for m in OOM_MESSAGES)


def free_device_memory() -> None:
    """Return what a failed attempt held to the device: collect its tensors (the caller
    has dropped the exception, whose traceback's frames held them), then the cache."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


NONDETERMINISTIC_RE = r"^(\S+?) does not have a deterministic implementation"


def nondeterministic_ops(caught: list) -> list[str]:
    """The operations torch warned have no deterministic implementation on this device
    (``deterministic="warn"``), from warnings caught during a cell."""
    import re

    ops = []
    for w in caught:
        m = re.search(NONDETERMINISTIC_RE, str(getattr(w, "message", w)))
        if m and m.group(1) not in ops:
            ops.append(m.group(1))
    return ops


def fit_cell(
    task: Task,
    model: Model,
    profile: Profile,
    seed: int,
    data: TaskData,
    accelerator: str = "auto",
    cluster: bool = False,
    should_prune: Any = None,
    test: bool = True,
) -> dict[str, Any]:
    """Train on ``data.train``, validate every ``profile.val_every`` steps, test the best
    validation checkpoint on every test set. Returns the measured part of a result record.

    A tuning trial passes ``test=False`` (it is judged on validation only) and
    ``should_prune(step, value)``, asked after each validation, to stop early."""
    pl.seed_everything(seed, workers=True, verbose=False)
    policy = precision_policy()
    lightning_precision = apply_precision(policy)
    # Vanishing gradients underflow to subnormal floats, which the CPU computes 4-7x
    # slower (measured on adding-200's LSTM backward); flushing them changes no metric.
    torch.set_flush_denormal(True)
    net = task.build(data, model, profile)
    if not isinstance(net, TaskNet):
        raise TypeError(f"task {task.name}: build() returned {type(net).__name__}, not an rnnbench.nets.TaskNet")
    if profile.init_scale is not None:
        initialise_uniform(net, profile.init_scale, keep=net.core if model.own_initialisation else None)
    module = CellModule(task, net, data, profile)
    ckpt_dir = tempfile.mkdtemp(prefix="rnnbench-ckpt-")
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        monitor="val_primary",
        mode=task.direction,
        save_top_k=1,
        save_weights_only=True,
        enable_version_counter=False,
    )
    val_every = max(1, min(profile.val_every, profile.max_steps))
    callbacks: list[pl.Callback] = [checkpoint, LearningRateSchedule(profile, task.direction)]
    if profile.stop_at is not None or profile.patience is not None:
        callbacks.append(
            PatientEarlyStopping(
                "val_primary",
                mode=task.direction,
                stopping_threshold=profile.stop_at,
                patience=profile.patience if profile.patience is not None else profile.max_steps,
                check_on_train_epoch_end=False,
                min_steps=profile.min_steps,
            )
        )
    pruning = Pruning(should_prune, profile.min_steps) if should_prune is not None else None
    if pruning is not None:
        callbacks.append(pruning)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        max_steps=profile.max_steps,
        max_epochs=-1,
        val_check_interval=val_every,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        gradient_clip_val=profile.grad_clip or None,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=_deterministic(accelerator),
        precision=lightning_precision,
        callbacks=callbacks,
        # in a Ray task or SLURM allocation, one cell is one process on one device
        plugins=[LightningEnvironment()] if cluster else None,
    )
    device = trainer.strategy.root_device
    pin = device.type == "cuda"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    workers = loader_workers(data, device)
    train_dl = loader(data, with_seed(data.train, seed), profile.batch_size, True, pin, seed, workers)
    val_dl = loader(data, data.val, profile.batch_size, False, pin, workers=workers)
    test_dls = [loader(data, ds, profile.batch_size, False, pin, workers=workers) for ds in data.test.values()]

    units = _Counter(net)
    trainer.callbacks.append(units)
    test_retried = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            # deterministic="warn" on a GPU: torch warns of each op without a deterministic
            # kernel (cumsum, CTC backward); the record names them instead of hiding them
            # once per op and call site, not at every step
            warnings.filterwarnings("default", ".*does not have a deterministic implementation.*")
            t0 = time.perf_counter()
            trainer.fit(module, train_dataloaders=train_dl, val_dataloaders=val_dl)
            train_seconds = time.perf_counter() - t0
            if module._loss_n:
                module._raise_if_nonfinite()
            best_path = checkpoint.best_model_path
            samples = {}
            if test:
                test_batch = profile.batch_size
                while True:
                    try:
                        trainer.test(module, dataloaders=test_dls, ckpt_path=best_path or None, verbose=False)
                        break
                    except Exception as exc:  # an OOM in testing retries the test only, not training
                        if not is_out_of_memory(exc) or test_batch == 1:
                            raise
                    # out of the except block: the exception and its traceback's frames,
                    # which hold the failed attempt's tensors, are gone before freeing
                    free_device_memory()
                    test_batch = max(1, test_batch // 2)
                    module.test_results, module._test_idx = {}, 0
                    test_dls = [loader(data, ds, test_batch, False, pin, workers=workers) for ds in data.test.values()]
                    test_retried = f"out of memory in testing; tested with batch size {test_batch}"
                samples = net.samples()
        ops = nondeterministic_ops(caught)
        for w in caught:  # the rest as before: shown unless filtered
            if not nondeterministic_ops([w]):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    finally:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    peak, peak_kind = peak_memory_mb(device)
    best_step = None
    if module.curve:
        pick = min if task.direction == "min" else max
        best_step = pick(module.curve, key=lambda sv: sv[1])[0]
    steps = int(trainer.global_step)
    return {
        "metrics": module.test_results,
        "primary": {
            "name": task.primary_metric,
            "value": module.test_results.get(task.primary_metric),
            "direction": task.direction,
        },
        "best_val": {
            "step": best_step,
            "value": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        },
        "curve": module.curve,
        "params": sum(p.numel() for p in net.parameters() if p.requires_grad),
        "train_seconds": round(train_seconds, 3),
        "steps": steps,
        "throughput": {"unit": f"{task.throughput_unit}/s", "value": round(units.count / max(units.seconds, 1e-9), 2)},
        "throughput_clock": units.clock,
        "peak_memory_mb": round(peak, 1),
        "peak_memory_kind": peak_kind,
        "device": _device_name(device),
        "device_class": device_class(device, policy),
        "first_step_at": units.first_step_at,
        "samples": samples,
        "precision": policy,
        **({"nondeterministic_ops": ops} if ops else {}),
        **({"test_retried": test_retried} if test_retried else {}),
        "outcomes": gather_outcomes(module.test_outcomes),
        **({"pruned_at": pruning.pruned_at} if pruning is not None and pruning.pruned_at is not None else {}),
    }


def gather_outcomes(batches: list[dict]) -> dict | None:
    """The per-batch outcomes of ``TaskNet.outcomes`` as one plain mapping (``kind``,
    ``transform`` and ``columns`` of lists), or None when the net kept none."""
    if not batches:
        return None
    kind, transform = batches[0].get("kind"), batches[0].get("transform", "none")
    columns: dict[str, list] = {}
    for batch in batches:
        for name, value in batch.items():
            if name in ("kind", "transform"):
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach().reshape(-1).double().cpu().tolist()
            columns.setdefault(name, []).extend(value)
    return {"kind": kind, "transform": transform, "columns": columns}


class _Counter(pl.Callback):
    """Counts throughput units and time spent in training batches only (not validation).

    On a GPU the host's clock would stop before the device finished (kernels run
    asynchronously), so each batch is timed with CUDA events, read once at the end."""

    def __init__(self, net: TaskNet):
        self.net = net
        self.count = 0
        self._host_seconds = 0.0
        self._t = 0.0
        self._events: list = []
        self.first_step_at: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._t = time.perf_counter()
        if self.first_step_at is None:
            self.first_step_at = self._t
        self.count += self.net.count(batch)
        if pl_module.device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            start.record()
            self._events.append([start, None])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._host_seconds += time.perf_counter() - self._t
        if self._events and self._events[-1][1] is None:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self._events[-1][1] = end

    @property
    def seconds(self) -> float:
        """Training-batch seconds: the device's own (CUDA events) on a GPU, else the host's."""
        pairs = [(a, b) for a, b in self._events if b is not None]
        if not pairs:
            return self._host_seconds
        pairs[-1][1].synchronize()
        return sum(a.elapsed_time(b) for a, b in pairs) / 1000.0

    @property
    def clock(self) -> str:
        return "cuda-events" if self._events else "host"


def _deterministic(accelerator: str) -> str | bool:
    """Deterministic kernels on GPUs only. On the CPU a seeded cell is bitwise
    reproducible at a fixed thread count without them, and deterministic mode makes
    the fused LSTM ~14 % slower there (measured on torch 2.13, one thread)."""
    on_gpu = accelerator != "cpu" and torch.cuda.is_available()
    return "warn" if on_gpu else False


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def device_class(device: torch.device, policy: str) -> str:
    """What this cell's time was measured on (``rnnbench.records.describe_device``),
    found here in the worker, on the machine that trains it."""
    from rnnbench.records import describe_device

    if device.type == "cuda":
        shared = int(os.environ.get("RNNBENCH_CELLS_PER_GPU") or 1)
        return describe_device("gpu", torch.cuda.get_device_name(device), precision=policy, cells_per_gpu=shared)
    if device.type == "cpu":
        return describe_device("cpu", cpu_model(), threads=torch.get_num_threads())
    return describe_device(device.type, platform.processor() or platform.machine())


_CPUINFO_MODEL_KEYS = ("model name", "cpu model", "Processor", "cpu")
"""Where /proc/cpuinfo names the processor: x86 and most others, MIPS, older ARM kernels, POWER."""


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The processor's model name, e.g. "AMD EPYC 7763 64-Core Processor": from
    ``cpuinfo`` on Linux, else what ``platform`` knows (an architecture at least)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in _CPUINFO_MODEL_KEYS and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
