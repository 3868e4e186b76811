"""lm-word: the Bible corpus, tokens and vocabulary, book splits, TBPTT streams, metrics
against hand-computed values, the hub loaders on local files in the hub's format and on
an in-memory stand-in for the hub, the Zaremba et al. recipes, and a smoke fit on the
real World English Bible."""

import dataclasses
import json
import math

import pytest

torch = pytest.importorskip("torch")

from rnnbench.api import Model  # noqa: E402
from rnnbench.data import DataUnavailable, default_cache_dir, stream_batches  # noqa: E402
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
    assert build_vocab(train, 0) == [UNK, EOS, "a", "c", "b", "d"]  # every training word


def test_unk_comes_only_from_words_outside_the_vocabulary():
    train = [["in", "the", "beginning"], ["the", "end", "."]]
    vocab = build_vocab(train, 100)
    encoded = encode_lines(train, vocab)
    assert 0 not in [i for line in encoded for i in line]  # every training word is known
    val = [["the", "zebra", "."], [], ["the"]]
    # the empty line is dropped; the unknown word is <unk>; every line ends with <eos>
    assert encode_lines(val, vocab) == [[vocab.index("the"), 0, vocab.index("."), 1], [vocab.index("the"), 1]]
    # read as WikiText and PTB are read, the empty line is a lone <eos>
    assert encode_lines(val, vocab, blank_lines=True)[1] == [1]


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


def test_oov_rate_and_known_perplexity_match_a_hand_computed_example(smoke_data):
    task, data = smoke_data
    metrics = task.metrics(data)
    # four targets over a vocabulary <unk>, <eos>, a: p(target) = 0.5, 0.2, 0.25, 0.8 for
    # the targets a, <unk>, <eos>, <unk>
    probs = torch.tensor([[[0.25, 0.25, 0.5], [0.2, 0.3, 0.5], [0.5, 0.25, 0.25], [0.8, 0.1, 0.1]]])
    y = torch.tensor([[2, 0, 1, 0]])
    update_lm_metrics(metrics, probs.log(), {"y": y})
    assert float(metrics["oov_rate"].compute()) == pytest.approx(2 / 4)
    # only the known targets a and <eos> count: exp(-(ln 0.5 + ln 0.25) / 2)
    assert float(metrics["perplexity_known"].compute()) == pytest.approx(1 / math.sqrt(0.5 * 0.25), rel=1e-6)
    assert float(metrics["perplexity"].compute()) == pytest.approx((0.5 * 0.2 * 0.25 * 0.8) ** -0.25, rel=1e-6)
    # a second batch adds to both counts: one <unk> target of three
    update_lm_metrics(metrics, probs[:, :3].log(), {"y": y[:, :3]})
    assert float(metrics["oov_rate"].compute()) == pytest.approx(3 / 7)
    assert float(metrics["perplexity_known"].compute()) == pytest.approx(1 / math.sqrt(0.5 * 0.25), rel=1e-6)


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
        "<eos> = Valkyria Chronicles = <eos> <eos> the game was released in japan . <eos> "
        "the game 's story was praised . <eos> <eos>"
    )  # a blank row is a lone <eos>, as AWD-LSTM's data.py reads WikiText
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
    assert (options.source, options.vocab_size) == ("ptb", 0)
    vocab, streams, _ = lm_word.encoded_corpus(options, str(tmp_path / "cache"))
    assert vocab == [UNK, EOS, "aer", "banknote", "said", "the"]  # PTB's own <unk> is ours
    assert streams["train"].tolist() == [2, 3, 0, 1, 5, 0, 4, 1, 1]  # the blank line: <eos>
    assert streams["val"].tolist() == [5, 0, 4, 1]  # "company" never occurs in training


def test_a_local_copy_without_the_hubs_column_is_one_clear_line(tmp_path):
    files = {s: write_jsonl(tmp_path / f"{s}.jsonl", "body", ["a b"]) for s in ("train", "validation", "test")}
    with pytest.raises(DataUnavailable) as err:
        lm_word.encoded_corpus(
            dataclasses.replace(WordLM.profiles["full"].options, data_files=files, vocab_size=10), str(tmp_path)
        )
    assert "no column 'text'" in str(err.value) and "\n" not in str(err.value)


