"""The task net contract (``TaskNet``) and the shape nets that implement it, one per shape.

A task's ``build`` returns a ``TaskNet``: the model's core wrapped between the task's
input adapter and output head, with the hooks the trainer calls. It usually returns one
of the shape nets here with its own adapter, head, loss and metric update; nothing here
knows a specific task or model. Batches are dicts: ``x`` (input), ``y`` (target) and,
for padded sequences, ``lengths`` (CPU int tensor).
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import torch
from torch import nn

from rnnbench.nn import detach_state, read_out

LossFn = Callable[[torch.Tensor, dict], torch.Tensor]
UpdateFn = Callable[[Any, torch.Tensor, dict], None]
"""``update(metrics, outputs, batch)``: feed the torchmetrics with decoded predictions."""
SamplesFn = Callable[["TaskNet"], dict]
"""``samples(net)``: examples a person can read, from the trained net."""
CountFn = Callable[[Any], int]
"""``count(batch)``: throughput units in a training batch."""
OutcomesFn = Callable[[Any, dict], "dict | None"]
"""``outcomes(outputs, batch)``: per-example test outcomes of one batch (see ``TaskNet.outcomes``)."""


def batch_size(batch: Any) -> int:
    """The first dimension of the batch's first tensor (0 when it holds none)."""
    if isinstance(batch, torch.Tensor):
        return batch.size(0)
    if isinstance(batch, dict):
        batch = list(batch.values())
    for item in batch:
        if isinstance(item, torch.Tensor):
            return item.size(0)
    return 0


class CoreContractError(Exception):
    """A model's core broke the core contract (``rnnbench.api.Model``). The worker names
    the model's plugin as the culprit, though the error is raised here, in the core."""

    attributed_to = "model"


def check_core_output(core: nn.Module, x: torch.Tensor, y: Any) -> None:
    """Raise CoreContractError unless the core mapped ``x`` of ``[batch, time, ...]`` to
    ``y`` of ``[batch, time, core.output_size]``. Otherwise a time-major or mis-sized
    output fails later, in a task's head or loss, and reads as the task's mistake."""
    size = getattr(core, "output_size", None)
    shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
    if shape != (x.size(0), x.size(1), size):
        raise CoreContractError(
            f"core {type(core).__name__} returned y of shape {shape} for x of shape {tuple(x.shape)}, "
            f"not [batch, time, output_size] = [{x.size(0)}, {x.size(1)}, {size}]"
        )


