"""Device placement without a GPU: every registered task x model runs a training and an
evaluation step with the default device set to ``meta`` (rnnbench.testing
.check_device_placement). A tensor a net creates without ``device=`` lands on the meta
device and fails against the CPU tensors around it, as it would fail against CUDA ones."""

import pytest
import torch

from rnnbench.testing import check_device_placement, load_registry

TASKS = sorted(load_registry().tasks)


@pytest.mark.parametrize("task", TASKS)
def test_every_model_places_its_tensors_on_the_batch_device(task):
    torch.set_num_threads(1)
    failures = check_device_placement(task)
    assert not failures, "\n".join(failures)


def test_the_check_catches_a_tensor_created_on_the_default_device(monkeypatch):
    forward = torch.nn.LSTM.forward

    def misplaced(self, x, *args, **kwargs):  # adds a tensor made without device=
        y, state = forward(self, x, *args, **kwargs)
        return y + torch.zeros(y.shape[-1]), state

    monkeypatch.setattr(torch.nn.LSTM, "forward", misplaced)
    task = TASKS[0]
    failures = check_device_placement(task, ["lstm", "gru"])
    assert len(failures) == 1 and "lstm, training step" in failures[0] and "meta" in failures[0]
