"""translate-en-es: Bible verse pairs, vocabulary, BLEU/chrF, hub formats and a smoke fit
(the encoder-decoder itself is tested in tests/test_seq2seq.py)."""

import dataclasses
import json
import math

import pytest
import torch

from rnnbench.api import Model
from rnnbench.data import DataUnavailable
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins import translation as tr
from rnnbench_plugins._sword import module_version

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("translation-cache"))


@pytest.fixture(scope="session")
def task():
    return load_registry().tasks["translate-en-es"]


@pytest.fixture(scope="session")
def smoke_data(task, cache_dir):
    return task.prepare(task.profiles["smoke"], cache_dir)


def test_the_tutorials_bleu_is_set_beside_its_profile_and_model(task):
    (tutorial,) = task.published
    assert tutorial.profile == "full-multi30k" and tutorial.profile in task.profiles
    assert tutorial.ours in load_registry().models and tutorial.metric == task.primary_metric
    assert not tutorial.verified  # read second-hand: the notebook is not reachable here


# --- text, vocabulary, filtering --------------------------------------------------------
def test_tokenize_and_detokenize_edge_cases():
    assert tr.tokenize("") == [] and tr.tokenize("   \n") == []
    assert tr.tokenize("Y dijo Dios: ¿Sea la luz?") == ["y", "dijo", "dios", ":", "¿", "sea", "la", "luz", "?"]
    assert tr.detokenize(tr.tokenize("Y dijo Dios: ¿Sea la luz?")) == "y dijo dios: ¿sea la luz?"
    assert tr.detokenize(tr.tokenize("Beth-lehem, father’s flock.")) == "beth-lehem, father’s flock."


def test_detokenize_rejoins_numbers_and_leaves_a_closing_apostrophe_open():
    text = "He gave 3.5 shekels to 1,000 men (John 3:16); thy sons’ wives don’t."
    assert tr.detokenize(tr.tokenize(text)) == text.lower()
    assert tr.detokenize(["3", ".", "and", "5", ","]) == "3. and 5,"  # a point not between numbers stays a point


def test_vocab_is_built_from_given_sentences_with_specials_and_unk():
    vocab = tr.Vocab.build([["a", "b", "a"], ["a", "c"]], max_size=6, min_freq=1)
    assert vocab.itos[:4] == list(tr.SPECIALS)
    assert vocab.itos[4] == "a" and len(vocab) == 6  # cut to max_size, most frequent first
    assert vocab.encode(["a", "zebra"], eos=True) == [4, tr.UNK, tr.EOS]
    assert tr.Vocab.build([["a", "b", "a"]], max_size=0, min_freq=2).itos[4:] == ["a"]
    assert vocab.decode([tr.BOS, 4, tr.EOS, tr.PAD]) == ["a"]


def test_unk_is_replaced_by_the_attended_rare_source_word_once():
    src_vocab = tr.Vocab(["and"])
    tgt_vocab = tr.Vocab(["y"])
    y = tgt_vocab.stoi["y"]
    source = ["and", "ibzan", ","]
    # <unk> attending "ibzan" copies it; a second copy and an <unk> on punctuation or a
    # known word are left out
    assert (
        tr.output_text([y, tr.UNK, tr.UNK, tr.UNK, tr.UNK], [0, 1, 1, 2, 0], source, tgt_vocab, src_vocab) == "y ibzan"
    )


def test_filter_drops_empty_and_overlong_pairs_and_keeps_chapters_together():
    pairs = [
        {"ref": "Gen 1:1", "unit": "Gen 1", "split": "", "src": "In the beginning", "tgt": "En el principio"},
        {"ref": "Gen 1:2", "unit": "Gen 1", "split": "", "src": "", "tgt": "Y la tierra"},
        {"ref": "Gen 1:3", "unit": "Gen 1", "split": "", "src": "And God said", "tgt": "   "},
        {"ref": "Gen 1:4", "unit": "Gen 1", "split": "", "src": "one two three four five six", "tgt": "uno"},
        {"ref": "Gen 2:1", "unit": "Gen 2", "split": "", "src": "Thus the heavens", "tgt": "Y fueron acabados"},
    ]
    splits = tr.tokenized_splits(pairs, max_len=5, val_fraction=0.3, test_fraction=0.3)
    kept = {p["ref"]: s for s, ps in splits.items() for p in ps}
    assert set(kept) == {"Gen 1:1", "Gen 2:1"}
    assert kept["Gen 1:1"] == tr.split_of("Gen 1", 0.3, 0.3)


