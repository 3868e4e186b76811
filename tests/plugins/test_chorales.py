"""music-chorales: Bach chorales from the music21 corpus as piano rolls, next-frame NLL."""

import math

import pytest
import torch

from rnnbench.data import DataUnavailable, default_cache_dir
from rnnbench.testing import check_outcomes, fit_smoke, load_registry
from rnnbench_plugins.chorales.corpus import PITCHES, chorale_files, read
from rnnbench_plugins.chorales.splits import SHARES, assign, deduplicate, groups, outline, same_tune, tune

PLUGIN = ("rnnbench_plugins.chorales",)


@pytest.fixture(scope="module")
def task():
    return load_registry(*PLUGIN).tasks["music-chorales"]


@pytest.fixture(scope="module")
def data(task):
    return task.prepare(task.profiles["smoke"], default_cache_dir())


def test_a_tune_is_the_same_in_any_key_and_with_repeated_notes():
    melody = [67, 67, 72, 71, 69, 69, 67, 65, 64, 62, 60]
    assert tune(melody) == (5, -1, -2, -2, -2, -1, -2, -2)
    assert tune([p - 5 for p in melody]) == tune(melody)
    assert tune([67, 72, 71, 69, 67, 65, 64, 62, 60, 59]) == tune(melody)
    assert groups(["b", "a", "c"], [melody, [p + 2 for p in melody], [60, 62, 64]]) == ["a", "a", "c"]


def test_variants_of_a_tune_join_its_group_and_other_tunes_do_not():
    tune_ = [67, 67, 72, 71, 69, 67, 65, 64, 62, 60, 62, 64, 65, 64, 62, 60]
    passing_note = tune_[:5] + [68] + tune_[5:]  # 69 -> 67 filled in by 68
    upbeat = [62] + [p - 3 for p in tune_]  # another key, one note before the tune
    other = [60, 64, 67, 72, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62, 64, 60]
    assert tune(passing_note) != tune(tune_) and tune(upbeat) != tune(tune_)  # the incipit alone splits them
    assert outline(upbeat)[1:] == outline(tune_)[:-1]
    assert same_tune(tune_, passing_note) and same_tune(tune_, upbeat) and not same_tune(tune_, other)
    # joined transitively, named by the first name, whatever the order they come in
    assert groups(["d", "c", "b", "a"], [other, upbeat, passing_note, tune_]) == ["d", "a", "a", "a"]


def test_identical_rolls_are_kept_once_the_first_of_them():
    rolls = [[[1, 2], [3]], [[1, 2]], [[1, 2], [3]], [[1, 2], [4]]]
    assert deduplicate(["a", "b", "c", "d"], rolls) == [0, 1, 3]


def test_groups_stay_whole_and_the_split_nears_jsb_shares():
    group_of = [f"g{i}" for i in range(300)] + ["big"] * 13 + ["pair"] * 2
    split = assign(group_of)
    assert set(split) == set(group_of)  # one split per group: a group never straddles two
    counts = {s: sum(split[g] == s for g in group_of) for s, _ in SHARES}
    for s, share in SHARES:
        assert abs(counts[s] - share * len(group_of)) <= 13
    assert assign(list(reversed(group_of))) == split  # the order the files come in does not matter


def test_a_chorale_file_becomes_a_roll_of_its_four_voices():
    path = next(p for p in chorale_files() if p.name == "bwv1.6.mxl")  # with a horn part
    chorale = read(path)
    assert len(chorale.frames) == 80  # 80 quarter notes
    assert all(keys == sorted(set(keys)) and all(0 <= k < PITCHES for k in keys) for keys in chorale.frames)
    assert max(len(keys) for keys in chorale.frames) <= 4  # the horn is left out
    assert chorale.frames[0] == [32, 36, 39, 44]  # F3 C4 Eb4 Ab4... as MIDI - 21
    assert chorale.melody[:3] == [65, 72, 69]


def test_smoke_data_pairs_each_frame_with_the_next_and_splits_by_tune(data):
    for split in (data.train, data.val, data.test["test"]):
        for item in split.items:
            assert item["x"].shape == item["y"].shape and item["x"].shape[1] == PITCHES
            assert torch.equal(item["x"][1:], item["y"][:-1])
    names = {s: {it["name"] for it in b.items} for s, b in (("train", data.train), ("val", data.val))}
    names["test"] = {it["name"] for it in data.test["test"].items}
    assert not names["train"] & names["test"] and not names["train"] & names["val"] and not names["val"] & names["test"]
    batch = data.test["test"][0]
    assert batch["x"].shape[:2] == batch["y"].shape[:2] and batch["lengths"].max() == batch["x"].size(1)


