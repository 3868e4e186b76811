"""The seq2seq shape net: an encoder-decoder with attention built from any model's cores.

A task owns the ends (the source adapter, the target vocabulary, decoding to text, the
metrics); the model owns the middle, twice: an encoder core reads the source and a
decoder core of the same family, started from the encoder's final state, reads the
target. Every decoder output attends to all encoder outputs with padding masked out,
scored by Luong et al.'s (2015) "general" bilinear form or, with ``attention="additive"``,
by Bahdanau et al.'s (2015) additive one, and a readout turns ``[output; context]`` into
next-token logits.

A model whose own core cannot decode (a bidirectional one: not causal) may still encode:
with the ``decoder`` capability it supplies a causal decoder core of its family and a
bridge from the encoder's final state to the decoder's initial one (``Model.build_decoder``).

The decoder core is the model's own causal, stateful core, used two ways: in training
it runs over the whole teacher-forced target in one call (so fused cuDNN/CPU kernels
do the work, no Python loop over time), and in evaluation it is stepped one token at
a time, carrying its state, for greedy or beam search. Attention is therefore not fed
back into the decoder's input (no "input feeding"): that would force a Python loop in
training too.

Batches are dicts: ``x`` (source ids ``[B, S]`` or features ``[B, S, F]``), ``lengths``
(CPU long, the source lengths), ``y`` (target ids ``[B, T]`` ending in ``eos_id``,
padded with ``pad_id``), ``y_lengths`` (CPU long, counting the ``eos``) and optionally
``target_tokens`` (their sum as a Python int, for throughput).
Nothing here knows a specific task or model.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from rnnbench.nets import CountFn, OutcomesFn, SamplesFn, TaskNet
from rnnbench.nn import length_mask

UpdateFn = Callable[[Any, dict, dict], None]
"""``update(metrics, outputs, batch)``; ``outputs`` holds ``logits`` (teacher forced,
``[B, T, V]``), ``tokens`` (the decoded target ids of each item, ``eos`` stripped) and
``alignments`` (for each decoded token, the source position it attended to most: what
a task needs to copy a source word in place of ``<unk>``, Luong et al. 2015)."""


class _Attention(nn.Module):
    """What both scores share: keys projected once per batch, and the masked softmax that
    turns ``scores [B, T, S]`` into the context."""

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Project the memory once per batch; decoding reuses it at every step."""
        return self.key(memory)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``query [B, T, Q]``, ``memory [B, S, M]``, ``mask [B, S]`` (True = real) ->
        ``(context [B, T, M], weights [B, T, S])``."""
        scores = self.scores(query, keys).masked_fill(~mask[:, None, :], float("-inf"))
        weights = scores.softmax(-1)
        return weights @ memory, weights


class LuongAttention(_Attention):
    """score(h_t, m_s) = h_t^T W m_s; padded source positions get zero weight."""

    def __init__(self, query_size: int, memory_size: int):
        super().__init__()
        self.key = nn.Linear(memory_size, query_size, bias=False)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return query @ keys.transpose(1, 2)


class AdditiveAttention(_Attention):
    """Bahdanau et al.'s (2015) score(h_t, m_s) = v^T tanh(W_q h_t + W_k m_s); padded
    source positions get zero weight. The query is the decoder's output at step t (its
    state after reading token t-1), as the decoder runs ahead of the attention here."""

    def __init__(self, query_size: int, memory_size: int):
        super().__init__()
        self.key = nn.Linear(memory_size, query_size)
        self.query = nn.Linear(query_size, query_size, bias=False)
        self.energy = nn.Linear(query_size, 1, bias=False)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.query(query)[:, :, None, :] + keys[:, None, :, :])  # [B, T, S, Q]
        return self.energy(hidden).squeeze(-1)


ATTENTIONS = {"general": LuongAttention, "additive": AdditiveAttention}
"""The attention scores ``EncoderDecoder.from_model`` offers, by name."""


class AttentionReadout(nn.Module):
    """Luong's attentional hidden state tanh(W_c [h_t; c_t]), then the vocabulary head."""

    def __init__(self, hidden_size: int, memory_size: int, vocab_size: int, dropout: float, attention: str = "general"):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention {attention!r} is not one of {', '.join(ATTENTIONS)}")
        self.attention = ATTENTIONS[attention](hidden_size, memory_size)
        self.combine = nn.Linear(hidden_size + memory_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        return self.attention.keys(memory)

    def forward(
        self, out: torch.Tensor, memory: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder outputs ``[B, T, H]`` -> (attentional states ``[B, T, H]``, weights ``[B, T, S]``)."""
        context, weights = self.attention(out, memory, keys, mask)
        return torch.tanh(self.combine(torch.cat([out, context], -1))), weights

    def logits(self, attentional: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(attentional))


class EncoderDecoder(TaskNet):
    """Encoder-decoder with attention over two cores of one model; see the module doc.

    Validation decodes greedily (cheap, and enough to pick the best checkpoint); the test
    pass and ``translate`` use beam search of width ``beam_size``. The net learns which
    pass it is in from ``reset_state(split)``, which the trainer calls before each one.
    """

    def __init__(
        self,
        src_adapter: nn.Module,
        encoder: nn.Module,
        tgt_embedding: nn.Embedding,
        decoder: nn.Module,
        readout: nn.Module,
        update: UpdateFn,
        *,
        pad_id: int,
        bos_id: int,
        eos_id: int,
        max_len: int = 100,
        beam_size: int = 4,
        length_penalty: float = 1.0,
        dropout: float = 0.0,
        bridge: bool = True,
        state_bridge: nn.Module | None = None,
        samples: SamplesFn | None = None,
        count: CountFn | None = None,
        outcomes: OutcomesFn | None = None,
    ):
        super().__init__(samples=samples, count=count or target_tokens, outcomes=outcomes)
        self.src_adapter, self.encoder = src_adapter, encoder
        self.tgt_embedding, self.decoder, self.readout = tgt_embedding, decoder, readout
        self.update_fn = update
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.max_len, self.beam_size, self.length_penalty = max_len, beam_size, length_penalty
        self.bridge = bridge
        if state_bridge is not None:  # registered only when there is one: other nets keep their parameters
            self.state_bridge = state_bridge
        self.dropout = nn.Dropout(dropout)
        self.split = "train"
        self._state_batch_dims: Any = None

    @classmethod
    def from_model(
        cls,
        model: Any,
        src_adapter: nn.Module,
        embed_size: int,
        vocab_size: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        update: UpdateFn,
        attention: str = "general",
        **options: Any,
    ) -> "EncoderDecoder":
        """Build both cores with ``model.build_core`` (same sizes, so the encoder's final
        state is a valid initial state of the decoder) or, for a model with the ``decoder``
        capability, the encoder with ``build_core`` and the decoder and the bridge between
        their states with ``model.build_decoder``; ``src_adapter`` maps ``x`` to
        ``[B, S, embed_size]``; ``attention`` names one of ``ATTENTIONS``."""
        encoder = model.build_core(embed_size, hidden_size, num_layers, dropout)
        if "decoder" in model.provides:
            decoder, options["state_bridge"] = model.build_decoder(embed_size, hidden_size, num_layers, dropout)
        else:
            decoder = model.build_core(embed_size, hidden_size, num_layers, dropout)
        tgt_embedding = nn.Embedding(vocab_size, embed_size, padding_idx=options["pad_id"])
        readout = AttentionReadout(decoder.output_size, encoder.output_size, vocab_size, dropout, attention)
        return cls(src_adapter, encoder, tgt_embedding, decoder, readout, update, dropout=dropout, **options)

    # --- the TaskNet hooks -----------------------------------------------------------
    def reset_state(self, split: str) -> None:
        self.split = split

    def training_loss(self, batch: dict) -> torch.Tensor:
        attentional = self.teacher_forced(batch, self.encode(batch))
        if attentional.is_cuda:  # a boolean index would cost a host sync every step
            return self.loss(self.readout.logits(attentional), batch)
        # on a CPU the vocabulary head is most of the work: run it on real tokens only
        valid = length_mask(batch["y_lengths"], attentional.size(1))
        return F.cross_entropy(self.readout.logits(attentional[valid]), batch["y"][valid])

    def evaluate(self, batch: dict, metrics) -> torch.Tensor:
        encoded = self.encode(batch)
        logits = self.readout.logits(self.teacher_forced(batch, encoded))
        beam = self.beam_size if self.split == "test" else 1
        tokens, alignments = self.search(encoded, beam, alignments=True)
        outputs = {"logits": logits, "tokens": tokens, "alignments": alignments}
        self.update_fn(metrics, outputs, batch)
        self.keep_outcomes(outputs, batch)
        return self.loss(logits, batch)

    # --- training ----------------------------------------------------------------------
    def forward(self, batch: dict) -> torch.Tensor:
        """Teacher-forced next-token logits ``[B, T, V]``."""
        return self.readout.logits(self.teacher_forced(batch, self.encode(batch)))

    def loss(self, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(logits.flatten(0, 1), batch["y"].flatten(), ignore_index=self.pad_id)

    def encode(self, batch: dict) -> dict:
        lengths = batch["lengths"]
        x = self.dropout(self.src_adapter(batch["x"]))
        memory, state = self.encoder(x, None, lengths)
        self.check_core(self.encoder, x, memory)
        mask = length_mask(lengths.to(memory.device), memory.size(1))
        if self.bridge and "state_bridge" in self._modules:
            state = self.state_bridge(state)
        return {
            "memory": memory,
            "keys": self.readout.keys(memory),
            "mask": mask,
            "state": state if self.bridge else None,
        }

    def teacher_forced(self, batch: dict, encoded: dict) -> torch.Tensor:
        """Attentional states ``[B, T, H]`` of the decoder fed the reference target."""
        y = batch["y"]
        bos = torch.full_like(y[:, :1], self.bos_id)
        inputs = self.dropout(self.tgt_embedding(torch.cat([bos, y[:, :-1]], 1)))
        out, _ = self.decoder(inputs, encoded["state"], batch["y_lengths"])
        self.check_core(self.decoder, inputs, out)
        return self.readout(out, encoded["memory"], encoded["keys"], encoded["mask"])[0]

    # --- decoding ----------------------------------------------------------------------
    def step(self, prev: torch.Tensor, state: Any, encoded: dict) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """One decoder step: previous tokens ``[N]`` -> (log-probabilities ``[N, V]``,
        attention weights ``[N, S]``, state)."""
        out, state = self.decoder(self.tgt_embedding(prev)[:, None], state, None)
        attentional, weights = self.readout(out, encoded["memory"], encoded["keys"], encoded["mask"])
        return self.readout.logits(attentional[:, 0]).log_softmax(-1), weights[:, 0], state

    @torch.no_grad()
    def translate(self, batch: dict, beam_size: int | None = None, alignments: bool = False):
        """Decoded target ids of each item (``eos`` stripped), in eval mode; see ``search``."""
        was_training = self.training
        self.eval()
        try:
            return self.search(self.encode(batch), beam_size or self.beam_size, alignments)
        finally:
            self.train(was_training)

    def search(self, encoded: dict, beam_size: int = 1, alignments: bool = False):
        """Beam search; ``beam_size=1`` is greedy decoding. Returns the token ids of each
        item and, with ``alignments=True``, also the most attended source position of
        each token.

        Hypotheses are ranked by total log-probability divided by length**length_penalty
        (a finished beam only extends with ``eos`` at no cost, so it keeps its score
        while the others catch up).
        """
        memory = encoded["memory"]
        batch, k = memory.size(0), beam_size
        device = memory.device
        origin = torch.arange(batch, device=device).repeat_interleave(k)
        expanded = {name: encoded[name][origin] for name in ("memory", "keys", "mask")}
        state = self.select_state(encoded["state"], origin)
        scores = torch.zeros(batch, k, device=device)
        scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
        prev = torch.full((batch * k,), self.bos_id, dtype=torch.long, device=device)
        finished = torch.zeros(batch * k, dtype=torch.bool, device=device)
        lengths = torch.zeros(batch * k, dtype=torch.long, device=device)
        tokens = torch.empty(batch * k, 0, dtype=torch.long, device=device)
        attended = torch.empty(batch * k, 0, dtype=torch.long, device=device)
        for _ in range(self.max_len):
            logp, weights, state = self.step(prev, state, expanded)
            vocab = logp.size(-1)
            logp = logp.masked_fill(finished[:, None], float("-inf"))
            logp[:, self.eos_id] = logp[:, self.eos_id].masked_fill(finished, 0.0)
            candidates = (scores.view(-1, 1) + logp).view(batch, k * vocab)
            scores, flat = candidates.topk(k, dim=-1)
            parent = (torch.arange(batch, device=device)[:, None] * k + flat // vocab).view(-1)
            prev = (flat % vocab).view(-1)
            state = self.select_state(state, parent)
            finished, lengths, tokens = finished[parent], lengths[parent], tokens[parent]
            attended = torch.cat([attended[parent], weights.argmax(-1)[parent, None]], 1)
            lengths = lengths + (~finished).long()
            tokens = torch.cat([tokens, prev[:, None]], 1)
            finished = finished | (prev == self.eos_id)
            if bool(finished.all()):
                break
        normalised = scores.view(-1) / lengths.clamp(min=1).float().pow(self.length_penalty)
        best = normalised.view(batch, k).argmax(-1) + torch.arange(batch, device=device) * k
        out, aligned = [], []
        for row, where in zip(tokens[best].tolist(), attended[best].tolist()):
            n = row.index(self.eos_id) if self.eos_id in row else len(row)
            out.append(row[:n])
            aligned.append(where[:n])
        return (out, aligned) if alignments else out

    def select_state(self, state: Any, index: torch.Tensor) -> Any:
        """The decoder state of the batch rows in ``index`` (reordering beams, expanding
        the batch). State layouts differ between cores (``[layers, B, H]`` for torch's
        RNNs, ``[B, H]`` elsewhere), so the batch dimension of each tensor is found once
        by probing the decoder with batches of one and two."""
        if state is None:
            return None
        if self._state_batch_dims is None:
            self._state_batch_dims = self._probe_batch_dims()
        return _select(state, self._state_batch_dims, index)

    def _probe_batch_dims(self) -> Any:
        param = next(self.decoder.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        size = self.tgt_embedding.embedding_dim
        with torch.no_grad():
            _, one = self.decoder(torch.zeros(1, 1, size, device=device), None, None)
            _, two = self.decoder(torch.zeros(2, 1, size, device=device), None, None)
        return _batch_dims(one, two)


def target_tokens(batch: dict) -> int:
    """Target tokens in the batch, ``eos`` included."""
    # a plain int from the collate function spares a device sync on every step
    return batch["target_tokens"] if "target_tokens" in batch else int(batch["y_lengths"].sum())


def _batch_dims(one: Any, two: Any) -> Any:
    """The batch dimension of each tensor in a state (same nesting), None where there is none."""
    if isinstance(one, torch.Tensor):
        changed = [d for d in range(one.dim()) if one.size(d) != two.size(d)]
        return changed[0] if changed else None  # a leaf shared by the whole batch
    if isinstance(one, dict):
        return {k: _batch_dims(one[k], two[k]) for k in one}
    if isinstance(one, (tuple, list)):
        return _rebuild(one, [_batch_dims(a, b) for a, b in zip(one, two)])
    return None


def _select(state: Any, dims: Any, index: torch.Tensor) -> Any:
    if isinstance(state, torch.Tensor):
        return state if dims is None else state.index_select(dims, index)
    if isinstance(state, dict):
        return {k: _select(v, dims[k], index) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return _rebuild(state, [_select(s, d, index) for s, d in zip(state, dims)])
    return state


def _rebuild(like: Any, items: list) -> Any:
    """A tuple, named tuple or list of the same type as ``like`` holding ``items``."""
    if hasattr(like, "_fields"):
        return type(like)(*items)
    return type(like)(items)
