"""Machine translation English -> Spanish on Bible verses aligned by reference.

Offline default: the King James Version (SWORD ``engKJV2006eb``, Debian ``sword-text-kjv``)
and the Reina-Valera 1909 (``spaRV1909eb``, ``sword-text-sparv``), read with ``mod2imp``
(``libsword-utils``). Both follow the KJV versification, so a verse reference such as
``Genesis 1:1`` names the same verse on both sides; the World English Bible numbers a few
books differently and would misalign pairs, which is why KJV is the English side.

Pairs are length-filtered and split by chapter (a hash of ``Book C``), so no verse is in
two splits and every split spans the whole Bible. Word vocabularies (lower-cased, with
``<pad>``, ``<unk>``, ``<bos>``, ``<eos>``) are built on the training split only.

The net is rnnbench.seq2seq's encoder-decoder with attention, built from the model's own
cores (a bidirectional model encodes, and its family's one-directional core decodes);
validation decodes greedily, the test uses beam search. Metrics: corpus BLEU (primary)
and chrF of sacreBLEU on the 0-100 scale, and perplexity. The hypotheses are detokenised
to plain text and scored against the raw reference texts, on validation (which picks the
checkpoint) as on test; the vocabularies are lower-case, so the scores are
case-insensitive (sacreBLEU's ``lowercase``: ``case:lc`` in the signature each record
keeps). Baselines: copying the source text, and the most frequent target words.

The full profile uses the hub's ``bible_para`` (en-es); the extra profile ``full-multi30k``
trains the net with Bahdanau's additive attention on ``bentrevett/multi30k`` (de-en), the
setting of bentrevett's pytorch-seq2seq tutorial 3 ("Neural Machine Translation by Jointly
Learning to Align and Translate"), whose model is the ``bi-gru`` cell here. The same code
reads a local copy in the hub's format through the ``data_files`` option.

What differs from that tutorial, for ``bi-gru`` under ``full-multi30k``:

- tokeniser: a lower-casing regex (a run of word characters, or one other mark), not spaCy's de/en
  models; vocabularies of the words seen twice in training, as there;
- sizes: embeddings 256 and GRUs of 512 (each encoder direction, and the decoder), dropout
  0.5, batch 128, Adam at 1e-3 with gradient norms clipped to 1: as there; the tutorial
  initialises every weight from N(0, 0.01), here torch's defaults stay;
- training: 3000 steps (about 13 epochs of the 29,000 pairs) keeping the checkpoint of the
  best validation BLEU, where the tutorial trains 10 epochs keeping the best validation loss;
- the decoder: here it reads the target tokens alone and attends from its output at each
  step (the query is its state after the previous token), and the readout is
  tanh(W [output; context]) before the vocabulary layer. The tutorial feeds the context
  into the GRU's input at each step and predicts from [output; context; embedding]: that
  needs a Python loop over time in training, which this net avoids;
- decoding: beam search of width 5 on test, where the tutorial decodes greedily;
- the metric: the ~28 test BLEU of this model (reported in tutorial 4, which adds packed
  sequences and masked attention, as this net has) is torchtext's ``bleu_score`` on the
  tokenised, lower-cased words, not comparable with the sacreBLEU score of raw texts here.
"""

import hashlib
import re
from dataclasses import dataclass, field

from rnnbench import Profile, Published, Requirement, Task, TaskData, hookimpl
from rnnbench.api import option_settings
from rnnbench.data import LengthBucketedBatches, cached, epochs_for_steps, file_digest, fingerprint, hub_dataset
from rnnbench_plugins._sword import (
    DATA_ENVIRONMENT,
    MOD2IMP,
    clean_osis,
    module_requirement,
    module_version,
    read_verses,
)

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(len(SPECIALS))

CLEANING = "v2"  # of _sword.clean_osis, in the cache key: bump it when that changes