# --- the real offline data --------------------------------------------------------------
def test_sword_pairs_are_aligned_by_reference(task, cache_dir):
    assert module_version("engKJV2006eb") and module_version("spaRV1909eb")  # in the cache key
    pairs, _ = tr.load_pairs(task.profiles["quick"].options, cache_dir)
    assert len(pairs) > 30000
    by_ref = {p["ref"]: p for p in pairs}
    assert by_ref["Genesis 1:1"]["src"] == "In the beginning God created the heaven and the earth."
    assert by_ref["Genesis 1:1"]["tgt"] == "EN el principio crió Dios los cielos y la tierra."
    assert by_ref["John 11:35"]["src"] == "Jesus wept."
    assert not any("<" in p["src"] or "<" in p["tgt"] for p in pairs)


def test_splits_share_no_verse_and_no_chapter(smoke_data):
    refs = smoke_data.info["refs"]
    chapters = {s: {r.rsplit(":", 1)[0] for r in refs[s]} for s in refs}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not set(refs[a]) & set(refs[b])
        assert not chapters[a] & chapters[b]


def test_vocabulary_comes_from_the_training_split_only(smoke_data):
    train_words = {t for p in smoke_data.info["train_pairs"] for t in p["tgt"]}
    assert set(smoke_data.info["tgt_vocab"].itos[4:]) <= train_words
    test_words = {t for p in smoke_data.info["test_pairs"] for t in p["tgt"]}
    assert test_words - train_words, "expected test words unseen in training (mapped to <unk>)"
    assert all(len(p["src"]) <= 12 and len(p["tgt"]) <= 12 for p in smoke_data.info["train_pairs"])


def padding(lengths: list[int]) -> int:
    return len(lengths) * max(lengths) - sum(lengths)


def test_batches_are_bucketed_by_length_and_evaluation_sees_every_pair_once(task, cache_dir):
    profile = task.profiles["smoke"].replace(batch_size=4)
    data = task.prepare(profile, cache_dir)
    train, test = data.train, data.test["test"]
    first_epoch = [train[i] for i in range(train.per_epoch)]
    served = sorted(s for b in first_epoch for s in b["source"])
    assert served == sorted(p["src_text"] for p in data.info["train_pairs"])
    assert len(train) >= profile.max_steps  # no epoch is replayed
    # padded source and target steps: a small fraction of what batches in corpus order hold
    for key, side in (("lengths", "x"), ("y_lengths", "y")):
        bucketed = sum(padding(b[key].tolist()) for b in first_epoch)
        in_order = [len(it[side]) for it in train.items]
        unsorted = sum(padding(in_order[i : i + 4]) for i in range(0, len(in_order), 4))
        assert bucketed < unsorted / 3, (key, bucketed, unsorted)
    references = sorted(r for k in range(len(test)) for r in test[k]["reference"])
    assert references == sorted(p["tgt_text"] for p in data.info["test_pairs"])
    assert len(test) == math.ceil(len(references) / 4)  # the last, smaller batch is kept
    assert sum(len(data.val[k]["reference"]) for k in range(len(data.val))) == data.info["sizes"]["val"]


# --- hub loaders on local files in the hub's format ----------------------------------------
def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_bible_para_format_is_split_by_blocks_of_verses(tmp_path, task, cache_dir):
    rows = [
        {"id": str(i), "translation": {"en": f"verse {i} of the lord", "es": f"versículo {i} del señor"}}
        for i in range(400)
    ]
    files = {"train": _write_jsonl(tmp_path / "train.jsonl", rows)}
    options = dataclasses.replace(task.profiles["full"].options, data_files=files, unit_size=10)
    assert (options.source, options.src_lang, options.tgt_lang) == ("bible_para", "en", "es")
    pairs, _ = tr.load_pairs(options, cache_dir)
    assert len(pairs) == 400 and pairs[7]["src"] == "verse 7 of the lord"
    splits = tr.tokenized_splits(pairs, 20, 0.2, 0.2)
    assert all(splits.values())
    for split, items in splits.items():  # a block of 10 consecutive verses never straddles splits
        for p in items:
            block = int(p["ref"].rsplit(":", 1)[1]) // 10
            assert tr.split_of(f"bible_para:train:block{block}", 0.2, 0.2) == split


