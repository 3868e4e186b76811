"""A one-directional stack of one of torch's fused recurrent modules, shared by the
classic models and the decoders of the bidirectional ones (which must run the same cell
one way)."""


def fused_core(torch_class: str, input_size, hidden_size, num_layers, dropout):
    """A one-directional stack of torch's ``torch_class`` ("RNN", "LSTM", "GRU") in a
    ``FusedCore``, dropout between its layers."""
    from torch import nn

    from rnnbench.nn import FusedCore

    return FusedCore(
        getattr(nn, torch_class)(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
    )