class TaskNet(nn.Module, abc.ABC):
    """The ``nn.Module`` that ``Task.build`` returns and the trainer drives through its hooks.

    Required: ``training_loss`` and ``evaluate``. Optional: ``reset_state`` (does nothing),
    ``count`` (the batch size) and ``samples`` (none). A subclass overrides them, or a task
    passes ``samples`` and ``count`` to the constructor (every shape net accepts them), so
    that a task using a shape net needs no subclass of its own.
    """

    def __init__(
        self, *, samples: SamplesFn | None = None, count: CountFn | None = None, outcomes: OutcomesFn | None = None
    ):
        super().__init__()
        self.samples_fn = samples
        self.count_fn = count or batch_size
        self.outcomes_fn = outcomes
        self.outcome_sink: list | None = None
        """Set to a list by the trainer while the primary test set runs; None otherwise."""

    @abc.abstractmethod
    def training_loss(self, batch: Any) -> torch.Tensor:
        """The scalar loss to minimise on a training batch."""

    @abc.abstractmethod
    def evaluate(self, batch: Any, metrics: Any) -> torch.Tensor:
        """Update the torchmetrics in ``metrics`` (a dict built by ``Task.metrics``) with
        decoded predictions for ``batch``; return its loss."""

    def reset_state(self, split: str) -> None:
        """Called with ``"train"``, ``"val"`` or ``"test"`` at the start of every training
        epoch and every evaluation pass (and of each further test set), for nets that
        carry hidden state across batches or decode differently per split."""

    def count(self, batch: Any) -> int:
        """Throughput units in a training batch (``Task.throughput_unit``)."""
        return self.count_fn(batch)

    def check_core(self, core: nn.Module, x: torch.Tensor, y: Any) -> None:
        """``check_core_output`` on a core's first call only: the contract holds for
        every batch once it holds for one, and the check must cost no step its time."""
        checked = self.__dict__.setdefault("_checked_cores", set())
        if id(core) not in checked:
            check_core_output(core, x, y)
            checked.add(id(core))

    def samples(self) -> dict:
        """Examples a person can read, kept in the result record; called after testing."""
        return self.samples_fn(self) if self.samples_fn is not None else {}

    def outcomes(self, outputs: Any, batch: Any) -> dict | None:
        """Per-example outcomes of one test batch, from which the primary metric is
        recomputed for confidence intervals and paired tests (``rnnbench.outcomes``):
        ``{"kind": "mean" | "ratio" | "bleu", <column>: tensor or list per example, ...}``
        (optionally ``"transform"`` for a ratio). A task passes ``outcomes=`` to its shape
        net where the shape net's default does not compute its primary metric; None
        keeps none (the leaderboard then shows an interval over seeds only)."""
        if self.outcomes_fn is not None:
            return self.outcomes_fn(outputs, batch)
        return self.default_outcomes(outputs, batch)

    def default_outcomes(self, outputs: Any, batch: Any) -> dict | None:
        return None

    def keep_outcomes(self, outputs: Any, batch: Any) -> None:
        """Called by ``evaluate`` with the outputs it decoded; keeps them on test only."""
        if self.outcome_sink is not None:
            kept = self.outcomes(outputs, batch)
            if kept is not None:
                self.outcome_sink.append(kept)


def classification_outcomes(out: torch.Tensor, batch: dict) -> dict | None:
    """Correctness per example of class scores ``[batch, classes]`` against integer
    labels (accuracy), with the predictions; None for other outputs."""
    y = batch.get("y") if isinstance(batch, dict) else None
    if not isinstance(y, torch.Tensor) or out.dim() != 2 or y.dim() != 1:
        return None
    if out.size(-1) > 1 and not y.is_floating_point():
        pred = out.argmax(-1)
    elif out.size(-1) == 1 and y.is_floating_point():
        # one output per example against a float target: a regression, scored by MSE
        pred = out.squeeze(-1)
        return {"kind": "mean", "value": (pred - y) ** 2, "pred": pred, "target": y}
    else:
        return None
    return {"kind": "mean", "value": (pred == y).float(), "pred": pred, "target": y}


def binary_logit_outcomes(logit: torch.Tensor, batch: dict) -> dict:
    """Correctness per example of one logit per example (positive = class 1) against
    0/1 targets, with the predicted and true classes."""
    pred = (logit.reshape(-1) > 0).float()
    target = batch["y"].reshape(-1).float()
    return {"kind": "mean", "value": (pred == target).float(), "pred": pred, "target": target}


def sequence_nll_outcomes(logits: torch.Tensor, batch: dict, ignore_index: int = -100) -> dict | None:
    """Per sequence (row of the batch): the summed token NLL and the token count, so
    that cross-entropy, perplexity and bits per token are ratios of their sums."""
    from torch.nn import functional as F

    y = batch.get("y") if isinstance(batch, dict) else None
    if not isinstance(y, torch.Tensor) or logits.dim() != 3 or tuple(y.shape) != tuple(logits.shape[:2]):
        return None
    if y.is_floating_point():
        return None
    nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none", ignore_index=ignore_index)
    counted = (y != ignore_index).float()
    return {"kind": "ratio", "num": (nll * counted).sum(1), "den": counted.sum(1), "transform": "auto"}