HUB_SOURCES = {
    "bible_para": {"path": "Helsinki-NLP/bible_para", "name": "en-es", "revision": "refs/convert/parquet"},
    "multi30k": {"path": "bentrevett/multi30k"},
}
OFFLINE_DEFAULT = "SWORD KJV/RV1909 verses: rnnbench run --task translate-en-es --profile quick"


@dataclass(frozen=True)
class TranslationOptions:
    source: str
    """``sword`` (two installed SWORD modules) or a hub corpus (bible_para, multi30k)."""
    max_len: int
    """Longest pair kept, in tokens of either side; 0: every pair."""
    vocab_size: int
    """Words of each side's vocabulary; 0: every word seen ``min_freq`` times."""
    min_freq: int
    embed_size: int
    beam: int
    """Beam width of the decoder at test time."""
    eval_size: int
    """Validation and test pairs drawn (with a fixed seed); 0: all of them."""
    src_module: str | None = None
    """The SWORD modules of a ``sword`` source."""
    tgt_module: str | None = None
    src_lang: str | None = None
    """The languages of a hub source."""
    tgt_lang: str | None = None
    data_files: dict[str, str] | None = None
    """Local JSON files in the hub corpus's format, by split, instead of the hub."""
    hub: dict = field(default_factory=dict)
    """Overrides of the hub source's ``load_dataset`` arguments."""
    unit_size: int = 50
    """Verses per splitting block of a corpus that ships only a train split."""
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    train_size: int = 0
    """Training pairs drawn (with a fixed seed); 0: all of them."""
    attention: str = "general"
    """The attention score (rnnbench.seq2seq.ATTENTIONS): Luong's ``general`` or
    Bahdanau's ``additive``."""


_TOKEN = re.compile(r"\w+|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?)]}»'’-")
_NO_SPACE_AFTER = set("¿¡([{«'‘-")
_APOSTROPHE = "’"
_CONTRACTED = {"s", "t", "d", "ll", "m", "re", "ve"}
"""What follows an apostrophe within a word (father’s, don’t); after any other word the
apostrophe closed the word before it (the sons’ wives)."""
_NUMBER_JOINERS = set(".,:")


