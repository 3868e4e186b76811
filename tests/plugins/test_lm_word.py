"""lm-word: the Bible corpus, tokens and vocabulary, book splits, TBPTT streams, metrics
against hand-computed values, the hub loaders on local files in the hub's format, and a
smoke fit on the real World English Bible."""

import dataclasses
import json
import math

import pytest

torch = pytest.importorskip("torch")

from rnnbench.api import Model  # noqa: E402
from rnnbench.data import DataUnavailable, default_cache_dir  # noqa: E402
from rnnbench.testing import fit_smoke, load_registry  # noqa: E402
from rnnbench_plugins import lm_word  # noqa: E402
from rnnbench_plugins._lm import update_lm_metrics  # noqa: E402
from rnnbench_plugins._sword import parse_imp  # noqa: E402
from rnnbench_plugins.lm_word import (  # noqa: E402
    EOS,
    TEST_BOOKS,
    UNK,
    VAL_BOOKS,
    WordLM,
    WordLMOptions,
    bible_verses,
    build_vocab,
    encode_lines,
    tokenize_words,
)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


# --- the offline corpus -------------------------------------------------------------------


def test_verses_left_empty_by_cleaning_are_dropped():
    imp = "\n".join(
        [
            "$$$[ Module Heading ]",
            "",
            "$$$Genesis 1:0",
            '<chapter n="1"/>',
            "$$$Genesis 1:1",
            "In the beginning,",
            "God created.",
            "$$$Susanna 1:1",
            "",
            "$$$I Samuel 2:10",
            "<w>Hannah</w> prayed.",
        ]
    )
    assert lm_word.clean_verses(parse_imp(imp)) == [
        ("Genesis", 1, 1, "In the beginning, God created."),
        ("I Samuel", 2, 10, "Hannah prayed."),
    ]


def test_missing_bible_module_says_what_to_install(monkeypatch):
    monkeypatch.setattr(lm_word, "module_files", lambda module: [])
    with pytest.raises(DataUnavailable) as err:
        bible_verses("/nonexistent")
    assert str(err.value).startswith("SWORD module engWEB2015eb (/usr/share/sword/mods.d/engWEB2015eb.conf) is missing")
    assert str(err.value).endswith("sudo apt-get install sword-text-web") or "--reinstall sword-text-web" in str(
        err.value
    )


# --- tokens and vocabulary --------------------------------------------------------------


def test_tokenizer_splits_punctuation_clitics_and_quotes():
    assert tokenize_words("“Don’t,” said Jesus’ disciples—‘God’s people’ 12:3!") == [
        '"',
        "don",
        "'t",
        ",",
        '"',
        "said",
        "jesus",
        "'",
        "disciples",
        "—",
        "'",
        "god",
        "'s",
        "people",
        "'",
        "12",
        ":",
        "3",
        "!",
    ]
    assert tokenize_words("") == [] and tokenize_words("   \t ") == []
    assert tokenize_words("Yahweh", lowercase=False) == ["Yahweh"]


def test_vocab_is_top_k_of_training_words_with_alphabetical_ties():
    train = [["b", "a", "c", "a"], [], ["c", "d"]]
    assert build_vocab(train, 10) == [UNK, EOS, "a", "c", "b", "d"]
    assert build_vocab(train, 4) == [UNK, EOS, "a", "c"]


def test_unk_comes_only_from_words_outside_the_vocabulary():
    train = [["in", "the", "beginning"], ["the", "end", "."]]
    vocab = build_vocab(train, 100)
    encoded = encode_lines(train, vocab)
    assert 0 not in [i for line in encoded for i in line]  # every training word is known
    val = [["the", "zebra", "."], [], ["the"]]
    # the empty line is dropped; the unknown word is <unk>; every line ends with <eos>
    assert encode_lines(val, vocab) == [[vocab.index("the"), 0, vocab.index("."), 1], [vocab.index("the"), 1]]


def test_a_corpus_that_spells_unk_out_keeps_one_unk_token():
    vocab = build_vocab([["the", "<unk>", "<unk>", "rose"]], 10)
    assert vocab.count(UNK) == 1 and vocab[0] == UNK
    assert encode_lines([["<unk>", "rose"]], vocab) == [[0, vocab.index("rose"), 1]]


# --- the real corpus --------------------------------------------------------------------


@pytest.fixture(scope="module")
def verses():
    table, _ = bible_verses(default_cache_dir())
    return table


