"""CTC decoding of digit strings: greedy, and prefix beam search."""

from __future__ import annotations

BLANK = 0
"""CTC blank index; digit d is class d + 1."""


def ctc_greedy_decode(log_probs, lengths) -> list[list[int]]:
    """Best class per frame, repeats merged, blanks dropped: digits per utterance.

    ``log_probs`` is ``[batch, time, classes]``; frames past ``lengths[b]`` are ignored."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for b, n in enumerate(lengths.tolist()):
        path = best[b, :n].unique_consecutive()
        out.append([int(c) - 1 for c in path if c != BLANK])
    return out


PRUNE_LOG_PROB = -9.2  # log(1e-4)


def ctc_beam_decode(log_probs, beam_width: int) -> list[int]:
    """CTC prefix beam search (Hannun et al., 2014) over one utterance's ``[time, classes]``
    log-probabilities: it sums every frame path of a transcript, which greedy decoding cannot."""
    import numpy as np

    lp = np.asarray(log_probs, dtype=np.float64)
    # each prefix holds (log P ending in blank, log P ending in its last label)
    beams = {(): (0.0, -np.inf)}
    for t in range(lp.shape[0]):
        nxt: dict[tuple, list[float]] = {}
        # the usual pruning: a label below 1e-4 at a frame almost never changes the best beam
        labels = [c for c in np.flatnonzero(lp[t] > PRUNE_LOG_PROB).tolist() if c != BLANK]

        def add(prefix, blank, label):
            cur = nxt.setdefault(prefix, [-np.inf, -np.inf])
            cur[0], cur[1] = np.logaddexp(cur[0], blank), np.logaddexp(cur[1], label)

        for prefix, (p_blank, p_label) in beams.items():
            total = np.logaddexp(p_blank, p_label)
            add(prefix, total + lp[t, BLANK], -np.inf)
            for c in labels:
                if prefix and prefix[-1] == c:
                    add(prefix, -np.inf, p_label + lp[t, c])  # a repeat merges into the label
                    add(prefix + (c,), -np.inf, p_blank + lp[t, c])  # a blank separated them
                else:
                    add(prefix + (c,), -np.inf, total + lp[t, c])
        beams = dict(sorted(nxt.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:beam_width])
    best = max(beams.items(), key=lambda kv: np.logaddexp(*kv[1]))[0]
    return [c - 1 for c in best]


def decode(out, lengths, beam_width: int) -> list[list[int]]:
    """Digits per utterance from the CTC head's outputs: greedy for ``beam_width`` <= 1."""
    if beam_width <= 1:
        return ctc_greedy_decode(out, lengths)
    lp = out.detach().float().log_softmax(-1).cpu().numpy()
    return [ctc_beam_decode(lp[b, :n], beam_width) for b, n in enumerate(lengths.tolist())]
