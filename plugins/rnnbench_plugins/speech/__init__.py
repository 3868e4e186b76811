"""Speech recognition from waveforms: spoken digits (many-to-one) and digit strings (CTC).

Offline data is real speech audio made and recorded by Debian packages:

- ``espeak-ng`` speaks the training, validation and synthetic test audio across its English
  accents, voice variants, speaking rates and pitches. Voice variants are split three ways,
  so the synthetic test split is spoken only by voices the model never heard in training;
- ``asterisk-core-sounds-en-wav`` ships one woman's studio recordings of the ten digits
  (8 kHz): the real-voice test set, showing how far synthetic training transfers.

``speech-digits`` classifies one spoken digit; ``speech-asr`` transcribes connected digit
strings ("three seven one nine") with a CTC head and greedy (optionally prefix-beam)
decoding, scored by word and character error rates. Its real-voice test set splices the
Asterisk recordings into strings, so it has no coarticulation between words.

Everything runs at 8 kHz: the real recordings (and FSDD) are telephone-band audio, and a
model trained on 4-8 kHz content that real test audio cannot have would learn cues that
never transfer. Features are 40 log-mel filterbanks (25 ms windows every 10 ms, librosa)
of silence-trimmed audio with per-utterance mean and variance normalisation, which removes
a fixed channel and gain difference between a synthesiser and a microphone. They are
computed once per data setting and cached as Arrow; each utterance keeps its own frame
count, and batches pass ``lengths``, so padding never reaches the recurrent core.

The full profile trains ``speech-digits`` on the digit words of ``google/speech_commands``
and adds the Free Spoken Digit Dataset as a test set, decoding audio with ``soundfile``
(``datasets.Audio`` decoding needs torchcodec). ``speech-asr``'s full profile is the same
espeak-ng recipe at scale (1-7 digits, 60,000 strings, beam search): neither hub corpus
has connected digit strings.

The package: ``sources`` (espeak-ng, the Asterisk recordings, hub datasets, and what
each needs installed), ``features`` (decoding and log-mel features), ``batching``
(padded batches, bucketed by length with rnnbench.data), ``ctc`` (decoding), ``tasks`` (the two tasks).
"""

from rnnbench import hookimpl
from rnnbench_plugins.speech.tasks import DigitStrings, SpeechTask, SpokenDigits

__all__ = ["DigitStrings", "SpeechTask", "SpokenDigits", "rnnbench_tasks"]


@hookimpl
def rnnbench_tasks():
    return [SpokenDigits(), DigitStrings()]
