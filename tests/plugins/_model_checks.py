"""Contract checks shared by the model plugins' tests: output shapes, causality,
chunked-with-state == whole, and padding invariance. Each builds a small core on random
inputs and compares outputs the contract says must agree."""

from __future__ import annotations

import torch

from rnnbench.testing import load_registry

INPUT, HIDDEN, BATCH, STEPS = 3, 8, 4, 12
ATOL = 1e-5


def core(model_name: str, num_layers: int = 2, dropout: float = 0.1, hidden: int = HIDDEN):
    """A model's core in eval mode (dropout must then change nothing)."""
    torch.manual_seed(0)
    return load_registry().models[model_name].build_core(INPUT, hidden, num_layers, dropout).eval()


def inputs(steps: int = STEPS, seed: int = 1) -> torch.Tensor:
    return torch.randn(BATCH, steps, INPUT, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def check_shapes(c) -> None:
    y, _ = c(inputs())
    assert y.shape == (BATCH, STEPS, c.output_size)
    assert torch.isfinite(y).all()


@torch.no_grad()
def future_changes_past(c, t: int = 5) -> bool:
    """Whether changing the inputs after step ``t`` changes any output up to ``t``."""
    x = inputs()
    changed = x.clone()
    changed[:, t + 1:] = torch.randn_like(changed[:, t + 1:]) * 3
    y, _ = c(x)
    y_changed, _ = c(changed)
    assert not torch.allclose(y[:, t + 1:], y_changed[:, t + 1:]), "later inputs changed nothing at all"
    return not torch.allclose(y[:, : t + 1], y_changed[:, : t + 1], atol=ATOL)


@torch.no_grad()
def check_chunked_equals_whole(c, cut: int = 5, atol: float = ATOL) -> None:
    """A sequence fed in two pieces, the state passed along, gives the whole's outputs;
    a one-step piece (decoding) too."""
    x = inputs()
    whole, final = c(x)
    first, state = c(x[:, :cut])
    middle, state = c(x[:, cut:cut + 1], state)
    rest, state_rest = c(x[:, cut + 1:], state)
    torch.testing.assert_close(torch.cat([first, middle, rest], 1), whole, atol=atol, rtol=1e-4)
    torch.testing.assert_close(_flat(state_rest), _flat(final), atol=atol, rtol=1e-4)


@torch.no_grad()
def check_padding_invariance(c, stateful: bool = True, atol: float = ATOL) -> None:
    """Outputs at valid steps of a padded batch (garbage in the padding) equal those of
    each sequence run alone; so does the final state, taken at each sequence's end."""
    x = inputs()
    lengths = torch.tensor([STEPS, 7, 1, 10])
    padded = x.clone()
    for b, n in enumerate(lengths):
        padded[b, n:] = 100.0  # loud garbage: any leak shows
    y, state = c(padded, None, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone, alone_state = c(x[b:b + 1, :n])
        torch.testing.assert_close(y[b:b + 1, :n], alone, atol=atol, rtol=1e-4)
        if stateful:
            torch.testing.assert_close(_flat(state, b), _flat(alone_state, 0), atol=atol, rtol=1e-4)


def _flat(state, row: int | None = None) -> torch.Tensor:
    """A nested state's tensors, flattened (only batch row ``row`` when given)."""
    if isinstance(state, torch.Tensor):
        if row is not None:
            # torch RNN states are [layers*directions, batch, hidden]; others [batch, ...]
            state = state[:, row] if state.dim() == 3 else state[row]
        return torch.view_as_real(state).flatten() if state.is_complex() else state.flatten()
    return torch.cat([_flat(s, row) for s in state])