# --- text ------------------------------------------------------------------------------
def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks; an empty or blank line gives []."""
    return _TOKEN.findall(text.lower())


def detokenize(tokens: list[str]) -> str:
    """Tokens back to readable text: no space before closing or after opening marks, none
    around a point, comma or colon between two numbers (``3.5``, ``1,000``, ``3:16``) or
    between an apostrophe and a contraction (``father’s``), which ``tokenize`` split apart."""
    out = ""
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        glued = (
            tok in _NO_SPACE_BEFORE
            or prev[-1:] in _NO_SPACE_AFTER
            or (prev == _APOSTROPHE and tok in _CONTRACTED)
            or (tok in _NUMBER_JOINERS and _is_number_join(tokens, i))
            or (prev in _NUMBER_JOINERS and _is_number_join(tokens, i - 1))
        )
        out += tok if glued or not out else " " + tok
    return out


def _is_number_join(tokens: list[str], i: int) -> bool:
    return 0 < i < len(tokens) - 1 and tokens[i - 1].isdigit() and tokens[i + 1].isdigit()


class Vocab:
    """Token <-> id, specials first; tokens outside it map to ``<unk>``."""

    def __init__(self, tokens: list[str]):
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: list[list[str]], max_size: int, min_freq: int) -> "Vocab":
        from collections import Counter

        counts = Counter(t for s in sentences for t in s)
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls(ranked[: max(0, max_size - len(SPECIALS))] if max_size else ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: list[str], eos: bool = False) -> list[int]:
        ids = [self.stoi.get(t, UNK) for t in tokens]
        return ids + [EOS] if eos else ids

    def decode(self, ids: list[int]) -> list[str]:
        return [self.itos[i] for i in ids if i not in (PAD, BOS, EOS)]


def output_text(ids: list[int], attended: list[int], source: list[str], vocab: Vocab, src_vocab: Vocab) -> str:
    """Decoded ids as text, each ``<unk>`` replaced by the source word it attended to most
    when that word is itself unknown (Luong et al. 2015): rare words here are mostly names,
    which carry over unchanged. Each source word is copied once at most; an ``<unk>``
    with no rare word left to copy is left out."""
    words, copied = [], set()
    for i, a in zip(ids, attended):
        if i == UNK:
            if a < len(source) and a not in copied and source[a] not in src_vocab.stoi and source[a][0].isalnum():
                words.append(source[a])
                copied.add(a)
        elif i not in (PAD, BOS, EOS):
            words.append(vocab.itos[i])
    return detokenize(words)


# --- sources ---------------------------------------------------------------------------
def sword_pairs(src_module: str, tgt_module: str) -> list[dict]:
    """Verse pairs present and non-empty in both modules, in canonical order; the chapter
    is the splitting unit."""
    tgt = {v.ref: v.markup for v in read_verses(tgt_module)}
    pairs = []
    for v in read_verses(src_module):
        if v.ref not in tgt:
            continue
        s, t = clean_osis(v.markup), clean_osis(tgt[v.ref])
        if s and t:
            pairs.append({"ref": v.ref, "unit": f"{v.book} {v.chapter}", "split": "", "src": s, "tgt": t})
    return pairs


def rows_to_pairs(rows, split: str, src_lang: str, tgt_lang: str, ref_prefix: str, unit_size: int) -> list[dict]:
    """Hub rows (``{"translation": {lang: text}}`` as in bible_para, or ``{lang: text}``
    as in multi30k) to pairs. ``unit_size=0`` keeps the hub's split; otherwise (a corpus
    with one split, in canonical order) blocks of ``unit_size`` consecutive rows, about a
    chapter, become the splitting unit."""
    pairs = []
    for i, row in enumerate(rows):
        texts = row["translation"] if "translation" in row else row
        if src_lang not in texts or tgt_lang not in texts:
            raise ValueError(f"dataset rows lack a '{src_lang}' or '{tgt_lang}' text: columns are {sorted(texts)}")
        ref = f"{ref_prefix}:{split}:{row.get('id', i)}"
        pairs.append(
            {
                "ref": ref,
                "unit": f"{ref_prefix}:{split}:block{i // unit_size}" if unit_size else ref,
                "split": "" if unit_size else split,
                "src": " ".join((texts[src_lang] or "").split()),
                "tgt": " ".join((texts[tgt_lang] or "").split()),
            }
        )
    return pairs


def hub_pairs(options: TranslationOptions) -> list[dict]:
    """Pairs from a hub dataset or, with ``data_files``, from local JSON files in its format."""
    source = options.source
    if options.data_files:
        import datasets

        splits = datasets.load_dataset("json", data_files=options.data_files)
    else:
        hub = {**HUB_SOURCES[source], **options.hub}
        path = hub.pop("path")
        splits = hub_dataset(path, offline_default=OFFLINE_DEFAULT, **hub)
    names = {"train": "train", "validation": "val", "val": "val", "test": "test"}
    # A corpus that ships only a train split (bible_para) is split here, by blocks of verses;
    # one with its own validation and test splits (multi30k) keeps them.
    unit_size = options.unit_size if set(splits) == {"train"} else 0
    pairs = []
    for split, rows in splits.items():
        pairs += rows_to_pairs(rows, names.get(split, split), options.src_lang, options.tgt_lang, source, unit_size)
    return pairs


def load_pairs(options: TranslationOptions, cache_dir: str):
    """All pairs of the profile's source (cached as Arrow) and the source's fingerprint."""
    table, fp = pairs_table(options, cache_dir)
    return table.to_list(), fp


def pairs_table(options: TranslationOptions, cache_dir: str):
    """The cached Arrow table behind ``load_pairs`` and the source's fingerprint."""
    import datasets

    source = options.source
    if source == "sword":
        modules = [options.src_module, options.tgt_module]
        settings = {
            "source": source,
            "modules": modules,
            "versions": [module_version(m) for m in modules],
            "cleaning": CLEANING,
        }

        def build():
            return datasets.Dataset.from_list(sword_pairs(*modules))
    elif source in HUB_SOURCES:
        files = options.data_files or {}
        settings = {
            "source": source,
            "hub": {**HUB_SOURCES[source], **options.hub},
            "langs": [options.src_lang, options.tgt_lang],
            "unit_size": options.unit_size,
            "files": {k: file_digest(v) for k, v in sorted(files.items())},
        }

        def build():
            return datasets.Dataset.from_list(hub_pairs(options))
    else:
        raise ValueError(f"unknown translation source {source!r}: use sword, {', '.join(HUB_SOURCES)}")
    return cached(cache_dir, f"translation-{source}", settings, build)