WIKITEXT_2_V1 = {
    # the shape of the hub's tokenised WikiText-2 rows: blank rows between paragraphs, a
    # heading, the corpus's own <unk>, and "@-@" splitting hyphens
    "train": ["", " = Robert <unk> = \n", "", " the 2 @-@ year tour was a success . \n", " the tour ended . \n"],
    "validation": ["", " the <unk> tour was a success . \n", " a zebra ended . \n"],
    "test": ["", " = tour = \n", ""],
}


def test_wikitext_2_in_its_standard_form_from_the_hub(tmp_path, monkeypatch):
    """The full profile's hub path, the hub replaced by an in-memory DatasetDict."""
    import datasets

    asked = []

    def hub(path, config, offline_default):
        asked.append((path, config))
        return datasets.DatasetDict(
            {s: datasets.Dataset.from_dict({"text": rows}) for s, rows in WIKITEXT_2_V1.items()}
        )

    monkeypatch.setattr(lm_word, "hub_dataset", hub)
    options = WordLM.profiles["full"].options
    vocab, streams, _ = lm_word.encoded_corpus(options, str(tmp_path))
    assert asked == [("Salesforce/wikitext", "wikitext-2-v1")]  # tokenised, not -raw-
    words = ["=", "Robert", "the", "2", "@-@", "year", "tour", "was", "a", "success", ".", "ended"]
    assert sorted(vocab) == sorted([UNK, EOS, *words]) and vocab[:2] == [UNK, EOS]  # all of train, no cut

    def text(split):
        return " ".join(vocab[i] for i in streams[split].tolist())

    assert text("train") == (
        "<eos> = Robert <unk> = <eos> <eos> the 2 @-@ year tour was a success . <eos> the tour ended . <eos>"
    )
    assert text("val") == "<eos> the <unk> tour was a success . <eos> a <unk> ended . <eos>"  # "zebra": <unk>
    assert text("test") == "<eos> = tour = <eos> <eos>"


@pytest.mark.parametrize("profile", ["full", "full-ptb", "full-ptb-large"])
def test_unreachable_hub_names_the_offline_default(tmp_path, monkeypatch, profile):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = WordLM()
    with pytest.raises(DataUnavailable) as err:
        task.prepare(task.profiles[profile], str(tmp_path))
    message = str(err.value)
    assert "\n" not in message and "unreachable" in message
    assert "World English Bible" in message and "quick" in message


def recipe_of(p):
    o = p.options
    return {
        "optimizer": (p.optimizer, p.lr, p.momentum, p.weight_decay, p.warmup_steps),
        "schedule": (p.schedule, round(1 / p.decay_factor, 6), p.decay_after),
        "init_scale": p.init_scale,
        "net": (p.num_layers, p.hidden_size, o.embedding, p.dropout),
        "batch": (p.batch_size, o.bptt, o.loss_summed_over_window),
        "epochs": p.max_steps / p.val_every,
        "grad_clip": p.grad_clip,
        "stopping": (p.patience, p.stop_at, p.param_budget),
        "evaluation": (o.val_tokens, o.test_tokens, o.test_batch_size, o.vocab_size),
    }


def test_full_profiles_are_zaremba_et_al_s_medium_and_large_recipes():
    # section 4.1 of Zaremba et al. (2014): SGD from lr 1, constant for 6 (14) epochs then
    # divided by 1.2 (1.15) after each; uniform ±0.05 (±0.04); dropout 0.5 (0.65); 2 x 650
    # (1500); BPTT 35, batch 20; 39 (55) epochs; gradient norm clipped at 5 (10)
    medium = {
        "optimizer": ("sgd", 1.0, 0.0, 0.0, 0),
        "schedule": ("step", 1.2, 6),
        "init_scale": 0.05,
        "net": (2, 650, 650, 0.5),
        "batch": (20, 35, True),
        "epochs": 39.0,
        "grad_clip": 5.0,
        "stopping": (None, None, None),
        "evaluation": (0, 0, 1, 0),
    }
    large = {
        **medium,
        "schedule": ("step", 1.15, 14),
        "init_scale": 0.04,
        "net": (2, 1500, 1500, 0.65),
        "epochs": 55.0,
        "grad_clip": 10.0,
    }
    assert recipe_of(WordLM.profiles["full"]) == medium and WordLM.profiles["full"].options.source == "wikitext-2"
    assert recipe_of(WordLM.profiles["full-ptb"]) == medium and WordLM.profiles["full-ptb"].options.source == "ptb"
    assert recipe_of(WordLM.profiles["full-ptb-large"]) == large
    assert WordLM.profiles["full-ptb-large"].options.source == "ptb"
    # both name their source and the published number
    assert "82.7" in lm_word.__doc__ and "78.4" in lm_word.__doc__ and "Zaremba et al. (2014" in lm_word.__doc__
    assert (lm_word.ZAREMBA_MEDIUM.ptb_test_perplexity, lm_word.ZAREMBA_LARGE.ptb_test_perplexity) == (82.7, 78.4)


