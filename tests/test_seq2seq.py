"""The generic encoder-decoder (rnnbench.seq2seq): attention masking, greedy and beam
search on a hand-built net, state selection, padding invariance on a real core."""

import pytest
import torch
from torch import nn

from rnnbench.api import Model
from rnnbench.seq2seq import AdditiveAttention, AttentionReadout, EncoderDecoder, LuongAttention

torch.set_num_threads(1)


def test_attention_gives_padding_no_weight():
    torch.manual_seed(0)
    attention = LuongAttention(4, 4)
    memory = torch.randn(2, 5, 4)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    _, weights = attention(torch.randn(2, 3, 4), memory, attention.keys(memory), mask)
    assert torch.all(weights[1, :, 2:] == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    changed = memory.clone()
    changed[1, 2:] = 1e3  # garbage in the padding
    query = torch.randn(2, 3, 4)
    a, _ = attention(query, memory, attention.keys(memory), mask)
    b, _ = attention(query, changed, attention.keys(changed), mask)
    assert torch.allclose(a[1], b[1])


def test_additive_attention_has_bahdanaus_shapes_and_gives_padding_no_weight():
    torch.manual_seed(0)
    attention = AdditiveAttention(4, 6)  # a decoder of 4 units over a bidirectional encoder's 2 x 3
    memory = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    query = torch.randn(2, 3, 4)
    context, weights = attention(query, memory, attention.keys(memory), mask)
    assert context.shape == (2, 3, 6) and weights.shape == (2, 3, 5)
    assert torch.all(weights[1, :, 2:] == 0)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    # v^T tanh(W_q h + W_k m) by hand, for one query and one source position
    by_hand = attention.energy(torch.tanh(attention.query(query[0, 1]) + attention.key(memory[0, 3])))
    scores = torch.stack(
        [attention.energy(torch.tanh(attention.query(query[0, 1]) + attention.key(m))) for m in memory[0]]
    ).squeeze(-1)
    assert torch.allclose(weights[0, 1], scores.softmax(0)) and torch.allclose(scores[3], by_hand)
    changed = memory.clone()
    changed[1, 2:] = 1e3  # garbage in the padding
    b, _ = attention(query, changed, attention.keys(changed), mask)
    assert torch.allclose(context[1], b[1])


def test_a_readout_names_its_attention_and_refuses_an_unknown_one():
    assert isinstance(AttentionReadout(4, 6, 10, 0.0).attention, LuongAttention)
    assert isinstance(AttentionReadout(4, 6, 10, 0.0, "additive").attention, AdditiveAttention)
    with pytest.raises(ValueError, match="attention 'dot' is not one of general, additive"):
        AttentionReadout(4, 6, 10, 0.0, "dot")


class _LastInput(nn.Module):
    """A causal, stateful 'core' whose output is its input and whose state is the last input."""

    output_size = 6

    def forward(self, x, state=None, lengths=None):
        return x, x[:, -1]


class _TableReadout(nn.Module):
    """Next-token probabilities looked up from the previous token (one-hot decoder output)."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("logp", torch.tensor(table).clamp(min=1e-9).log())

    def keys(self, memory):
        return memory

    def forward(self, out, memory, keys, mask):
        weights = mask[:, None, :].float().expand(-1, out.size(1), -1)
        return out, weights / weights.sum(-1, keepdim=True)

    def logits(self, attentional):
        return self.logp[attentional.argmax(-1)]


def _toy_net(beam_size):
    # ids: 0 pad, 1 unk, 2 bos, 3 eos, 4 "a", 5 "b"
    table = [[0, 0, 0, 1, 0, 0]] * 6
    table[2] = [0, 0, 0, 0.1, 0.5, 0.4]  # after <bos>: "a" is likelier than "b" ...
    table[4] = [0, 0, 0, 0.4, 0.3, 0.3]  # ... but "a" ends with p 0.4: P(a </s>) = 0.20
    table[5] = [0, 0, 0, 0.9, 0.05, 0.05]  # ... while P(b </s>) = 0.36
    embedding = nn.Embedding(6, 6)
    embedding.weight.data = torch.eye(6)
    return EncoderDecoder(
        nn.Embedding.from_pretrained(torch.eye(6)),
        _LastInput(),
        embedding,
        _LastInput(),
        _TableReadout(table),
        update=None,
        pad_id=0,
        bos_id=2,
        eos_id=3,
        max_len=5,
        beam_size=beam_size,
    )


def test_greedy_and_beam_search_on_a_hand_built_net():
    batch = {"x": torch.tensor([[4, 5], [5, 0]]), "lengths": torch.tensor([2, 1])}
    assert _toy_net(1).translate(batch) == [[4], [4]]  # greedy commits to "a"
    assert _toy_net(2).translate(batch) == [[5], [5]]  # a beam of two finds "b </s>"
    tokens, alignments = _toy_net(2).translate(batch, alignments=True)
    assert [len(a) for a in alignments] == [len(t) for t in tokens]


class _LSTM(Model):
    name = "test-lstm"

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench.nn import FusedCore

        return FusedCore(nn.LSTM(input_size, hidden_size, num_layers, batch_first=True))


def _lstm_net(beam_size=3, vocab=11):
    torch.manual_seed(0)
    return EncoderDecoder.from_model(
        _LSTM(),
        nn.Embedding(vocab, 8, padding_idx=0),
        8,
        vocab,
        16,
        2,
        0.0,
        update=None,
        pad_id=0,
        bos_id=2,
        eos_id=3,
        max_len=7,
        beam_size=beam_size,
    )


def test_state_rows_are_selected_on_the_batch_dimension_of_any_core():
    net = _lstm_net()
    h = torch.arange(2 * 3 * 4.0).view(2, 3, 4)  # torch layout: [layers, batch, hidden]
    picked = net.select_state((h, h + 1), torch.tensor([2, 0]))
    assert torch.equal(picked[0], h[:, [2, 0]]) and torch.equal(picked[1], h[:, [2, 0]] + 1)


def test_beam_of_one_is_greedy_stepping_on_a_real_core():
    net = _lstm_net().eval()
    batch = {"x": torch.tensor([[4, 5, 6], [7, 8, 0]]), "lengths": torch.tensor([3, 2])}
    encoded = net.encode(batch)
    with torch.no_grad():
        expected, state, prev = [], encoded["state"], torch.full((2,), 2)
        for _ in range(net.max_len):
            logp, _, state = net.step(prev, state, encoded)
            prev = logp.argmax(-1)
            expected.append(prev)
    expected = torch.stack(expected, 1).tolist()
    expected = [row[: row.index(3)] if 3 in row else row for row in expected]
    assert net.translate(batch, beam_size=1) == expected
    assert all(len(t) <= net.max_len for t in net.translate(batch, beam_size=3))


def test_padding_changes_neither_loss_nor_decoding():
    net = _lstm_net().eval()
    batch = {
        "x": torch.tensor([[4, 5, 6], [7, 8, 0]]),
        "lengths": torch.tensor([3, 2]),
        "y": torch.tensor([[5, 6, 3], [9, 3, 0]]),
        "y_lengths": torch.tensor([3, 2]),
    }
    padded = {
        **batch,
        "x": torch.cat([batch["x"], torch.zeros(2, 4, dtype=torch.long)], 1),
        "y": torch.cat([batch["y"], torch.zeros(2, 3, dtype=torch.long)], 1),
    }
    with torch.no_grad():
        assert net.training_loss(batch) == pytest.approx(float(net.training_loss(padded)), abs=1e-6)
        assert net.loss(net(batch), batch) == pytest.approx(float(net.training_loss(batch)), abs=1e-6)
    assert net.translate(batch) == net.translate(padded)


class _BiEncoder(Model):
    """A bidirectional LSTM that encodes, with a one-directional LSTM to decode."""

    name = "bi"
    provides = frozenset({"decoder"})

    def build_core(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench.nn import FusedCore

        return FusedCore(nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=True))

    def build_decoder(self, input_size, hidden_size, num_layers, dropout):
        from rnnbench.nn import FusedCore

        return FusedCore(nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)), _ForwardHalf()


class _ForwardHalf(nn.Module):
    """Keeps each layer's forward-direction state (torch orders them fwd, bwd per layer)."""

    def forward(self, state):
        return tuple(part[0::2] for part in state)


def _bi_net():
    torch.manual_seed(0)
    return EncoderDecoder.from_model(
        _BiEncoder(),
        nn.Embedding(11, 8, padding_idx=0),
        8,
        11,
        16,
        2,
        0.0,
        update=None,
        attention="additive",
        pad_id=0,
        bos_id=2,
        eos_id=3,
        max_len=7,
        beam_size=3,
    ).eval()


def test_a_model_with_a_decoder_encodes_bidirectionally_and_decodes_through_its_bridge():
    net = _bi_net()
    assert net.encoder.output_size == 32 and net.decoder.output_size == 16
    assert isinstance(net.readout.attention, AdditiveAttention)
    batch = {
        "x": torch.tensor([[4, 5, 6], [7, 8, 0]]),
        "lengths": torch.tensor([3, 2]),
        "y": torch.tensor([[5, 6, 3], [9, 3, 0]]),
        "y_lengths": torch.tensor([3, 2]),
    }
    encoded = net.encode(batch)
    _, (h, c) = net.encoder(net.src_adapter(batch["x"]), None, batch["lengths"])
    assert torch.equal(encoded["state"][0], h[0::2]) and encoded["state"][0].shape == (2, 2, 16)
    padded = {**batch, "x": torch.cat([batch["x"], torch.zeros(2, 4, dtype=torch.long)], 1)}
    with torch.no_grad():
        assert net.training_loss(batch) == pytest.approx(float(net.training_loss(padded)), abs=1e-6)
    assert net.translate(batch) == net.translate(padded)
    assert net.translate(batch, beam_size=1) == net.translate(padded, beam_size=1)


def test_a_net_without_a_bridge_registers_none():
    assert "state_bridge" not in dict(_lstm_net().named_children())


def test_validation_decodes_greedily_and_the_test_with_the_beam():
    """Every validation picks the checkpoint; a beam search there would cost each cell its
    width in decoder steps for nothing the record keeps (issue 17: greedy in validation)."""
    net = _lstm_net(beam_size=3).eval()
    net.update_fn = lambda metrics, outputs, batch: None
    widths = []
    search = net.search

    def recording(encoded, beam, **kwargs):
        widths.append(beam)
        return search(encoded, beam, **kwargs)

    net.search = recording
    batch = {
        "x": torch.tensor([[4, 5, 6], [7, 8, 0]]),
        "lengths": torch.tensor([3, 2]),
        "y": torch.tensor([[4, 5, 3], [6, 3, 0]]),
        "y_lengths": torch.tensor([3, 2]),
    }
    with torch.no_grad():
        for split in ("val", "test"):
            net.reset_state(split)
            net.evaluate(batch, {})
    assert widths == [1, 3]