def cached_splits(options: TranslationOptions, cache_dir: str) -> tuple[dict, str]:
    """``tokenized_splits`` of the source's pairs, cached too: tokenizing every pair
    again was most of a second run's data preparation."""
    import datasets

    table, source_fp = pairs_table(options, cache_dir)
    settings = {
        "pairs": source_fp,
        "max_len": options.max_len,
        "tokenizer": "v1",
        "fractions": [options.val_fraction, options.test_fraction],
        "raw_text": True,  # each pair keeps its untokenised texts, which BLEU and chrF score
    }

    def build():
        splits = tokenized_splits(table.to_list(), settings["max_len"], *settings["fractions"])
        empty = {"ref": [], "src": [], "tgt": [], "src_text": [], "tgt_text": []}
        return datasets.DatasetDict(
            {
                s: datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict(empty)
                for s, rows in splits.items()
            }
        )

    tables, _ = cached(cache_dir, f"translation-{options.source}-tokenized", settings, build)
    return {s: tables[s].to_list() for s in ("train", "val", "test")}, source_fp


def split_of(unit: str, val_fraction: float, test_fraction: float) -> str:
    """A stable split for a splitting unit (chapter or block), from a hash of its name."""
    u = int(hashlib.sha1(unit.encode()).hexdigest()[:8], 16) / 2**32
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def tokenized_splits(pairs: list[dict], max_len: int, val_fraction: float, test_fraction: float) -> dict:
    """Split -> tokenized pairs, each with its raw texts (``src_text``, ``tgt_text``); pairs
    with an empty side or a side over ``max_len`` tokens are dropped (before splitting, so
    the filter never depends on the split)."""
    out = {"train": [], "val": [], "test": []}
    for p in pairs:
        if max_len and (len(p["src"].split()) > max_len or len(p["tgt"].split()) > max_len):
            continue  # cheap early reject: a text has at least as many tokens as words
        src, tgt = tokenize(p["src"]), tokenize(p["tgt"])
        if not src or not tgt or (max_len and (len(src) > max_len or len(tgt) > max_len)):
            continue
        split = p["split"] or split_of(p["unit"], val_fraction, test_fraction)
        out[split].append({"ref": p["ref"], "src": src, "tgt": tgt, "src_text": p["src"], "tgt_text": p["tgt"]})
    return out


def subsample(items: list, size: int, seed: int) -> list:
    """``size`` items drawn with a fixed seed, kept in corpus order (0: all)."""
    import random

    if not size or size >= len(items):
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), size))
    return [items[i] for i in keep]


def pair_length(item: dict) -> tuple[int, int]:
    """Batches are bucketed by source length, then target length: the encoder and the
    decoder each pack their side, and on the CPU a packed batch of unequal lengths is
    slower backward (3-4x for long sequences; about 10% more steps per second for the
    quick profile's verses of at most 15 tokens)."""
    return len(item["x"]), len(item["y"])


