"""Word-level language modeling on the World English Bible (offline: Debian ``sword-text-web``).

The offline corpus is the SWORD module ``engWEB2015eb`` exported with ``mod2imp``
(Debian ``libsword-utils``): one verse a line, footnotes and editorial headings removed.
Splits are by book, so no verse or paragraph is shared between train, validation and
test. Words and punctuation are separate tokens, every verse ends with ``<eos>``, and the
vocabulary is the most frequent words of the training books only; everything else is
``<unk>``. Training is truncated backpropagation through time over contiguous streams,
the hidden state carried from batch to batch (Zaremba et al. 2014).

Metrics: perplexity (primary) and cross-entropy over every target, ``oov_rate`` (the
share of targets that are ``<unk>``) and ``perplexity_known`` (the perplexity over the
targets that are not ``<unk>``), so a score bought by predicting ``<unk>`` shows.

The full profiles are the recipes of Zaremba et al. (2014, "Recurrent Neural Network
Regularization", section 4.1) on the hub datasets, every setting as the paper states it:
plain SGD at learning rate 1 for 6 or 14 epochs, then divided by 1.2 ("medium") or 1.15
("large") at the start of every later epoch (epoch 7 or 15 is the first at the lower rate;
``Profile.schedule`` "step"); every parameter uniform in ±0.05 or ±0.04; dropout 0.5 or
0.65 on the non-recurrent connections; 2 layers of 650 or 1500 units (embedding as wide);
35-step BPTT, batch 20, 39 or 55 epochs; the gradient's norm clipped at 5 or 10, with the
loss summed over the window and averaged over the batch as in their code; the test text
scored as one stream. What still differs: torch's LSTM has two bias vectors per gate
(each drawn from the same uniform) where theirs has one, and an epoch's last window is
shorter than 35 steps where their code drops it. Which number each profile compares with:

- ``full-ptb``: "medium" on the Penn Treebank (Mikolov's 10k-word version): 82.7 test
  perplexity in the paper (86.2 validation);
- ``full-ptb-large``: "large" on the Penn Treebank: 78.4 test perplexity (82.2 validation);
- ``full``: "medium" on WikiText-2 in its standard form (below). Zaremba et al. publish no
  WikiText-2 number (the corpus is from 2016): it compares with another run of this
  recipe only. AWD-LSTM's 65.8 test perplexity on WikiText-2 (Merity et al. 2018) is
  comparable only to a model trained with AWD-LSTM's own recipe (weight-dropped LSTM,
  NT-ASGD, tied embeddings, 750 epochs), which no profile here is.

WikiText-2's standard form is the tokenised ``wikitext-2-v1`` (not ``-raw-``) read as
AWD-LSTM's ``data.py`` reads it: every line, blank ones included, is its whitespace
tokens followed by ``<eos>``; the ``<unk>`` the data has stays ``<unk>``; the vocabulary
is every word of the training text, with no frequency cut of ours (WikiText has already
mapped its rare words to ``<unk>``: 33,278 words with ``<unk>`` and ``<eos>``). The Penn
Treebank is read the same way (10,000 words). A local copy in the hub's format can stand
in for the hub through the ``data_files`` option.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from rnnbench import Profile, Published, Task, TaskData, hookimpl
from rnnbench.api import option_settings
from rnnbench.data import DataUnavailable, cached, file_digest, fingerprint, hub_dataset, stream_batches
from rnnbench_plugins._lm import unigram_baselines, unigram_outcomes, update_lm_metrics
from rnnbench_plugins._sword import (
    DATA_ENVIRONMENT,
    MOD2IMP,
    Verse,
    clean_osis,
    module_files,
    module_requirement,
    read_verses,
)

UNK, EOS = "<unk>", "<eos>"
SPLITS = ("train", "val", "test")

BIBLE_MODULE = "engWEB2015eb"
# A narrative book, a poetic or wisdom book, a gospel and a letter in each held-out split,
# so both cover the corpus's genres without sharing a verse with training. Validation is
# small (~28k tokens) because it runs several times a cell; test is ~64k tokens.
VAL_BOOKS = ("Ruth", "Lamentations", "Mark", "James")
TEST_BOOKS = ("Judges", "Ecclesiastes", "John", "Romans")
CLEANING_VERSION = "v1"  # of _sword.clean_osis, in this task's cache key
TOKENIZER_VERSION = "v1"
HUB_TOKENIZER_VERSION = "v2"  # v2: every line, blank ones too, ends with <eos>
OFFLINE_DEFAULT = "the World English Bible from sword-text-web, profiles smoke and quick"


@dataclass(frozen=True)
class HubSource:
    """A hub corpus whose rows are lines of already tokenised text in one column."""

    path: str
    config: str | None
    column: str
    prompt: str
    splits: tuple[str, str, str] = ("train", "validation", "test")


# Canonical hub ids of ``wikitext`` and ``ptb_text_only`` (the hub redirects the old ones).
HUB_SOURCES = {
    "wikitext-2": HubSource("Salesforce/wikitext", "wikitext-2-v1", "text", "the game was"),
    "ptb": HubSource("ptb-text-only/ptb_text_only", "penn_treebank", "sentence", "the company said"),
}
# Prompts are written in each corpus's own tokenisation.
BIBLE_PROMPT = "and jesus said to them ,"

# --- the offline corpus -----------------------------------------------------------------


def clean_verses(verses: list[Verse]) -> list[tuple[str, int, int, str]]:
    """``(book, chapter, verse, text)`` of every verse with text left once cleaned."""
    return [(v.book, v.chapter, v.verse, text) for v in verses if (text := clean_osis(v.markup))]


def book_split(book: str) -> str:
    return "val" if book in VAL_BOOKS else "test" if book in TEST_BOOKS else "train"


def bible_verses(cache_dir: str):
    """The cleaned World English Bible as an HF dataset, one verse a row (cached)."""
    import datasets

    files = module_files(BIBLE_MODULE)
    if not files:
        raise DataUnavailable(module_requirement(BIBLE_MODULE).unavailable())

    def build():
        book, chapter, verse, text = zip(*clean_verses(read_verses(BIBLE_MODULE)))
        return datasets.Dataset.from_dict(
            {
                "book": list(book),
                "chapter": list(chapter),
                "verse": list(verse),
                "text": list(text),
                "split": [book_split(b) for b in book],
            }
        )

    settings = {
        "module": BIBLE_MODULE,
        "data": file_digest(*files),
        "cleaning": CLEANING_VERSION,
        "val": VAL_BOOKS,
        "test": TEST_BOOKS,
    }
    return cached(cache_dir, "web-bible", settings, build)


# --- tokens and vocabulary --------------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
# A clitic ('s, 't, 'll) stays with the apostrophe only right after a word; elsewhere
# an apostrophe is a quotation mark and a token of its own.
_TOKEN = re.compile(r"(?<=[^\W_])'[^\W_]+|[^\W_]+|[^\w\s]|_")


def tokenize_words(line: str, lowercase: bool = True) -> list[str]:
    """Words, clitics and punctuation marks as separate tokens (for raw prose)."""
    line = line.translate(_QUOTES)
    return _TOKEN.findall(line.lower() if lowercase else line)


def tokenize_whitespace(line: str) -> list[str]:
    """For corpora the hub ships already tokenised (WikiText, PTB)."""
    return line.split()


def build_vocab(train_lines: list[list[str]], size: int) -> list[str]:
    """``<unk>``, ``<eos>`` and the ``size - 2`` most frequent training words (ties
    alphabetical, so the vocabulary does not depend on dict order); ``size`` 0: every
    training word. A corpus that spells ``<unk>`` out itself (PTB, WikiText) keeps it as
    the same token."""
    from collections import Counter

    counts = Counter(tok for line in train_lines for tok in line)
    counts.pop(UNK, None)
    counts.pop(EOS, None)
    ranked = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return [UNK, EOS] + [w for w, _ in (ranked if size == 0 else ranked[: max(size - 2, 0)])]


def encode_lines(lines: list[list[str]], vocab: list[str], blank_lines: bool = False) -> list[list[int]]:
    """Token ids per line, each line closed by ``<eos>``. Empty lines are dropped, or with
    ``blank_lines`` kept as a lone ``<eos>`` (the standard reading of WikiText and PTB)."""
    index = {w: i for i, w in enumerate(vocab)}
    eos = index[EOS]
    return [[index.get(tok, 0) for tok in line] + [eos] for line in lines if line or blank_lines]


def rows_to_lines(rows, column: str) -> list[str]:
    """A hub split's rows to its lines, blank ones included (WikiText's separate
    paragraphs and headings; each becomes a lone ``<eos>``, as in AWD-LSTM's ``data.py``).
    The hub path and a local copy in the hub's format both come through here (WikiText
    rows are ``text``, PTB rows ``sentence``)."""
    if column not in rows.column_names:
        raise DataUnavailable(
            f"the data has no column '{column}' (it has {', '.join(rows.column_names)}); "
            "give files in the hub dataset's format"
        )
    lines = rows.select_columns([column]).to_dict()[column]
    return [line or "" for line in lines]


def load_hub_rows(source: str, data_files: dict | None = None):
    """The hub dataset's splits as ``{split: rows}`` plus their fingerprint.

    With ``data_files`` (``{"train": ..., "validation": ..., "test": ...}`` in the hub's
    split names; JSON lines, Parquet or plain text) a local copy replaces the hub.
    """
    import datasets

    spec = HUB_SOURCES[source]
    if data_files:
        first = str(next(iter(data_files.values())))
        fmt = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".txt": "text"}.get(Path(first).suffix)
        if fmt is None:
            raise ValueError(f"data_files {first}: use .jsonl, .json, .parquet or .txt files")
        missing = [s for s in spec.splits if s not in data_files]
        if missing:
            raise ValueError(f"data_files lacks split(s) {', '.join(missing)}")
        ds = datasets.load_dataset(fmt, data_files={s: str(data_files[s]) for s in spec.splits})
        fp = file_digest(*(data_files[s] for s in spec.splits))
    else:
        ds = hub_dataset(spec.path, spec.config, offline_default=OFFLINE_DEFAULT)
        fp = fingerprint(spec.path, spec.config, [ds[s]._fingerprint for s in spec.splits])
    return {ours: ds[theirs] for ours, theirs in zip(SPLITS, spec.splits)}, fp


def corpus_lines(source: str, options: "WordLMOptions", cache_dir: str):
    """``(lines, data fingerprint)`` of a source, where ``lines()`` returns the tokenised
    lines by split: it runs only when the encoded corpus is not cached yet."""
    if source == "web":
        table, fp = bible_verses(cache_dir)

        def lines():
            by_split = {s: [] for s in SPLITS}
            columns = table.select_columns(["text", "split"]).to_dict()
            for text, split in zip(columns["text"], columns["split"]):
                by_split[split].append(tokenize_words(text))
            return by_split

        return lines, fp
    if source not in HUB_SOURCES:
        raise ValueError(f"lm-word source {source!r}: use 'web' or one of {', '.join(HUB_SOURCES)}")
    rows, fp = load_hub_rows(source, options.data_files)
    column = HUB_SOURCES[source].column

    def hub_lines():
        return {s: [tokenize_whitespace(line) for line in rows_to_lines(rows[s], column)] for s in SPLITS}

    return hub_lines, fp


def encoded_corpus(options: "WordLMOptions", cache_dir: str):
    """``(vocab, {split: LongTensor stream}, fingerprint)``, tokenised once and cached."""
    import datasets
    import numpy as np
    import torch

    source = options.source
    lines, data_fp = corpus_lines(source, options, cache_dir)

    def build():
        tokens = lines()
        vocab = build_vocab(tokens["train"], options.vocab_size)
        splits = {
            s: datasets.Dataset.from_dict(
                {"ids": encode_lines(tokens[s], vocab, blank_lines=source in HUB_SOURCES)},
                features=datasets.Features({"ids": datasets.Sequence(datasets.Value("int32"))}),
            )
            for s in SPLITS
        }
        splits["vocab"] = datasets.Dataset.from_dict({"token": vocab})
        return datasets.DatasetDict(splits)

    tokenizer = HUB_TOKENIZER_VERSION if source in HUB_SOURCES else TOKENIZER_VERSION
    settings = {"source": source, "data": data_fp, "vocab_size": options.vocab_size, "tokenizer": tokenizer}
    table, fp = cached(cache_dir, f"lm-word-{source}", settings, build)
    streams = {}
    for s in SPLITS:
        ids = table[s].data.column("ids").combine_chunks().flatten().to_numpy()
        streams[s] = torch.from_numpy(ids.astype(np.int64))
    return table["vocab"].data.column("token").to_pylist(), streams, fp


# --- the task ---------------------------------------------------------------------------


def detokenize(tokens: list[str]) -> str:
    return " ".join("\n" if t == EOS else t for t in tokens).replace(" \n ", "\n")


@dataclass(frozen=True)
class WordLMOptions:
    source: str
    """``web`` (the World English Bible) or a hub corpus (wikitext-2, ptb)."""
    vocab_size: int
    """``<unk>``, ``<eos>`` and the most frequent training words; 0: every training word."""
    bptt: int
    """Words per truncated-backpropagation window."""
    embedding: int
    """Width of the word embedding."""
    val_tokens: int
    """Tokens of the validation stream to evaluate on; 0: all of them."""
    test_tokens: int
    """Tokens of the test stream to evaluate on; 0: all of them."""
    data_files: dict[str, str] | None = None
    """Local files in the hub corpus's format, by split, instead of the hub."""
    loss_summed_over_window: bool = False
    """Train on the loss summed over each BPTT window's time steps and averaged over the
    batch, as Zaremba et al.'s code does, instead of the mean over every token: with plain
    SGD, the paper's learning rate 1 and gradient-norm clip 5 apply to that sum (35 times
    the per-token mean)."""
    test_batch_size: int = 0
    """Parallel streams the test text is cut into; 0: the training batch size. 1 scores it
    as one stream, as Zaremba et al. do, so only its first token lacks context."""