def test_multi30k_format_keeps_the_hub_splits(tmp_path, task, cache_dir):
    files = {}
    for split, n in (("train", 30), ("validation", 5), ("test", 4)):
        rows = [{"en": f"A dog runs {i}.", "de": f"Ein Hund läuft {i}."} for i in range(n)]
        files[split] = _write_jsonl(tmp_path / f"{split}.jsonl", rows)
    options = dataclasses.replace(task.profiles["full-multi30k"].options, data_files=files)
    assert (options.source, options.src_lang, options.tgt_lang) == ("multi30k", "de", "en")
    pairs, _ = tr.load_pairs(options, cache_dir)
    splits = tr.tokenized_splits(pairs, 0, 0.05, 0.05)
    assert {s: len(v) for s, v in splits.items()} == {"train": 30, "val": 5, "test": 4}
    assert splits["test"][0]["src"] == ["ein", "hund", "läuft", "0", "."]


def test_full_multi30k_profile_prepares_local_files_and_trains_a_step(tmp_path, task, cache_dir):
    files = {}
    for split, n in (("train", 12), ("validation", 3), ("test", 2)):
        rows = [{"en": f"A man rides a horse {i}.", "de": f"Ein Mann reitet ein Pferd {i}."} for i in range(n)]
        files[split] = _write_jsonl(tmp_path / f"{split}.jsonl", rows)
    full = task.profiles["full-multi30k"]
    profile = full.replace(hidden_size=16, options=dataclasses.replace(full.options, data_files=files, embed_size=8))
    data = task.prepare(profile, cache_dir)
    assert data.info["sizes"] == {"train": 12, "val": 3, "test": 2}
    net = task.build(data, load_registry().models["lstm"], profile)
    net.training_loss(data.train[0]).backward()
    metrics = task.metrics(data)
    net.reset_state("test")
    with torch.no_grad():
        net.eval()
        net.evaluate(data.test["test"][0], metrics)
    assert 0 <= float(metrics["bleu"].compute()) <= 100


def test_missing_column_and_unreachable_hub_are_one_line(tmp_path, task, cache_dir):
    files = {"train": _write_jsonl(tmp_path / "train.jsonl", [{"en": "a", "fr": "b"}])}
    multi30k = task.profiles["full-multi30k"].options
    with pytest.raises(ValueError, match="lack a 'de' or 'en' text"):
        tr.load_pairs(dataclasses.replace(multi30k, data_files=files), cache_dir)
    with pytest.raises(DataUnavailable, match="unreachable.*offline default.*--profile quick"):
        tr.hub_pairs(multi30k)


# --- metrics against hand-computed values ------------------------------------------------
def test_bleu_and_chrf_match_hand_computed_values(task, smoke_data):
    metrics = task.metrics(smoke_data)
    ref = [["the cat sat on the mat"]]
    # 1..4-gram precisions 6/7, 5/6, 4/5, 3/4; longer than the reference, so no brevity penalty
    metrics["bleu"].update(["the cat sat on the mat today"], ref)
    assert float(metrics["bleu"].compute()) == pytest.approx(100 * (6 / 7 * 5 / 6 * 4 / 5 * 3 / 4) ** 0.25, abs=1e-3)
    metrics["bleu"].reset()
    # every n-gram matches, but 5 words for 6: brevity penalty exp(1 - 6/5)
    metrics["bleu"].update(["the cat sat on the"], ref)
    assert float(metrics["bleu"].compute()) == pytest.approx(100 * math.exp(1 - 6 / 5), abs=1e-3)
    # chrF: character n-gram precision = recall = (7-n)/(8-n) for n = 1..6, F averaged
    metrics["chrf"].update(["abcdefg"], [["abcdefh"]])
    expected = 100 * sum((7 - n) / (8 - n) for n in range(1, 7)) / 6
    assert float(metrics["chrf"].compute()) == pytest.approx(expected, abs=1e-3)
    metrics["chrf"].reset()
    metrics["chrf"].update(["y dijo dios"], [["y dijo dios"]])
    assert float(metrics["chrf"].compute()) == pytest.approx(100.0)


def test_bleu_and_chrf_score_raw_references_as_sacrebleu_does_case_insensitively(task, smoke_data):
    import sacrebleu

    hypotheses = ["y dijo dios: sea la luz; y fue la luz.", "en el principio creó dios los cielos"]
    references = ["Y dijo Dios: Sea la luz: y fué la luz.", "EN el principio crió Dios los cielos y la tierra."]
    metrics = task.metrics(smoke_data)
    metrics["bleu"].update(hypotheses, [[r] for r in references])
    metrics["chrf"].update(hypotheses, [[r] for r in references])
    from sacrebleu.metrics import BLEU, CHRF

    bleu = BLEU(lowercase=True, smooth_method="none").corpus_score(hypotheses, [references])
    chrf = CHRF(lowercase=True).corpus_score(hypotheses, [references])
    assert float(metrics["bleu"].compute()) == pytest.approx(bleu.score, abs=1e-9)
    assert float(metrics["chrf"].compute()) == pytest.approx(chrf.score, abs=1e-9)
    cased = sacrebleu.corpus_bleu(hypotheses, [references], smooth_method="none").score
    assert cased < bleu.score  # so the case really is ignored, not scored