def test_the_published_perplexities_are_set_beside_their_profiles():
    models = load_registry().models
    got = {(p.profile, p.value) for p in WordLM.published}
    assert got == {("full-ptb", 82.7), ("full-ptb-large", 78.4)}
    assert all(p.ours in models and p.metric == WordLM.primary_metric and p.verified for p in WordLM.published)


def test_one_validation_is_one_epoch_of_the_stream():
    for tokens in (21, 700, 701, 702, 721, 929_589):
        assert lm_word.tbptt_steps(tokens, 20, 35) == len(stream_batches(torch.arange(tokens), 20, 35))
    # PTB: 46,479 tokens a stream, 1,328 windows (the last one 34 steps long)
    assert WordLM.profiles["full-ptb"].val_every == 1328


def test_the_step_schedule_keeps_lr_1_for_six_epochs_then_divides_by_1_2():
    from rnnbench.training import LearningRateSchedule

    schedule = LearningRateSchedule(WordLM.profiles["full-ptb"], "min")
    factors = [schedule.factor(0, epoch) for epoch in range(9)]
    assert factors[:6] == [1.0] * 6
    assert factors[6:] == pytest.approx([1 / 1.2, 1 / 1.2**2, 1 / 1.2**3])


def test_the_summed_window_loss_is_the_token_mean_times_the_window_length(smoke_data):
    task, data = smoke_data
    profile = task.profiles["smoke"]
    batch = data.train[0]
    nets = {}
    for summed in (False, True):
        torch.manual_seed(0)
        options = dataclasses.replace(profile.options, loss_summed_over_window=summed)
        nets[summed] = task.build(data, load_registry().models["lstm"], profile.replace(options=options)).eval()
    with torch.no_grad():
        mean, summed = (float(nets[k].training_loss(batch)) for k in (False, True))
    assert summed == pytest.approx(mean * batch["y"].shape[1], rel=1e-5)


def test_the_test_text_can_be_scored_as_one_stream(smoke_data):
    task, _ = smoke_data
    profile = task.profiles["smoke"]
    one = task.prepare(
        profile.replace(options=dataclasses.replace(profile.options, test_batch_size=1)), default_cache_dir()
    )
    (first,) = {b["x"].shape[0] for b in one.test["test"]}
    assert first == 1 and sum(b["y"].numel() for b in one.test["test"]) == profile.options.test_tokens - 1
    assert {b["x"].shape[0] for b in one.train} == {profile.batch_size}  # training keeps its batch


# --- the initialisation hook -----------------------------------------------------------


def test_init_scale_draws_every_parameter_uniformly(smoke_data, monkeypatch):
    from rnnbench.training import fit_cell

    task, data = smoke_data
    built = []
    build = WordLM.build

    def keep(self, data, model, profile):
        built.append(build(self, data, model, profile))
        return built[-1]

    monkeypatch.setattr(WordLM, "build", keep)
    # lr 0 and no momentum: the weights a step leaves are the initial ones
    still = task.profiles["smoke"].replace(max_steps=1, val_every=1, optimizer="sgd", lr=0.0)
    for scale in (None, 0.05):
        fit_cell(task, load_registry().models["lstm"], still.replace(init_scale=scale), 0, data, accelerator="cpu")
    own, uniform = (dict(net.named_parameters()) for net in built)
    for name, p in uniform.items():
        assert p.abs().max() <= 0.05 and p.abs().max() > 0.04, name  # biases and embeddings too
    assert own["adapter.0.weight"].abs().max() > 1.0  # without it, the embedding's own N(0, 1)


def test_init_scale_enters_the_config_hash_only_when_set():
    quick = WordLM.profiles["quick"]
    assert quick.init_scale is None and "init_scale" not in quick.result_settings()
    assert "init_scale" not in quick.to_dict() or quick.to_dict()["init_scale"] is None
    assert quick.replace(init_scale=0.05).result_settings() == {**quick.result_settings(), "init_scale": 0.05}
    assert WordLM.profiles["full-ptb"].result_settings()["init_scale"] == 0.05


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