def test_baselines_are_finite_and_their_outcomes_give_them(task, data):
    scores = task.baselines(data)
    assert set(scores) == {"key-frequency", "repeat-previous-frame"}
    for values in scores.values():
        assert math.isfinite(values["nll"]) and 0 < values["nll"] < PITCHES * math.log(2)
        assert 0 <= values["frame_accuracy"] <= 1
    assert scores["repeat-previous-frame"]["frame_accuracy"] > scores["key-frequency"]["frame_accuracy"]
    assert 0 < task.repeat_epsilon(data) < 0.5


def test_smoke_fit_keeps_per_chorale_outcomes_that_give_its_nll(task):
    record = fit_smoke("music-chorales", "gru", plugins=PLUGIN)
    assert math.isfinite(record["metrics"]["nll"]) and 0 <= record["metrics"]["frame_accuracy"] <= 1
    check_outcomes(task, record)
    kept = record["outcomes"]
    assert kept["kind"] == "ratio" and set(kept["baselines"]) == {"key-frequency", "repeat-previous-frame"}


def test_published_results_name_registered_models(task):
    models = load_registry(*PLUGIN).models
    assert [p.value for p in task.published if p.ours == "gru"] == [8.54]
    assert all(p.ours in models and p.metric == task.primary_metric for p in task.published)
    assert {p.profile for p in task.published} == {"full"}  # Chung et al.'s setting as far as a Profile maps it


def test_without_music21_the_task_says_what_to_install(task, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec

    def absent(name, *rest):
        return None if name == "music21" else find_spec(name, *rest)

    monkeypatch.setattr(importlib.util, "find_spec", absent)
    line = r"^Python module music21 is not installed: pip install 'rnnbench\[music\]'$"
    with pytest.raises(DataUnavailable, match=line):
        task.prepare(task.profiles["smoke"], default_cache_dir())


def test_a_corrupt_corpus_file_is_one_line_naming_it(tmp_path):
    broken = tmp_path / "bwv999.xml"
    broken.write_text("<score-partwise><part id='P1'><measure number='1'>")  # cut off
    with pytest.raises(DataUnavailable, match=r"^music21 cannot read its corpus file .*bwv999\.xml .*reinstall") as err:
        read(broken)
    assert "\n" not in str(err.value)


def test_frame_nll_and_frame_accuracy_by_hand_with_padding_ignored():
    from torch.nn import functional as F

    from rnnbench_plugins.chorales.task import frame_counts, frame_nll, valid

    # one chorale of two predicted frames and one of one frame (padded to two) on 88 keys
    y = torch.zeros(2, 2, PITCHES)
    y[0, 0, [3, 7]] = 1
    y[0, 1, [3]] = 1
    y[1, 0, [5]] = 1
    y[1, 1, :] = 1  # padding: must count nowhere
    logits = torch.full((2, 2, PITCHES), -2.0)
    logits[0, 0, 3] = logits[0, 1, 4] = logits[1, 0, 5] = 3.0
    batch = {"y": y, "lengths": torch.tensor([2, 1])}
    mask = valid(batch, logits)
    assert mask.tolist() == [[True, True], [True, False]]
    nll = frame_nll(logits, y)
    # frame (0, 0): key 3 on at sigmoid(3), key 7 on at sigmoid(-2), 86 keys off at 1 - sigmoid(-2)
    on, off, low = F.logsigmoid(torch.tensor(3.0)), F.logsigmoid(torch.tensor(2.0)), F.logsigmoid(torch.tensor(-2.0))
    assert float(nll[0, 0]) == pytest.approx(float(-(on + low + 86 * off)), rel=1e-5)
    tp, wrong = frame_counts((logits > 0).float(), y, mask)
    # predicted on: (0,0) key 3 (TP), (0,1) key 4 (FP; key 3 missed: FN), (1,0) key 5 (TP);
    # missed: (0,0) key 7 (FN). Padding's 88 "missed" keys are not counted.
    assert (float(tp), float(wrong)) == (2.0, 3.0)
    assert float(tp / (tp + wrong)) == pytest.approx(2 / 5)