def test_splits_share_no_book_and_no_verse(verses):
    refs = {s: set() for s in ("train", "val", "test")}
    books = {s: set() for s in ("train", "val", "test")}
    columns = verses.to_dict()
    for book, chapter, verse, split in zip(columns["book"], columns["chapter"], columns["verse"], columns["split"]):
        refs[split].add((book, chapter, verse))
        books[split].add(book)
    assert books["val"] == set(VAL_BOOKS) and books["test"] == set(TEST_BOOKS)
    assert not books["train"] & (books["val"] | books["test"])
    assert not refs["train"] & refs["val"] and not refs["train"] & refs["test"] and not refs["val"] & refs["test"]
    assert len(verses) > 30000 and all(t.strip() for t in columns["text"])


def test_the_corpus_is_clean_text(verses):
    first = dict(
        zip(("book", "chapter", "verse", "text"), (verses[0][k] for k in ("book", "chapter", "verse", "text")))
    )
    assert first == {
        "book": "Genesis",
        "chapter": 1,
        "verse": 1,
        "text": "In the beginning, God created the heavens and the earth.",
    }
    sample = " ".join(verses["text"][:5000])
    assert "<" not in sample and ">" not in sample and "&amp;" not in sample


@pytest.fixture(scope="module")
def smoke_data():
    task = WordLM()
    return task, task.prepare(task.profiles["smoke"], default_cache_dir())


def test_prepared_streams_follow_the_vocabulary_rules(smoke_data):
    task, data = smoke_data
    vocab = data.info["vocab"]
    assert len(vocab) == task.profiles["smoke"].options.vocab_size and vocab[:2] == [UNK, EOS]
    assert len(set(vocab)) == len(vocab)
    words = " ".join(vocab[i] for i in data.info["train_ids"][:12].tolist())
    assert words == "in the <unk> , god <unk> the <unk> and the earth ."


# --- metrics ----------------------------------------------------------------------------


def test_perplexity_and_cross_entropy_match_a_hand_computed_example(smoke_data):
    task, data = smoke_data
    metrics = task.metrics(data)
    # two tokens: p(target) = 0.5, then 0.75 -> mean NLL = -(ln 0.5 + ln 0.75) / 2
    logits = torch.tensor([[[0.5, 0.5], [0.25, 0.75]]]).log()
    update_lm_metrics(metrics, logits, {"y": torch.tensor([[0, 1]])})
    nll = -(math.log(0.5) + math.log(0.75)) / 2
    assert float(metrics["cross_entropy"].compute()) == pytest.approx(nll, rel=1e-6)
    assert float(metrics["perplexity"].compute()) == pytest.approx(1 / math.sqrt(0.5 * 0.75), rel=1e-6)


def test_unigram_baseline_matches_a_hand_computed_example(smoke_data):
    task, data = smoke_data
    from rnnbench.api import TaskData

    tiny = TaskData(
        train=[],
        val=[],
        test={"test": [{"x": torch.tensor([[0, 1]]), "y": torch.tensor([[1, 2]])}]},
        fingerprint="",
        info={"vocab": ["<unk>", "<eos>", "a"], "train_ids": torch.tensor([0, 1, 1, 2])},
    )
    base = task.baselines(tiny)
    nll = -(math.log(3 / 7) + math.log(2 / 7)) / 2  # add-one counts 2, 3, 2 of 7
    assert base["unigram"]["cross_entropy"] == pytest.approx(nll)
    assert base["unigram"]["perplexity"] == pytest.approx(math.exp(nll))
    assert base["uniform"] == {"perplexity": 3.0, "cross_entropy": pytest.approx(math.log(3))}


# --- the hub sources --------------------------------------------------------------------

WIKITEXT_ROWS = {
    "train": [
        "",
        " = Valkyria Chronicles = \n",
        "",
        " the game was released in japan . \n",
        " the game 's story was praised . \n",
        " ",
    ],
    "validation": ["", " the story was released . \n", " the zebra was praised . \n"],
    "test": [" the game was praised in japan . \n", " the game was released . \n"],
}


