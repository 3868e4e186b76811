"""Stock tasks: walk-forward split and leakage, normalisation, windows, CSV input,
baselines and metrics against hand-computed values, and smoke fits of both tasks."""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from rnnbench import Profile
from rnnbench.data import DataUnavailable
from rnnbench_plugins.stock import (
    ARCH_SERIES,
    ARCH_SPLIT,
    CSV_ENV,
    FEATURES,
    StockDirection,
    StockOptions,
    StockReturn,
    arch_frames,
    check_frame,
    csv_frames,
    daily_features,
    make_windows,
)

WINDOW = 30
VAL_START, TEST_START = (np.datetime64(d, "ns") for d in ARCH_SPLIT)


@pytest.fixture(scope="module")
def frames():
    return arch_frames()


@pytest.fixture(scope="module")
def windows(frames):
    return make_windows(frames, WINDOW, ARCH_SPLIT)


def profile_for(csv_paths, split=ARCH_SPLIT, window=WINDOW):
    return Profile(
        max_steps=1,
        batch_size=8,
        options=StockOptions(csv=tuple(map(str, csv_paths)), split=split, window=window, series=ARCH_SERIES),
    )


def write_csv(frame, path):
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


def perturb_from(frame, start, seed):
    """The frame with every price and volume on or after ``start`` changed at random."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    late = frame["Date"] >= start
    factor = np.exp(rng.normal(0, 0.05, late.sum()))
    for col in ("Open", "High", "Low", "Close", "Adj Close"):
        frame.loc[late, col] *= factor
    frame.loc[late, "Volume"] *= rng.uniform(0.5, 2.0, late.sum())
    return frame


# --- windows and split boundaries ------------------------------------------------------------


def test_windows_have_the_right_shape_and_content(frames, windows):
    parts = windows["splits"]
    for part in parts.values():
        n = len(part["next"])
        assert part["x"].shape == (n, WINDOW, len(FEATURES))
        assert part["last"].shape == part["first"].shape == part["day"].shape == (n,)
        # the last input day's return is the window's "yesterday", the target follows it
        np.testing.assert_array_equal(part["x"][:, -1, 0], part["last"])
    # the target is the next day's log return of the S&P 500's (adjusted) close
    sp = frames["sp500"].set_index("Date")["Adj Close"]
    train = parts["train"]
    i = 100
    day = pd.Timestamp(train["day"][i])
    previous = sp.index[sp.index.get_loc(day) - 1]
    assert math.isclose(train["next"][i], math.log(sp[day] / sp[previous]), rel_tol=1e-12)
    # consecutive windows of one series overlap by all but one day
    np.testing.assert_array_equal(train["x"][i + 1, :-1], train["x"][i, 1:])
    # 5,030 return days a series, 1999-2012 / 2013-2015 / 2016-2018, minus one window per split
    assert {k: len(v["next"]) for k, v in parts.items()} == {"train": 6980, "val": 1452, "test": 1448}


def test_no_window_crosses_a_split_boundary(windows):
    parts = windows["splits"]
    assert windows["starts"] == (VAL_START, TEST_START)
    assert parts["train"]["day"].max() < VAL_START
    assert parts["val"]["first"].min() >= VAL_START and parts["val"]["day"].max() < TEST_START
    assert parts["test"]["first"].min() >= TEST_START
    assert parts["test"]["day"].max() == np.datetime64("2018-12-31", "ns")


def test_each_split_lays_the_indices_end_to_end_on_the_same_days(windows):
    """The order the bootstrap's parallel series (``Outcomes.series``) rely on: every
    S&P 500 window, then every NASDAQ window, on the same target days."""
    for name, part in windows["splits"].items():
        half = len(part["day"]) // 2
        np.testing.assert_array_equal(part["day"][:half], part["day"][half:])
        assert np.all(np.diff(part["day"][:half]) > np.timedelta64(0))
        assert windows["parallel"][name] == 2
    assert len(windows["splits"]["test"]["day"]) == 2 * 724


def test_indices_on_other_days_are_not_parallel_series(frames):
    nasdaq = frames["nasdaq"].drop(index=frames["nasdaq"].index[-100])  # one test day less
    got = make_windows({"sp500": frames["sp500"], "nasdaq": nasdaq}, WINDOW, ARCH_SPLIT)
    assert got["parallel"]["test"] == 1 and got["parallel"]["train"] == 2


def test_test_period_values_cannot_influence_training(frames, windows):
    perturbed = {name: perturb_from(frame, TEST_START, seed) for seed, (name, frame) in enumerate(frames.items())}
    again = make_windows(perturbed, WINDOW, ARCH_SPLIT)
    for split in ("train", "val"):
        for key, value in windows["splits"][split].items():
            assert again["splits"][split][key].tobytes() == value.tobytes(), (split, key)
    for key in ("mean", "std"):
        assert again["normaliser"][key].tobytes() == windows["normaliser"][key].tobytes()
    # the perturbation did reach the test windows: this test can see a change
    assert not np.array_equal(again["splits"]["test"]["x"], windows["splits"]["test"]["x"])


def test_a_training_period_change_does_reach_training(frames, windows):
    """The counter-check of the leakage test: it would notice a change to training data."""
    changed = dict(frames, sp500=perturb_from(frames["sp500"], np.datetime64("2012-06-01"), 0))
    again = make_windows(changed, WINDOW, ARCH_SPLIT)
    assert again["splits"]["train"]["x"].tobytes() != windows["splits"]["train"]["x"].tobytes()
    assert again["normaliser"]["std"].tobytes() != windows["normaliser"]["std"].tobytes()


def test_prepared_training_tensors_ignore_test_period_csv_values(frames, tmp_path):
    """The same leakage check through the task's whole CSV path (load_dataset, tensors)."""
    task = StockReturn()
    sp = frames["sp500"][frames["sp500"]["Date"] >= "2010-01-01"]
    clean = task.prepare(profile_for([write_csv(sp, tmp_path / "sp.csv")]), str(tmp_path / "cache"))
    (tmp_path / "dirty").mkdir()
    dirty_csv = write_csv(perturb_from(sp, TEST_START, 1), tmp_path / "dirty" / "sp.csv")
    dirty = task.prepare(profile_for([dirty_csv]), str(tmp_path / "cache"))
    for split in ("train", "val"):
        for key in ("x", "y"):
            a, b = getattr(clean, split).datasets[key], getattr(dirty, split).datasets[key]
            assert a.numpy().tobytes() == b.numpy().tobytes(), (split, key)
    assert clean.info["normaliser"] == dirty.info["normaliser"]
    assert clean.info["return_scale"] == dirty.info["return_scale"]
    assert not torch.equal(clean.test["test"].datasets["x"], dirty.test["test"].datasets["x"])
    assert clean.fingerprint != dirty.fingerprint


