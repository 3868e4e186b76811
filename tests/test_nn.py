"""One readout per task: read_out's "last" and "mean", a bidirectional core's final state,
and no built-in task choosing its readout by the model."""

import pytest
import torch
from torch import nn

from rnnbench.api import READOUTS
from rnnbench.data import DataUnavailable, default_cache_dir
from rnnbench.nets import ManyToOne
from rnnbench.nn import FusedCore, last_valid, read_out
from rnnbench.testing import load_registry

LENGTHS = torch.tensor([7, 3, 1, 5])


def padded_batch(features=3, garbage=100.0):
    """A batch of four sequences of LENGTHS, padded with large values (which must not matter)."""
    torch.manual_seed(0)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), features)
    for i, n in enumerate(LENGTHS):
        x[i, n:] = garbage
    return x


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU, nn.RNN])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_last_of_a_bidirectional_core_is_both_directions_final_hidden_state(cell, num_layers):
    torch.manual_seed(1)
    rnn = cell(3, 5, num_layers=num_layers, batch_first=True, bidirectional=True)
    core = FusedCore(rnn).eval()
    x = padded_batch()
    y, _ = core(x, None, LENGTHS)
    packed = nn.utils.rnn.pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    _, state = rnn(packed)
    h_n = state[0] if isinstance(state, tuple) else state
    expected = torch.cat([h_n[-2], h_n[-1]], -1)  # top layer: forward, backward
    got = read_out(core, y, LENGTHS, "last")
    assert got.shape == (len(LENGTHS), 10)
    torch.testing.assert_close(got, expected)
    # the output after the last valid step is not it: its backward half has read one step
    assert not torch.allclose(last_valid(y, LENGTHS), expected)


def test_last_of_a_bidirectional_core_without_lengths_is_its_final_hidden_state():
    torch.manual_seed(2)
    rnn = nn.GRU(3, 4, batch_first=True, bidirectional=True)
    core = FusedCore(rnn)
    x = torch.randn(2, 6, 3)
    y, h_n = core(x)
    torch.testing.assert_close(read_out(core, y, None, "last"), torch.cat([h_n[-2], h_n[-1]], -1))


def test_last_of_a_causal_core_is_the_output_after_the_last_valid_step():
    torch.manual_seed(3)
    rnn = nn.LSTM(3, 4, batch_first=True)
    core = FusedCore(rnn)
    x = padded_batch()
    y, (h_n, _) = core(x, None, LENGTHS)
    torch.testing.assert_close(read_out(core, y, LENGTHS, "last"), h_n[-1])
    # a core without last_state: the output after each sequence's last valid step
    plain = nn.Identity()
    torch.testing.assert_close(read_out(plain, y, LENGTHS, "last"), y[torch.arange(4), LENGTHS - 1])


def test_mean_averages_the_valid_steps_only():
    y = torch.randn(len(LENGTHS), int(LENGTHS.max()), 2)
    expected = torch.stack([y[i, :n].mean(0) for i, n in enumerate(LENGTHS)])
    dirty = y.clone()
    for i, n in enumerate(LENGTHS):
        dirty[i, n:] = 1e6
    torch.testing.assert_close(read_out(nn.Identity(), dirty, LENGTHS, "mean"), expected)
    torch.testing.assert_close(read_out(nn.Identity(), y, None, "mean"), y.mean(1))


def test_mean_of_a_bidirectional_core_ignores_padding():
    torch.manual_seed(4)
    core = FusedCore(nn.LSTM(3, 4, batch_first=True, bidirectional=True)).eval()
    a, b = padded_batch(garbage=100.0), padded_batch(garbage=-7.0)
    ya, _ = core(a, None, LENGTHS)
    yb, _ = core(b, None, LENGTHS)
    torch.testing.assert_close(read_out(core, ya, LENGTHS, "mean"), read_out(core, yb, LENGTHS, "mean"))
    one = core(a[1:2, :3])[0]  # the second sequence alone, unpadded
    torch.testing.assert_close(read_out(core, ya, LENGTHS, "mean")[1], one.mean(1)[0], rtol=1e-5, atol=1e-6)


def test_an_unknown_readout_is_refused():
    with pytest.raises(ValueError, match="readout 'max' is not 'last' or 'mean'"):
        read_out(nn.Identity(), torch.zeros(1, 2, 3), None, "max")


def test_a_many_to_one_net_uses_its_readout():
    torch.manual_seed(5)
    core = FusedCore(nn.GRU(3, 4, batch_first=True, bidirectional=True))
    x = padded_batch()
    batch = {"x": x, "lengths": LENGTHS}
    y, _ = core(x, None, LENGTHS)
    for readout in READOUTS:
        net = ManyToOne(nn.Identity(), core, nn.Identity(), None, None, readout)
        torch.testing.assert_close(net(batch), read_out(core, y, LENGTHS, readout))


MODELS = ("lstm", "bi-lstm", "gru", "bi-gru", "tcn", "lru")


def test_no_built_in_task_chooses_its_readout_by_the_model():
    reg = load_registry()
    checked = set()
    for task in reg.tasks.values():
        assert task.readout in READOUTS, task.name
        if task.shape not in ("many-to-one", "one-to-one"):
            continue
        profile = task.profiles["smoke"]
        try:
            data = task.prepare(profile, default_cache_dir())
        except DataUnavailable:  # pragma: no cover - a data set that is not cached here
            continue
        for name in MODELS:
            model = reg.models[name]
            if model.unsupported(task):
                continue
            net = task.build(data, model, profile)
            if isinstance(net, ManyToOne):
                assert net.readout == task.readout, f"{task.name} × {name}: {net.readout} != {task.readout}"
                checked.add((task.name, name))
    tasks = {t for t, _ in checked}
    assert {"adding-50", "sentiment", "speech-digits", "stock-return"} <= tasks
    assert all((t, m) in checked for t in tasks for m in ("lstm", "bi-lstm"))