def tbptt_steps(tokens: int, batch_size: int, bptt: int) -> int:
    """Batches ``rnnbench.data.stream_batches`` cuts a stream of ``tokens`` into: one
    training epoch's optimiser steps."""
    return -(-((tokens - 1) // batch_size) // bptt)


@dataclass(frozen=True)
class ZarembaRecipe:
    """One of Zaremba et al.'s (2014) regularised LSTMs, as section 4.1 states it."""

    size: int
    """Units of each of the 2 LSTM layers, and the embedding's width."""
    init_scale: float
    dropout: float
    lr_divisor: float
    """The learning rate (1 at first) is divided by this after every epoch from ..."""
    constant_epochs: int
    """... the end of this many epochs on."""
    epochs: int
    grad_clip: float
    ptb_test_perplexity: float
    """Their test perplexity on the Penn Treebank."""


ZAREMBA_MEDIUM = ZarembaRecipe(650, 0.05, 0.5, 1.2, 6, 39, 5.0, 82.7)
ZAREMBA_LARGE = ZarembaRecipe(1500, 0.04, 0.65, 1.15, 14, 55, 10.0, 78.4)
# Training tokens with <eos>: PTB 887,521 words in 42,068 lines; WikiText-2 2,051,910 in 36,718.
TRAIN_TOKENS = {"ptb": 929_589, "wikitext-2": 2_088_628}


def zaremba(recipe: ZarembaRecipe, source: str, time_limit: float) -> Profile:
    """``recipe`` on a hub corpus: batch 20, BPTT 35, plain SGD from lr 1, every parameter
    uniform in ±``init_scale``, the loss summed over the window, one epoch between
    validations, the test text as one stream."""
    steps_per_epoch = tbptt_steps(TRAIN_TOKENS[source], 20, 35)
    return Profile(
        max_steps=recipe.epochs * steps_per_epoch,
        batch_size=20,
        hidden_size=recipe.size,
        num_layers=2,
        dropout=recipe.dropout,
        optimizer="sgd",
        lr=1.0,
        schedule="step",
        decay_factor=1 / recipe.lr_divisor,
        decay_after=recipe.constant_epochs,
        init_scale=recipe.init_scale,
        grad_clip=recipe.grad_clip,
        val_every=steps_per_epoch,
        seeds=3,
        time_limit=time_limit,
        options=WordLMOptions(
            source=source,
            vocab_size=0,
            bptt=35,
            embedding=recipe.size,
            val_tokens=0,
            test_tokens=0,
            loss_summed_over_window=True,
            test_batch_size=1,
        ),
    )


ZAREMBA_DIFFER = (
    "Every setting of section 4.1 as the paper states it, on the hub's ptb_text_only; but torch's LSTM has "
    "two bias vectors per gate (each drawn from the same uniform) where theirs has one, and an epoch's last "
    "window is shorter than 35 steps where their code drops it."
)
PUBLISHED = (
    Published(
        "Zaremba et al. (2014), section 4.1",
        "medium regularised LSTM",
        "perplexity",
        ZAREMBA_MEDIUM.ptb_test_perplexity,
        ZAREMBA_DIFFER,
        ours="lstm",
        profile="full-ptb",
        setup="Penn Treebank (10k words); 2 layers of 650 units, dropout 0.5; SGD from lr 1, 39 epochs",
    ),
    Published(
        "Zaremba et al. (2014), section 4.1",
        "large regularised LSTM",
        "perplexity",
        ZAREMBA_LARGE.ptb_test_perplexity,
        ZAREMBA_DIFFER,
        ours="lstm",
        profile="full-ptb-large",
        setup="Penn Treebank (10k words); 2 layers of 1500 units, dropout 0.65; SGD from lr 1, 55 epochs",
    ),
)
"""Test perplexity on the Penn Treebank, as section 4.1 reports it (checked against the paper)."""


class WordLM(Task):
    name = "lm-word"
    family = "language-modeling"
    requirements = (MOD2IMP, module_requirement(BIBLE_MODULE))
    data_environment = DATA_ENVIRONMENT
    shape = "many-to-many"
    description = "Word-level LM on the World English Bible (sword-text-web), split by book; perplexity"
    serially_dependent = True  # test rows are consecutive segments of one text stream
    primary_metric = "perplexity"
    direction = "min"
    throughput_unit = "tokens"
    requires = frozenset({"causal", "stateful"})
    revision = 1  # records gained oov_rate and perplexity_known
    published = PUBLISHED
    profiles = {
        "smoke": Profile(
            max_steps=20,
            batch_size=16,
            hidden_size=32,
            val_every=10,
            options=WordLMOptions(
                source="web", vocab_size=500, bptt=20, embedding=32, val_tokens=2000, test_tokens=2000
            ),
        ),
        # Until validation stops improving, at most 3,000 steps (about 3 minutes a cell on
        # one core); unigram perplexity is ~206. At a 600-step cap every cell was still
        # descending fast (LSTM seed 0: validation perplexity 48.6, 5 % lower than 150
        # steps before); by 3,000 it is 33.3 and the gain per validation is about 1 %.
        "quick": Profile.for_leaderboard(
            max_steps=3000,
            batch_size=20,
            hidden_size=128,
            lr=5e-3,
            val_every=150,
            param_budget=650_000,
            options=WordLMOptions(source="web", vocab_size=2000, bptt=35, embedding=128, val_tokens=0, test_tokens=0),
        ),
        "full": zaremba(ZAREMBA_MEDIUM, "wikitext-2", time_limit=6 * 3600.0),
        "full-ptb": zaremba(ZAREMBA_MEDIUM, "ptb", time_limit=6 * 3600.0),
        "full-ptb-large": zaremba(ZAREMBA_LARGE, "ptb", time_limit=12 * 3600.0),
    }

    def prepare(self, profile, cache_dir):
        opts = profile.options
        vocab, streams, fp = encoded_corpus(opts, cache_dir)
        bs, bptt = profile.batch_size, opts.bptt
        val = streams["val"][: opts.val_tokens or None]
        test = streams["test"][: opts.test_tokens or None]
        return TaskData(
            train=stream_batches(streams["train"], bs, bptt),
            val=stream_batches(val, bs, bptt),
            test={"test": stream_batches(test, opts.test_batch_size or bs, bptt)},
            fingerprint=fingerprint(fp, option_settings(opts), bs),
            shuffle=False,
            batched=True,
            info={
                "vocab": vocab,
                "train_ids": streams["train"],
                "prompt": HUB_SOURCES[opts.source].prompt if opts.source in HUB_SOURCES else BIBLE_PROMPT,
            },
        )

    def metrics(self, data):
        from torchmetrics import MeanMetric
        from torchmetrics.text import Perplexity

        from rnnbench_plugins._lm_metrics import unknown_token_metrics

        return {
            "perplexity": Perplexity(),
            "cross_entropy": MeanMetric(),
            **unknown_token_metrics(data.info["vocab"].index(UNK)),
        }

    def build(self, data, model, profile):
        import torch
        from torch import nn
        from torch.nn import functional as F

        from rnnbench.nets import AlignedManyToMany

        vocab = data.info["vocab"]
        emb = profile.options.embedding
        core = model.build_core(emb, profile.hidden_size, profile.num_layers, profile.dropout)

        summed = profile.options.loss_summed_over_window

        def loss(out, batch):
            y = batch["y"]
            if summed:
                return F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="sum") / y.shape[0]
            return F.cross_entropy(out.flatten(0, 1), y.flatten())

        # Dropout on the non-recurrent connections only, as in Zaremba et al. (2014).
        adapter = nn.Sequential(nn.Embedding(len(vocab), emb), nn.Dropout(profile.dropout))
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, len(vocab)))
        index = {w: i for i, w in enumerate(vocab)}
        prompt_text = data.info["prompt"]
        prompt = torch.tensor([index.get(w, 0) for w in prompt_text.split()], dtype=torch.long)

        def samples(net):
            return {"prompt": prompt_text, "continuation": detokenize([vocab[i] for i in net.generate(prompt, 40)])}

        return AlignedManyToMany(adapter, core, head, loss, update_lm_metrics, carry_state=True, samples=samples)

    def baselines(self, data):
        import torch

        targets = torch.cat([b["y"].flatten() for b in data.test["test"]])
        return unigram_baselines(data.info["train_ids"], targets, len(data.info["vocab"]))

    def baseline_outcomes(self, data):
        return unigram_outcomes(data.info["train_ids"], data.test["test"], len(data.info["vocab"]))


@hookimpl
def rnnbench_tasks():
    return [WordLM()]