def collate(items: list[dict]) -> dict:
    import torch

    def pad(seqs):
        out = torch.full((len(seqs), max(len(s) for s in seqs)), PAD, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return out, torch.tensor([len(s) for s in seqs], dtype=torch.long)

    x, lengths = pad([it["x"] for it in items])
    y, y_lengths = pad([it["y"] for it in items])
    return {
        "x": x,
        "lengths": lengths,
        "y": y,
        "y_lengths": y_lengths,
        "target_tokens": int(y_lengths.sum()),
        "source_tokens": [it["source_tokens"] for it in items],
        "source": [it["source"] for it in items],
        "reference": [it["reference"] for it in items],
    }


# --- the task ---------------------------------------------------------------------------
TUTORIAL = Published(
    "bentrevett/pytorch-seq2seq, tutorial 4",
    "bidirectional GRU encoder, GRU decoder, Bahdanau attention",
    "bleu",
    28.0,
    "Not the same metric: theirs is torchtext's bleu_score on tokenised, lower-cased words, ours sacreBLEU "
    "(lower-cased) on the detokenised text. Also: a regex tokeniser, not spaCy's; torch's default "
    "initialisation, not N(0, 0.01); 3000 steps keeping the best validation BLEU, not 10 epochs keeping the "
    "best validation loss; a decoder that attends from its output and does not feed the context into its "
    "GRU; beam search of width 5, not greedy decoding.",
    ours="bi-gru",
    verified=False,
    profile="full-multi30k",
    setup="Multi30k de->en (29,000 pairs); embeddings 256, GRUs of 512, dropout 0.5; Adam 1e-3, 10 epochs",
)
"""The tutorial's test BLEU of about 28 (its notebook prints it), read second-hand: not verified."""


class TranslationTask(Task):
    family = "translation"
    data_environment = DATA_ENVIRONMENT
    requirements = (
        MOD2IMP,
        module_requirement("engKJV2006eb"),
        module_requirement("spaRV1909eb"),
        Requirement.python("sacrebleu", pip="rnnbench[translation]"),
    )
    shape = "seq2seq"
    primary_metric = "bleu"
    direction = "max"
    throughput_unit = "target tokens"
    requires = frozenset({"causal", "stateful"})
    revision = 1  # records gained sacreBLEU's signatures (metric_notes) and raw references
    published = (TUTORIAL,)

    def __init__(self, name: str, description: str, profiles: dict):
        self.name, self.description, self.profiles = name, description, profiles

    def prepare(self, profile, cache_dir):
        opts = profile.options
        splits, source_fp = cached_splits(opts, cache_dir)
        if not splits["train"] or not splits["val"] or not splits["test"]:
            raise ValueError(f"{self.name}: a split is empty after filtering to {opts.max_len} tokens; raise max_len")
        splits["train"] = subsample(splits["train"], opts.train_size, seed=1)
        splits["val"] = subsample(splits["val"], opts.eval_size, seed=2)
        splits["test"] = subsample(splits["test"], opts.eval_size, seed=3)
        src_vocab = Vocab.build([p["src"] for p in splits["train"]], opts.vocab_size, opts.min_freq)
        tgt_vocab = Vocab.build([p["tgt"] for p in splits["train"]], opts.vocab_size, opts.min_freq)

        def items(split):
            return [
                {
                    "x": src_vocab.encode(p["src"]),
                    "y": tgt_vocab.encode(p["tgt"], eos=True),
                    "source_tokens": p["src"],
                    "source": p["src_text"],
                    "reference": p["tgt_text"],
                }
                for p in splits[split]
            ]

        encoded = {s: items(s) for s in splits}
        bs = profile.batch_size
        epochs = epochs_for_steps(profile.max_steps, bs, len(encoded["train"]))
        return TaskData(
            train=LengthBucketedBatches(encoded["train"], bs, collate, epochs=epochs, seed=0, length=pair_length),
            val=LengthBucketedBatches(encoded["val"], bs, collate, length=pair_length),
            test={"test": LengthBucketedBatches(encoded["test"], bs, collate, length=pair_length)},
            # v2: training batches are length-bucketed, no longer a shuffled DataLoader;
            # v3: references are the raw texts, no longer lower-cased and re-tokenised
            fingerprint=fingerprint(source_fp, option_settings(opts), "v3"),
            batched=True,
            shuffle=False,
            info={
                "src_vocab": src_vocab,
                "tgt_vocab": tgt_vocab,
                "train_pairs": splits["train"],
                "test_pairs": splits["test"],
                "refs": {s: [p["ref"] for p in splits[s]] for s in splits},
                "sizes": {s: len(splits[s]) for s in splits},
                "max_target_len": max(len(p["tgt"]) for p in splits["train"]),
                # padding both sides of a batch costs ~2.4 ms, a GPU step's worth: on a
                # GPU two loader processes collate while the training thread feeds it
                "loader_workers": 2,
            },
        )

    def metrics(self, data):
        from torchmetrics.text import Perplexity

        from rnnbench_plugins._translation_metrics import SacreBLEU, SacreCHRF

        # the vocabularies are lower-case, so are the hypotheses: case is not scored
        return {
            "bleu": SacreBLEU(lowercase=True),
            "chrf": SacreCHRF(lowercase=True),
            "perplexity": Perplexity(ignore_index=PAD),
        }

    def metric_notes(self, data):
        metrics = self.metrics(data)
        return {
            "bleu": f"sacreBLEU {metrics['bleu'].signature()}",
            "chrf": f"sacreBLEU {metrics['chrf'].signature()}",
            "scoring": (
                "Hypotheses are detokenised to plain text and scored against the raw reference texts, the same "
                "way on validation (greedy decoding, which picks the checkpoint) and test (beam search). "
                "The vocabularies are lower-case, so both sides are lower-cased before scoring (case:lc)."
            ),
        }

    def build(self, data, model, profile):
        import torch
        from torch import nn

        from rnnbench.seq2seq import EncoderDecoder

        opts = profile.options
        src_vocab, tgt_vocab = data.info["src_vocab"], data.info["tgt_vocab"]

        scored: dict = {}

        def update(metrics, out, batch):
            hypotheses = [
                output_text(t, a, s, tgt_vocab, src_vocab)
                for t, a, s in zip(out["tokens"], out["alignments"], batch["source_tokens"])
            ]
            scored["hyp"] = hypotheses
            references = [[r] for r in batch["reference"]]
            metrics["bleu"].update(hypotheses, references)
            metrics["chrf"].update(hypotheses, references)
            metrics["perplexity"].update(out["logits"], batch["y"])

        examples = collate(data.test["test"].items[:3])

        def samples(net):
            device = next(net.parameters()).device
            batch = {
                k: v.to(device) if isinstance(v, torch.Tensor) and k != "lengths" else v for k, v in examples.items()
            }
            outputs = zip(*net.translate(batch, alignments=True), examples["source_tokens"])
            return {
                f"example {i + 1}": f"{src} => {output_text(*out, tgt_vocab, src_vocab)} (reference: {ref})"
                for i, (src, out, ref) in enumerate(zip(examples["source"], outputs, examples["reference"]))
            }

        embed = opts.embed_size
        return EncoderDecoder.from_model(
            model,
            nn.Embedding(len(src_vocab), embed, padding_idx=PAD),
            embed,
            len(tgt_vocab),
            profile.hidden_size,
            profile.num_layers,
            profile.dropout,
            update,
            pad_id=PAD,
            bos_id=BOS,
            eos_id=EOS,
            max_len=data.info["max_target_len"] + 5,
            beam_size=opts.beam,
            attention=opts.attention,
            samples=samples,
            # the hypotheses update() just scored, with their references lower-cased as the
            # metric's lowercase option does (rnnbench.outcomes scores BLEU case-sensitively)
            outcomes=lambda out, batch: {
                "kind": "bleu",
                "hyp": [h.lower() for h in scored["hyp"]],
                "ref": [r.lower() for r in batch["reference"]],
            },
        )

    def baselines(self, data):
        import math
        from collections import Counter

        train, test = data.info["train_pairs"], data.info["test_pairs"]
        tgt_vocab = data.info["tgt_vocab"]
        references = [[p["tgt_text"]] for p in test]

        def score(hypotheses):
            metrics = self.metrics(data)
            out = {}
            for name in ("bleu", "chrf"):
                metrics[name].update(hypotheses, references)
                out[name] = float(metrics[name].compute())
            return out

        counts = Counter(t for p in train for t in p["tgt"])
        frequent = [t for t, _ in counts.most_common(200)]
        ratio = sum(len(p["tgt"]) for p in train) / sum(len(p["src"]) for p in train)
        unigram = [detokenize(frequent[: max(1, round(ratio * len(p["src"])))]) for p in test]

        # unigram perplexity over the same target ids the models predict (incl. <unk>, <eos>)
        ids = Counter(i for p in train for i in tgt_vocab.encode(p["tgt"], eos=True))
        total = sum(ids.values()) + len(tgt_vocab)
        test_ids = [i for p in test for i in tgt_vocab.encode(p["tgt"], eos=True)]
        nll = -sum(math.log((ids[i] + 1) / total) for i in test_ids) / len(test_ids)
        return {
            "copy-source": score([p["src_text"] for p in test]),
            "unigram": {**score(unigram), "perplexity": math.exp(nll)},
        }


SWORD = {"source": "sword", "src_module": "engKJV2006eb", "tgt_module": "spaRV1909eb"}


@hookimpl
def rnnbench_tasks():
    return [
        TranslationTask(
            "translate-en-es",
            "English->Spanish Bible verses (SWORD KJV / Reina-Valera 1909), split by chapter; SacreBLEU",
            {
                "smoke": Profile(
                    max_steps=20,
                    batch_size=16,
                    hidden_size=32,
                    val_every=10,
                    options=TranslationOptions(
                        **SWORD,
                        max_len=12,
                        vocab_size=500,
                        min_freq=1,
                        embed_size=32,
                        beam=2,
                        train_size=300,
                        eval_size=16,
                    ),
                ),
                # Short verses only, enough for the formulaic verses and names (copied
                # through <unk>). BLEU stays 0 until a model writes whole n-grams, which some
                # models reach only after ~400 steps: no plateau is judged before step 450.
                "quick": Profile.for_leaderboard(
                    max_steps=900,
                    min_steps=450,
                    batch_size=64,
                    hidden_size=128,
                    lr=1e-2,
                    val_every=90,
                    param_budget=680_000,
                    options=TranslationOptions(
                        **SWORD,
                        max_len=15,
                        vocab_size=2000,
                        min_freq=2,
                        embed_size=64,
                        beam=4,
                        eval_size=200,
                        val_fraction=0.08,
                        test_fraction=0.08,
                    ),
                ),
                "full": Profile(
                    max_steps=40000,
                    batch_size=64,
                    hidden_size=512,
                    num_layers=2,
                    dropout=0.3,
                    val_every=2000,
                    seeds=3,
                    options=TranslationOptions(
                        source="bible_para",
                        src_lang="en",
                        tgt_lang="es",
                        max_len=50,
                        vocab_size=32000,
                        min_freq=2,
                        embed_size=256,
                        beam=5,
                        eval_size=2000,
                    ),
                ),
                # bentrevett's pytorch-seq2seq tutorial 3 on Multi30k de->en, for bi-gru: what
                # differs is in the module's docstring (its ~28 BLEU is not sacreBLEU's)
                "full-multi30k": Profile(
                    max_steps=3000,
                    batch_size=128,
                    hidden_size=512,
                    dropout=0.5,
                    val_every=250,
                    seeds=3,
                    options=TranslationOptions(
                        source="multi30k",
                        src_lang="de",
                        tgt_lang="en",
                        max_len=0,
                        vocab_size=0,
                        min_freq=2,
                        embed_size=256,
                        beam=5,
                        eval_size=0,
                        attention="additive",
                    ),
                ),
            },
        )
    ]