class ManyToOne(TaskNet):
    """Sequence -> one output: adapter, core, one vector per sequence, head.

    ``readout`` is the task's (``Task.readout``), the same for every model:
    ``rnnbench.nn.read_out`` explains the choices.
    """

    def __init__(
        self,
        adapter: nn.Module,
        core: nn.Module,
        head: nn.Module,
        loss: LossFn,
        update: UpdateFn,
        readout: str = "last",
        *,
        samples: SamplesFn | None = None,
        count: CountFn | None = None,
        outcomes: OutcomesFn | None = None,
    ):
        super().__init__(samples=samples, count=count, outcomes=outcomes)
        self.adapter, self.core, self.head = adapter, core, head
        self.loss_fn, self.update_fn, self.readout = loss, update, readout

    def forward(self, batch: dict) -> torch.Tensor:
        lengths = batch.get("lengths")
        x = self.adapter(batch["x"])
        y, _ = self.core(x, None, lengths)
        self.check_core(self.core, x, y)
        return self.head(read_out(self.core, y, lengths, self.readout))

    def training_loss(self, batch: dict) -> torch.Tensor:
        return self.loss_fn(self(batch), batch)

    def evaluate(self, batch: dict, metrics) -> torch.Tensor:
        out = self(batch)
        self.update_fn(metrics, out, batch)
        self.keep_outcomes(out, batch)
        return self.loss_fn(out, batch)

    def default_outcomes(self, out: torch.Tensor, batch: dict) -> dict | None:
        return classification_outcomes(out, batch)


class AlignedManyToMany(TaskNet):
    """Sequence -> a label per step (language modeling, tagging).

    With ``carry_state=True`` the hidden state flows from one batch into the next and is
    detached between them: truncated backpropagation through time over contiguous
    streams, as the classic PTB recipes do. Each split keeps its own state, so a
    validation pass mid-epoch does not disturb training.
    """

    def __init__(
        self,
        adapter: nn.Module,
        core: nn.Module,
        head: nn.Module,
        loss: LossFn,
        update: UpdateFn,
        carry_state: bool = False,
        *,
        samples: SamplesFn | None = None,
        count: CountFn | None = None,
        outcomes: OutcomesFn | None = None,
    ):
        super().__init__(samples=samples, count=count or labels_in, outcomes=outcomes)
        self.adapter, self.core, self.head = adapter, core, head
        self.loss_fn, self.update_fn, self.carry_state = loss, update, carry_state
        self._state: dict[str, Any] = {}

    def reset_state(self, split: str) -> None:
        self._state["train" if split == "train" else "eval"] = None

    def forward(self, batch: dict, split: str = "train") -> torch.Tensor:
        state = self._state.get(split) if self.carry_state else None
        if state is not None and _batch_of(state) != batch["x"].size(0):
            state = None
        x = self.adapter(batch["x"])
        y, state = self.core(x, state, batch.get("lengths"))
        self.check_core(self.core, x, y)
        if self.carry_state:
            self._state[split] = detach_state(state)
        return self.head(y)

    def training_loss(self, batch: dict) -> torch.Tensor:
        return self.loss_fn(self(batch, "train"), batch)

    def evaluate(self, batch: dict, metrics) -> torch.Tensor:
        out = self(batch, "eval")
        self.update_fn(metrics, out, batch)
        self.keep_outcomes(out, batch)
        return self.loss_fn(out, batch)

    def default_outcomes(self, logits: torch.Tensor, batch: dict) -> dict | None:
        kept = sequence_nll_outcomes(logits, batch)
        if kept is not None and self.carry_state:
            # rows are parallel streams that go on in the next batch: one outcome per
            # batch (a step of every stream) keeps the outcomes in time order
            kept["num"], kept["den"] = kept["num"].sum(0, keepdim=True), kept["den"].sum(0, keepdim=True)
        return kept

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, steps: int) -> list[int]:
        """Greedy continuation of a 1-D prompt of token ids (for samples in records)."""
        was_training = self.training
        self.eval()
        x = prompt.view(1, -1).to(next(self.parameters()).device)
        out, state = self.core(self.adapter(x), None, None)
        produced = []
        nxt = self.head(out[:, -1]).argmax(-1, keepdim=True)
        for _ in range(steps):
            produced.append(int(nxt))
            out, state = self.core(self.adapter(nxt), state, None)
            nxt = self.head(out[:, -1]).argmax(-1, keepdim=True)
        self.train(was_training)
        return produced


