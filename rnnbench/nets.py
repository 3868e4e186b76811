"""Shape nets: the glue that puts a task's ends around a model's core, one per shape.

A task's ``build`` usually returns one of these with its own adapter, head, loss and
metric update; nothing here knows a specific task or model. Batches are dicts:
``x`` (input), ``y`` (target) and, for padded sequences, ``lengths`` (CPU int tensor).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from rnnbench.nn import detach_state, last_valid, length_mask

LossFn = Callable[[torch.Tensor, dict], torch.Tensor]
UpdateFn = Callable[[Any, torch.Tensor, dict], None]
"""``update(metrics, outputs, batch)``: feed the torchmetrics with decoded predictions."""


class ManyToOne(nn.Module):
    """Sequence -> one output: adapter, core, pooled final state, head.

    ``pool="last"`` reads the output after each sequence's last real step (right for a
    causal core); ``"mean"`` averages valid steps, which a bidirectional core needs,
    because its backward half has seen only the last input at that step.
    """

    def __init__(self, adapter: nn.Module, core: nn.Module, head: nn.Module,
                 loss: LossFn, update: UpdateFn, pool: str = "last"):
        super().__init__()
        self.adapter, self.core, self.head = adapter, core, head
        self.loss_fn, self.update_fn, self.pool = loss, update, pool

    def forward(self, batch: dict) -> torch.Tensor:
        lengths = batch.get("lengths")
        y, _ = self.core(self.adapter(batch["x"]), None, lengths)
        if self.pool == "mean":
            if lengths is None:
                z = y.mean(1)
            else:
                mask = length_mask(lengths.to(y.device), y.size(1)).unsqueeze(-1)
                z = (y * mask).sum(1) / mask.sum(1).clamp(min=1)
        else:
            z = last_valid(y, lengths)
        return self.head(z)

    def training_loss(self, batch: dict) -> torch.Tensor:
        return self.loss_fn(self(batch), batch)

    def evaluate(self, batch: dict, metrics) -> torch.Tensor:
        out = self(batch)
        self.update_fn(metrics, out, batch)
        return self.loss_fn(out, batch)


class AlignedManyToMany(nn.Module):
    """Sequence -> a label per step (language modeling, tagging).

    With ``carry_state=True`` the hidden state flows from one batch into the next and is
    detached between them: truncated backpropagation through time over contiguous
    streams, as the classic PTB recipes do. Each split keeps its own state, so a
    validation pass mid-epoch does not disturb training.
    """

    def __init__(self, adapter: nn.Module, core: nn.Module, head: nn.Module,
                 loss: LossFn, update: UpdateFn, carry_state: bool = False):
        super().__init__()
        self.adapter, self.core, self.head = adapter, core, head
        self.loss_fn, self.update_fn, self.carry_state = loss, update, carry_state
        self._state: dict[str, Any] = {}

    def reset_state(self, split: str) -> None:
        self._state["train" if split == "train" else "eval"] = None

    def forward(self, batch: dict, split: str = "train") -> torch.Tensor:
        state = self._state.get(split) if self.carry_state else None
        if state is not None and _batch_of(state) != batch["x"].size(0):
            state = None
        y, state = self.core(self.adapter(batch["x"]), state, batch.get("lengths"))
        if self.carry_state:
            self._state[split] = detach_state(state)
        return self.head(y)

    def training_loss(self, batch: dict) -> torch.Tensor:
        return self.loss_fn(self(batch, "train"), batch)

    def evaluate(self, batch: dict, metrics) -> torch.Tensor:
        out = self(batch, "eval")
        self.update_fn(metrics, out, batch)
        return self.loss_fn(out, batch)

    def count(self, batch: dict) -> int:
        return batch["y"].numel()

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


def _batch_of(state: Any) -> int:
    while not isinstance(state, torch.Tensor):
        state = state[0]
    return state.size(-2) if state.dim() == 3 else state.size(0)