def write_jsonl(path, column, rows):
    path.write_text("".join(json.dumps({column: r}) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_wikitext_loader_on_a_local_copy_in_the_hubs_format(tmp_path):
    files = {s: write_jsonl(tmp_path / f"{s}.jsonl", "text", rows) for s, rows in WIKITEXT_ROWS.items()}
    task = WordLM()
    profile = task.profiles["smoke"].replace(
        batch_size=2,
        options=WordLMOptions(
            source="wikitext-2", data_files=files, vocab_size=100, bptt=4, embedding=8, val_tokens=0, test_tokens=0
        ),
    )
    data = task.prepare(profile, str(tmp_path / "cache"))
    vocab = data.info["vocab"]
    assert "zebra" not in vocab and "japan" in vocab and "=" in vocab  # built on train only
    train = " ".join(vocab[i] for i in data.info["train_ids"].tolist())
    assert train == (
        "= Valkyria Chronicles = <eos> the game was released in japan . <eos> the game 's story was praised . <eos>"
    )  # blank rows carry no tokens
    val = torch.cat([torch.cat([b["x"][:, :1], b["y"]], 1) for b in data.val], 1)  # rows of the stream
    assert (val == 0).sum() == 1  # the one unknown word, "zebra"

    from rnnbench.training import fit_cell

    record = fit_cell(
        task,
        load_registry().models["lstm"],
        profile.replace(max_steps=4, val_every=2, hidden_size=8),
        0,
        data,
        accelerator="cpu",
    )
    assert math.isfinite(record["primary"]["value"])
    assert record["samples"]["prompt"] == "the game was"


def test_ptb_loader_on_a_local_parquet_copy(tmp_path):
    import datasets

    files = {}
    for split, rows in {
        "train": [" aer banknote <unk> ", " the <unk> said ", ""],
        "validation": [" the company said "],
        "test": [" the banknote said "],
    }.items():
        files[split] = str(tmp_path / f"{split}.parquet")
        datasets.Dataset.from_dict({"sentence": rows}).to_parquet(files[split])
    options = dataclasses.replace(WordLM.profiles["full-ptb"].options, data_files=files)
    assert (options.source, options.vocab_size) == ("ptb", 10000)
    vocab, streams, _ = lm_word.encoded_corpus(options, str(tmp_path / "cache"))
    assert vocab == [UNK, EOS, "aer", "banknote", "said", "the"]  # PTB's own <unk> is ours
    assert streams["train"].tolist() == [2, 3, 0, 1, 5, 0, 4, 1]
    assert streams["val"].tolist() == [5, 0, 4, 1]  # "company" never occurs in training


def test_a_local_copy_without_the_hubs_column_is_one_clear_line(tmp_path):
    files = {s: write_jsonl(tmp_path / f"{s}.jsonl", "body", ["a b"]) for s in ("train", "validation", "test")}
    with pytest.raises(DataUnavailable) as err:
        lm_word.encoded_corpus(
            dataclasses.replace(WordLM.profiles["full"].options, data_files=files, vocab_size=10), str(tmp_path)
        )
    assert "no column 'text'" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("profile", ["full", "full-ptb"])
def test_unreachable_hub_names_the_offline_default(tmp_path, monkeypatch, profile):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = WordLM()
    with pytest.raises(DataUnavailable) as err:
        task.prepare(task.profiles[profile], str(tmp_path))
    message = str(err.value)
    assert "\n" not in message and "unreachable" in message
    assert "World English Bible" in message and "quick" in message


def test_full_profile_is_the_zaremba_medium_recipe():
    for name, source in (("full", "wikitext-2"), ("full-ptb", "ptb")):
        p = WordLM.profiles[name]
        assert (p.num_layers, p.hidden_size, p.dropout, p.batch_size, p.options.bptt) == (2, 650, 0.5, 20, 35)
        assert p.options.source == source and p.max_steps == 39 * p.val_every
    assert WordLM.profiles["full-ptb"].options.vocab_size == 10000


# --- the cell ---------------------------------------------------------------------------


def test_a_non_causal_model_is_not_applicable():
    class Bidirectional(Model):
        name = "bi-test"
        provides = frozenset({"stateful"})

        def build_core(self, input_size, hidden_size, num_layers, dropout):
            raise AssertionError("an n/a cell never builds a core")

    assert "causal" in Bidirectional().unsupported(WordLM())


def test_smoke_fit_trains_beats_uniform_and_keeps_a_sample(smoke_data):
    record = fit_smoke("lm-word", "lstm")
    ppl = record["primary"]["value"]
    assert record["primary"]["name"] == "perplexity" and math.isfinite(ppl)
    assert ppl < len(smoke_data[1].info["vocab"])  # better than guessing uniformly
    assert record["metrics"]["cross_entropy"] == pytest.approx(math.log(ppl), rel=1e-4)
    assert record["samples"]["prompt"] == lm_word.BIBLE_PROMPT
    assert len(record["samples"]["continuation"].split()) >= 20
