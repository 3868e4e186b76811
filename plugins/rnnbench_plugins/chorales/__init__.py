"""music-chorales: polyphonic music modelling on Bach's chorales, as in Chung et al. (2014).

Chung, Gulcehre, Cho & Bengio (2014, "Empirical Evaluation of Gated Recurrent Neural
Networks on Sequence Modeling") compared tanh, GRU and LSTM recurrent nets of about equal
size on the polyphonic music sets of Boulanger-Lewandowski, Bengio & Vincent (2012); on JSB
Chorales the GRU reached a test negative log-likelihood of 8.54 nats per frame. This task
rebuilds that setting from data that is here offline, the chorales in music21's corpus:

- **Piano roll.** The voices of each chorale (instrumental parts dropped) merged into one
  roll of 88 keys (MIDI 21..108) with one frame per quarter note: a frame holds the keys
  sounding at its start, as Boulanger-Lewandowski's quarter-note JSB files do. Held and
  repeated notes therefore look alike, and shorter notes between beats are not seen.
- **Keys as written.** No transposition: every chorale stays in its written key. Whether
  the JSB files were transposed could not be verified here; transposing to C major/minor
  would also rest on music21's key estimate, which errs on modal chorales.
- **Duplicates.** Identical rolls are kept once (the corpus has chorales under two BWV
  numbers), and harmonisations of one tune form a group that lies in one split only
  (``splits``): chorales whose soprano opens with the same 8 intervals in any key, or
  whose first 12 notes (relative to the last one) differ by at most 2 edits, so that a
  passing note or an extra upbeat does not make a tune's variant a group of its own.
- **Split.** Whole tune groups, dealt in the order of a stable hash of their names to
  the split furthest below its share, 60/20/20 as JSB's 229/76/77 of 382. With music21
  10.5.1: 409 chorale files (410 MusicXML files less BWV 846, a prelude), 406 distinct
  rolls, 215 tune groups; 244 train, 81 validation and 81 test chorales.
- **Task.** Input frame t, predict frame t+1: 88 independent Bernoulli outputs (sigmoid,
  binary cross-entropy). The primary metric ``nll`` is the negative log-likelihood of a
  frame, summed over the 88 keys and averaged over every predicted frame of the test
  chorales (nats): the quantity Chung et al. report. ``frame_accuracy`` is Bay et al.'s
  (2009) TP / (TP + FP + FN) over all keys of all frames, a key predicted on at p > 0.5.
- **Baselines.** ``key-frequency``: each key on with its (add-one smoothed) share of the
  training frames, independently of the past. ``repeat-previous-frame``: each key as in
  the previous frame, changed with probability epsilon, the flip rate of the validation
  chorales (the maximum-likelihood epsilon), so that a change costs a finite NLL.

Per-chorale outcomes (NLL sum and frame count) let the leaderboard resample chorales for
confidence intervals and paired tests. The data fingerprint includes music21's version:
the corpus ships with it. The task page shows the published numbers beside ours with
what differs (``Task.published``).

The package: ``corpus`` (music21 files to rolls), ``splits`` (deduplication, tune groups,
the split), ``task`` (the task: data, net, metrics, baselines).
"""

from rnnbench import hookimpl
from rnnbench_plugins.chorales.task import Chorales

__all__ = ["Chorales", "rnnbench_tasks"]


@hookimpl
def rnnbench_tasks():
    return [Chorales()]