# --- normalisation ----------------------------------------------------------------------------


def test_normaliser_is_fitted_on_training_days_only(frames, windows):
    rows = []
    for frame in frames.values():
        dates, features, _ = daily_features(frame)
        rows.append(features[dates < VAL_START])
    rows = np.concatenate(rows)
    np.testing.assert_allclose(windows["normaliser"]["mean"], rows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(windows["normaliser"]["std"], rows.std(0), rtol=1e-12)
    # and differs from statistics that would include the later years
    everything = np.concatenate([daily_features(f)[1] for f in frames.values()])
    assert not np.allclose(windows["normaliser"]["std"], everything.std(0), rtol=1e-3)


def test_prepared_inputs_are_standardised_with_training_statistics():
    task = StockDirection()
    data = task.prepare(task.profiles["smoke"], "/unused")  # arch data: nothing to cache
    x = data.train.datasets["x"]
    assert x.shape[1:] == (task.profiles["smoke"].options.window, len(FEATURES))
    assert x.dtype == torch.float32
    assert torch.allclose(x.mean((0, 1)), torch.zeros(4), atol=0.01)
    assert torch.allclose(x.std((0, 1)), torch.ones(4), atol=0.02)
    assert set(data.train.datasets["y"].unique().tolist()) == {0.0, 1.0}
    assert data.info["series"] == ["sp500", "nasdaq"]
    assert data.info["split_starts"] == {"val": "2013-01-01", "test": "2016-01-01"}


def test_zero_volume_days_do_not_make_infinite_features(frames):
    nasdaq = frames["nasdaq"]
    assert (nasdaq["Volume"] == 0).sum() == 2  # the data really has them
    _, features, _ = daily_features(nasdaq)
    assert np.isfinite(features).all()


# --- CSV input --------------------------------------------------------------------------------


@pytest.fixture
def good_frame(frames):
    return frames["sp500"].iloc[:60].copy()


def test_csv_with_lower_case_columns_reads_like_arch(good_frame, tmp_path):
    lower = good_frame.rename(columns=str.lower)
    read = csv_frames([str(write_csv(lower, tmp_path / "spx.csv"))], str(tmp_path))
    assert list(read) == ["spx"]
    pd.testing.assert_frame_equal(read["spx"], good_frame.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("drop", [["Volume"], ["Open", "Low"]])
def test_csv_missing_columns_are_named(good_frame, tmp_path, drop):
    path = write_csv(good_frame.drop(columns=drop), tmp_path / "bad.csv")
    with pytest.raises(ValueError) as err:
        csv_frames([str(path)], str(tmp_path))
    message = str(err.value)
    assert f"lacks column(s) {', '.join(drop)}" in message
    assert "found: Date, " in message and "\n" not in message


def test_empty_and_header_only_csvs(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        csv_frames([str(empty)], str(tmp_path))
    header = tmp_path / "header.csv"
    header.write_text("Date,Open,High,Low,Close,Volume\n")
    with pytest.raises(ValueError, match="has a header but no rows"):
        csv_frames([str(header)], str(tmp_path))


def test_non_numeric_and_bad_dates(good_frame, tmp_path):
    text = good_frame.astype({"Close": object, "Volume": object})
    text.loc[text.index[7], "Close"] = "1,234.5"
    with pytest.raises(ValueError, match=r"column Close has a non-numeric value '1,234.5' \(line 9, 1999-01-13\)"):
        csv_frames([str(write_csv(text, tmp_path / "text.csv"))], str(tmp_path))
    # "n/a" and empty cells are read as missing, which is an error too, not a silent gap
    text.loc[text.index[7], "Close"] = 1300.0
    text.loc[text.index[4], "Volume"] = "n/a"
    with pytest.raises(ValueError, match=r"column Volume has a missing value \(line 6, 1999-01-08\)"):
        csv_frames([str(write_csv(text, tmp_path / "na.csv"))], str(tmp_path))
    dates = good_frame.astype({"Date": object})
    dates.loc[dates.index[3], "Date"] = "someday"
    with pytest.raises(ValueError, match="column Date has a value that is not a date, 'someday'"):
        csv_frames([str(write_csv(dates, tmp_path / "dates.csv"))], str(tmp_path))


def test_impossible_prices_and_repeated_days(good_frame):
    zero = good_frame.copy()
    zero.loc[zero.index[2], "Low"] = 0.0
    with pytest.raises(ValueError, match="column Low has a non-positive value 0.0"):
        check_frame(zero, "x.csv")
    twice = pd.concat([good_frame, good_frame.iloc[[5]]])
    with pytest.raises(ValueError, match="date 1999-01-11 occurs more than once"):
        check_frame(twice, "x.csv")


def test_missing_file_and_unreachable_url(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        csv_frames([str(tmp_path / "nope.csv")], str(tmp_path))
    with pytest.raises(DataUnavailable, match="is unreachable: offline mode is on"):
        csv_frames(["https://example.invalid/prices.csv"], str(tmp_path))


def test_env_var_replaces_arch_with_a_csv_and_splits_by_fraction(frames, tmp_path, monkeypatch):
    recent = frames["nasdaq"][frames["nasdaq"]["Date"] >= "2014-01-01"]
    monkeypatch.setenv(CSV_ENV, str(write_csv(recent, tmp_path / "ixic.csv")))
    task = StockDirection()
    data = task.prepare(task.profiles["smoke"], str(tmp_path / "cache"))
    assert data.info["series"] == ["ixic"]
    days = np.sort(daily_features(check_frame(recent, "r"))[0])
    assert data.info["split_starts"]["val"] == str(days[int(0.70 * len(days))])[:10]
    assert data.info["split_starts"]["test"] == str(days[int(0.85 * len(days))])[:10]


def test_split_with_no_windows_says_so(good_frame):
    with pytest.raises(ValueError, match="the val split has no 30-day window"):
        make_windows({"x": check_frame(good_frame, "x")}, 30, ("1999-03-01", "1999-03-10"))


# --- baselines and metrics against hand-computed values ---------------------------------------

# A 25-day series whose daily log returns are these percentages. Feature days 0-9 are the
# training period, 10-13 validation and 14-23 test; with a 2-day window the test targets
# are days 16-23 and their "yesterdays" days 15-22.
RETURNS_PCT = [1, -1, 2, 1, -1, 1, 1, -2, 1, 1, 1, -1, 1, -1, 1, 1, -1, 2, -2, 1, -1, -1, 3, 1]


@pytest.fixture
def tiny_data(tmp_path):
    dates = pd.bdate_range("2020-01-06", periods=len(RETURNS_PCT) + 1)
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(RETURNS_PCT) / 100]))
    frame = pd.DataFrame(
        {"Date": dates, "Open": close, "High": close * 1.01, "Low": close * 0.99, "Close": close, "Volume": 1e6}
    )
    path = write_csv(frame, tmp_path / "tiny.csv")
    split = (str(dates[11].date()), str(dates[15].date()))

    def prepare(task):
        return task.prepare(profile_for([path], split=split, window=2), str(tmp_path / "cache"))

    return prepare


def test_tiny_series_windows(tiny_data):
    data = tiny_data(StockReturn())
    assert data.info["windows"] == {"train": 8, "val": 2, "test": 8}
    np.testing.assert_allclose(data.info["test_next"] * 100, [-1, 2, -2, 1, -1, -1, 3, 1], atol=1e-9)
    np.testing.assert_allclose(data.info["test_last"] * 100, [1, -1, 2, -2, 1, -1, -1, 3], atol=1e-9)


def test_direction_baselines_by_hand(tiny_data):
    got = StockDirection().baselines(tiny_data(StockDirection()))
    # training targets (days 2-9) are up 6 of 8 times: the majority calls "up"; the test
    # period is up 4 of 8 days, so tp=4, fp=4, fn=0
    assert got["majority-class"]["accuracy"] == pytest.approx(0.5)
    assert got["majority-class"]["f1"] == pytest.approx(2 / 3)
    # yesterday's direction: calls 1,0,1,0,1,0,0,1 against 0,1,0,1,0,0,1,1 -> tp=1 fp=3 fn=3 tn=1
    assert got["yesterday-direction"]["accuracy"] == pytest.approx(0.25)
    assert got["yesterday-direction"]["f1"] == pytest.approx(0.25)
    assert got["yesterday-direction"]["mcc"] == pytest.approx((1 * 1 - 3 * 3) / math.sqrt(4 * 4 * 4 * 4))


def test_return_baselines_by_hand(tiny_data):
    got = StockReturn().baselines(tiny_data(StockReturn()))
    pct = 0.01
    # zero return: |y| = 1,2,2,1,1,1,3,1 and it never calls "up" (half the days are up)
    assert got["zero-return"]["mae"] == pytest.approx(12 / 8 * pct)
    assert got["zero-return"]["rmse"] == pytest.approx(math.sqrt(22 / 8) * pct)
    assert got["zero-return"]["directional_accuracy"] == pytest.approx(0.5)
    # training-period mean of the targets (days 2-9): (2+1-1+1+1-2+1+1)/8 = 0.5 %
    assert got["train-mean"]["mae"] == pytest.approx(12 / 8 * pct)
    assert got["train-mean"]["rmse"] == pytest.approx(math.sqrt(22 / 8) * pct)
    assert got["train-mean"]["directional_accuracy"] == pytest.approx(0.5)
    # yesterday's return: errors 2,3,4,3,2,0,4,2
    assert got["yesterday-return"]["mae"] == pytest.approx(20 / 8 * pct)
    assert got["yesterday-return"]["rmse"] == pytest.approx(math.sqrt(62 / 8) * pct)
    assert got["yesterday-return"]["directional_accuracy"] == pytest.approx(0.25)


def test_direction_metrics_of_model_outputs():
    task = StockDirection()
    metrics = task.metrics(None)
    # logits call up, down, up, down against 1,0,0,0: tp=1 fp=1 fn=0 tn=2
    task.score(metrics, torch.tensor([2.0, -1.0, 0.5, -3.0]), torch.tensor([1.0, 0.0, 0.0, 0.0]), 1.0)
    got = {k: float(m.compute()) for k, m in metrics.items()}
    assert got["accuracy"] == pytest.approx(0.75)
    assert got["f1"] == pytest.approx(2 / 3)
    assert got["mcc"] == pytest.approx(2 / math.sqrt(2 * 1 * 3 * 2))


def test_return_metrics_are_in_log_return_units():
    task = StockReturn()
    metrics = task.metrics(None)
    scale = 0.02  # the head predicts in units of the training-period return spread
    task.score(metrics, torch.tensor([0.5, -1.0, 0.0, 1.0]), torch.tensor([0.01, 0.01, -0.01, 0.03]), scale)
    got = {k: float(m.compute()) for k, m in metrics.items()}
    # predictions 0.01, -0.02, 0.0, 0.02: errors 0, 0.03, 0.01, 0.01
    assert got["mae"] == pytest.approx(0.05 / 4)
    assert got["rmse"] == pytest.approx(math.sqrt(0.0011 / 4))
    assert got["directional_accuracy"] == pytest.approx(3 / 4)


# --- the tasks as the registry sees them ----------------------------------------------------


def test_plugin_imports_without_torch_or_pandas():
    code = (
        "import sys, rnnbench_plugins.stock as s; heavy = {'torch', 'pandas', 'datasets', 'numpy'}"
        " & set(sys.modules); assert not heavy, heavy; print(len(s.rnnbench_tasks()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


@pytest.mark.parametrize("task_name", ["stock-direction", "stock-return"])
def test_smoke_fit(task_name, tmp_path):
    from rnnbench.testing import fit_smoke, load_registry

    assert load_registry().plugins["stock"].error is None
    record = fit_smoke(task_name, "lstm", cache_dir=str(tmp_path))
    value = record["primary"]["value"]
    assert value is not None and math.isfinite(value)
    # the outcomes say they are the two indices' days, one index after the other
    assert record["outcomes"]["series"] == 2 and record["outcomes"]["serial"]
    # the smoke profile's 20-day windows leave 734 test days an index (the quick's 30: 724)
    assert len(record["outcomes"]["columns"]["value"]) == 2 * 734
    if task_name == "stock-direction":
        assert set(record["metrics"]) >= {"accuracy", "mcc", "f1"}
        assert 0.3 < record["metrics"]["accuracy"] < 0.7
    else:
        assert set(record["metrics"]) >= {"mae", "rmse", "directional_accuracy"}
        # a forecast of a daily index return is off by well under 5 % a day on average
        assert 0 < record["metrics"]["mae"] < 0.05
    assert record["steps"] == StockDirection().profiles["smoke"].max_steps


def test_baselines_on_the_real_test_years():
    direction, regression = StockDirection(), StockReturn()
    smoke = direction.profiles["smoke"]
    data = direction.prepare(smoke, "/unused")
    test_next = data.info["test_next"]
    # 1999-2012 closed up more often than down, so the majority calls "up" every test day
    got = direction.baselines(data)
    assert got["majority-class"]["accuracy"] == pytest.approx(float((test_next > 0).mean()), abs=1e-6)
    got = regression.baselines(regression.prepare(smoke, "/unused"))
    assert got["zero-return"]["mae"] == pytest.approx(float(np.abs(test_next).mean()), rel=1e-5)
    assert set(got) == {"zero-return", "train-mean", "yesterday-return"}


@pytest.mark.parametrize("value, what", [("inf", "a non-finite value inf"), ("-inf", "a non-finite value -inf")])
def test_non_finite_prices_name_the_file_and_line(good_frame, tmp_path, value, what):
    text = good_frame.astype({"High": object})
    text.loc[text.index[6], "High"] = value
    path = write_csv(text, tmp_path / "inf.csv")
    with pytest.raises(DataUnavailable) as err:
        csv_frames([str(path)], str(tmp_path))
    assert str(err.value) == f"stock CSV {path}: column High has {what} (line 8, 1999-01-12)"