def labels_in(batch: dict) -> int:
    """One unit per target label (per step of every sequence)."""
    return batch["y"].numel()


def _batch_of(state: Any) -> int:
    while not isinstance(state, torch.Tensor):
        state = state[0]
    return state.size(-2) if state.dim() == 3 else state.size(0)


class OneToMany(TaskNet):
    """Vector -> sequence (captioning), in the Show and Tell layout (Vinyals et al. 2015).

    The encoded vector is the core's first input step; every later step reads the
    embedding of the previous token: the target's in training (teacher forcing), the
    net's own greedy choice in ``decode``. Because the decoder is stepped with its
    state, the core must be causal and stateful. Batches hold ``x`` (the vector), ``y``
    (target ids ending with ``eos_id``, padded with ``pad_id``) and ``lengths`` (target
    lengths including ``eos``). ``update(metrics, tokens, batch)`` receives the greedy
    decoding, ``[batch, y.size(1)]`` ids with ``pad_id`` after the first ``eos_id``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        embed: nn.Module,
        core: nn.Module,
        head: nn.Module,
        loss: LossFn,
        update: UpdateFn,
        eos_id: int,
        pad_id: int = 0,
        *,
        samples: SamplesFn | None = None,
        count: CountFn | None = None,
        outcomes: OutcomesFn | None = None,
    ):
        super().__init__(samples=samples, count=count, outcomes=outcomes)
        self.encoder, self.embed, self.core, self.head = encoder, embed, core, head
        self.loss_fn, self.update_fn = loss, update
        self.eos_id, self.pad_id = eos_id, pad_id

    def forward(self, batch: dict) -> torch.Tensor:
        """Teacher-forced logits ``[batch, y.size(1), vocab]``: step t predicts ``y[:, t]``."""
        start = self.encoder(batch["x"]).unsqueeze(1)
        previous = self.embed(batch["y"][:, :-1])
        x = torch.cat([start, previous], 1)
        y, _ = self.core(x, None, batch.get("lengths"))
        self.check_core(self.core, x, y)
        return self.head(y)

    @torch.no_grad()
    def decode(self, x: torch.Tensor, max_len: int) -> torch.Tensor:
        """Greedy decoding of ``max_len`` steps; ``pad_id`` after each sequence's ``eos``."""
        step_input = self.encoder(x).unsqueeze(1)
        state = None
        finished = torch.zeros(x.size(0), dtype=torch.bool, device=x.device)
        tokens = torch.full((x.size(0), max_len), self.pad_id, dtype=torch.long, device=x.device)
        for t in range(max_len):
            y, state = self.core(step_input, state, None)
            choice = self.head(y[:, -1]).argmax(-1).masked_fill(finished, self.pad_id)
            tokens[:, t] = choice
            finished |= choice == self.eos_id
            if bool(finished.all()):
                break
            step_input = self.embed(choice).unsqueeze(1)
        return tokens

    def training_loss(self, batch: dict) -> torch.Tensor:
        return self.loss_fn(self(batch), batch)

    def evaluate(self, batch: dict, metrics) -> torch.Tensor:
        logits = self(batch)
        tokens = self.decode(batch["x"], batch["y"].size(1))
        self.update_fn(metrics, tokens, batch)
        self.keep_outcomes(tokens, batch)
        return self.loss_fn(logits, batch)

    def default_outcomes(self, tokens: torch.Tensor, batch: dict) -> dict:
        """Exact match per sequence: every target position that is not padding decoded right."""
        y = batch["y"]
        hit = (tokens == y) | (y == self.pad_id)
        return {"kind": "mean", "value": hit.all(1).float()}