def test_references_are_the_raw_texts_and_the_signature_is_noted(task, smoke_data):
    item = smoke_data.test["test"].items[0]
    pair = smoke_data.info["test_pairs"][0]
    assert item["reference"] == pair["tgt_text"] and item["reference"] != tr.detokenize(pair["tgt"])
    notes = task.metric_notes(smoke_data)
    import sacrebleu

    for name in ("bleu", "chrf"):
        assert "nrefs:1|case:lc" in notes[name] and f"version:{sacrebleu.__version__}" in notes[name]
    assert "tok:13a|smooth:none" in notes["bleu"]
    assert "raw reference" in notes["scoring"] and "lower-case" in notes["scoring"]


def test_perplexity_ignores_padding(task, smoke_data):
    metrics = task.metrics(smoke_data)
    logits = torch.zeros(1, 3, 8)  # uniform over 8 tokens
    logits[0, 2, tr.PAD] = 50.0  # whatever is predicted at a padded step must not count
    metrics["perplexity"].update(logits, torch.tensor([[5, 6, tr.PAD]]))
    assert float(metrics["perplexity"].compute()) == pytest.approx(8.0, rel=1e-4)


def test_baselines_are_scored_with_the_task_metrics(task, smoke_data):
    baselines = task.baselines(smoke_data)
    assert set(baselines) == {"copy-source", "unigram"}
    assert set(baselines["unigram"]) == {"bleu", "chrf", "perplexity"}
    assert 0 <= baselines["copy-source"]["chrf"] <= 100
    assert baselines["unigram"]["perplexity"] < len(smoke_data.info["tgt_vocab"])


# --- the task in the matrix --------------------------------------------------------------
def test_a_model_that_is_not_causal_is_not_applicable(task):
    class Bidirectional(Model):
        name = "bidi"
        provides = frozenset({"stateful"})

        def build_core(self, input_size, hidden_size, num_layers, dropout):
            raise AssertionError("an n/a cell never builds a core")

    assert "causal" in Bidirectional().unsupported(task)


def test_a_bidirectional_model_serves_as_the_encoder(task, cache_dir):
    reg = load_registry()
    for name in ("bi-gru", "bi-lstm"):
        assert reg.models[name].unsupported(task) is None
    record = fit_smoke("translate-en-es", "bi-gru", cache_dir=cache_dir)
    assert math.isfinite(record["metrics"]["perplexity"]) and record["primary"]["value"] is not None
    assert record["outcomes"] is not None  # the outcomes reproduce its BLEU


def test_the_quick_profile_keeps_luong_attention_and_full_multi30k_takes_bahdanaus(task):
    assert task.profiles["quick"].options.attention == "general"
    assert "attention" not in task.profiles["quick"].result_settings()["options"]  # its cells' hashes stay
    assert task.profiles["full-multi30k"].options.attention == "additive"


def test_smoke_fit(cache_dir):
    record = fit_smoke("translate-en-es", "lstm", cache_dir=cache_dir)
    assert "case:lc" in record["metric_notes"]["bleu"]
    assert record["primary"]["name"] == "bleu" and record["primary"]["value"] is not None
    assert {"bleu", "chrf", "perplexity"} <= set(record["metrics"])
    assert math.isfinite(record["metrics"]["perplexity"])
    assert len(record["samples"]) == 3
    assert all("=>" in s and "(reference: " in s for s in record["samples"].values())


def test_on_a_gpu_loader_processes_collate_the_same_batches_in_the_same_order(smoke_data):
    """Collation costs a GPU step's time, so a GPU cell collates in two loader processes;
    the batches are those the training thread would make (they depend on their index)."""
    import torch

    from rnnbench.training import loader, loader_workers, with_seed

    assert loader_workers(smoke_data, torch.device("cuda", 0)) == 2
    assert loader_workers(smoke_data, torch.device("cpu")) == 0  # nothing changes on a CPU

    def batches(workers):
        dl = loader(smoke_data, with_seed(smoke_data.train, 0), 8, True, False, 0, workers)
        return [b for _, b in zip(range(6), dl)]

    for a, b in zip(batches(0), batches(2), strict=True):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k]
