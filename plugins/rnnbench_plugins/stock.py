"""Stock-market prediction from daily prices: next-day direction and next-day log return.

Offline data: the S&P 500 and NASDAQ Composite daily OHLCV series that PyPI ``arch``
ships (1999-01-04 .. 2018-12-31). Each day becomes four scale-free features, all known
at that day's close: the log return, the log volume change, the log high/low range and
the log close/open body. A sample is a window of ``window`` consecutive days; its target
is the next day's log return (``stock-return``) or whether it is positive
(``stock-direction``). Prices are never predicted, only returns.

Walk-forward split in time: train on 1999-2012, validate on 2013-2015, test on
2016-2018. Every day of a window and its target day lie in one split, so no window
straddles a boundary, and the normaliser (per-feature mean and standard deviation) is
fitted on training-period days only: no test-period value can reach training.

Naive baselines are scored on the test windows with the same torchmetrics as the models:
the training period's majority class and yesterday's direction (``stock-direction``);
zero return, the training-period mean return and yesterday's return (``stock-return``).
On daily index returns they are hard to beat; the leaderboard shows whether a model does.

Your own data: set ``RNNBENCH_STOCK_CSV`` to one or more comma-separated daily OHLCV CSV
files (paths or URLs, read with ``datasets.load_dataset("csv", ...)``), one series per
file, with columns Date, Open, High, Low, Close, Volume (any case; ``Adj Close`` is used
for returns when present). It replaces the arch series in every profile, and the split
becomes the first 70 % of trading days for training, the next 15 % for validation and the
last 15 % for testing. A plugin author can instead set ``csv`` and ``split`` (dates or
fractions) in a profile's ``StockOptions``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rnnbench import Profile, Requirement, Task, TaskData, hookimpl
from rnnbench.data import DataUnavailable, fingerprint

FEATURES = ("log_return", "log_volume_change", "log_high_low", "log_close_open")
REQUIRED_COLUMNS = ("Date", "Open", "High", "Low", "Close", "Volume")
NUMERIC_COLUMNS = REQUIRED_COLUMNS[1:] + ("Adj Close",)
ARCH_SERIES = ("sp500", "nasdaq")
ARCH_SPLIT = ("2013-01-01", "2016-01-01")
CSV_SPLIT = (0.70, 0.85)
CSV_ENV = "RNNBENCH_STOCK_CSV"
DATA_VERSION = "v1"  # bump when the features or the windowing change


# --- reading daily OHLCV frames -----------------------------------------------------------


def arch_frames(names=ARCH_SERIES) -> dict:
    """Series name -> daily OHLCV DataFrame, from the data PyPI ``arch`` ships."""
    import importlib

    frames = {}
    for name in names:
        try:
            module = importlib.import_module(f"arch.data.{name}")
        except ImportError:
            raise DataUnavailable(
                f"arch has no data set '{name}' (or arch is not installed: pip install arch)"
            ) from None
        frames[name] = check_frame(module.load().reset_index(), f"arch.data.{name}")
    return frames


class StockDataError(DataUnavailable, ValueError):
    """A daily OHLCV source the task cannot use; one line naming the file and the line.
    A DataUnavailable, so that the cell's reason is that line alone."""


def csv_frames(paths, cache_dir: str) -> dict:
    """Series name (file stem) -> daily OHLCV DataFrame, read with ``load_dataset("csv")``."""
    import datasets

    datasets.disable_progress_bars()
    frames = {}
    for path in paths:
        remote = "://" in path
        if not remote:
            if not os.path.isfile(path):
                raise StockDataError(f"stock CSV {path} does not exist")
            if os.path.getsize(path) == 0:
                raise StockDataError(
                    f"stock CSV {path} is empty; it needs a header {','.join(REQUIRED_COLUMNS)} and one row per day"
                )
        try:
            table = datasets.load_dataset(
                "csv", data_files=path, split="train", cache_dir=os.path.join(cache_dir, "hf-csv")
            )
        except Exception as exc:
            if remote:
                offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
                why = "offline mode is on (HF_DATASETS_OFFLINE/HF_HUB_OFFLINE)" if offline else _first_line(exc)
                raise DataUnavailable(f"stock CSV {path} is unreachable: {why}") from None
            if "corresponds to no data" in str(exc):
                raise StockDataError(f"stock CSV {path} has a header but no rows") from None
            raise StockDataError(f"stock CSV {path} cannot be read: {_first_line(exc)}") from None
        name = os.path.splitext(os.path.basename(path.rstrip("/")))[0] or "csv"
        frames[_unique(name, frames)] = check_frame(table.to_pandas(), f"stock CSV {path}")
    return frames


def check_frame(frame, source: str):
    """Validate a daily OHLCV frame and return it with canonical column names, sorted by
    date. Every user error raises StockDataError (a ValueError) with one line that names
    the problem."""
    import numpy as np
    import pandas as pd

    if len(frame) == 0:
        raise StockDataError(f"{source} has no rows")
    by_key = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in REQUIRED_COLUMNS if c.lower() not in by_key]
    if missing:
        found = ", ".join(str(c) for c in frame.columns)
        raise StockDataError(
            f"{source} lacks column(s) {', '.join(missing)}; found: {found}; "
            f"a daily OHLCV file needs {', '.join(REQUIRED_COLUMNS)}"
        )
    numeric = [c for c in NUMERIC_COLUMNS if c.lower() in by_key]
    frame = frame[[by_key[c.lower()] for c in ("Date", *numeric)]].set_axis(["Date", *numeric], axis=1)

    dates = pd.to_datetime(frame["Date"], errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna())[0])
        raise StockDataError(
            f"{source}: column Date has a value that is not a date, {frame['Date'].iloc[row]!r} (line {row + 2})"
        )
    out = pd.DataFrame({"Date": dates.dt.tz_localize(None) if dates.dt.tz else dates})
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna())[0])
            raw = frame[col].iloc[row]
            what = "a missing value" if pd.isna(raw) else f"a non-numeric value {str(raw)!r}"
            raise StockDataError(f"{source}: column {col} has {what} (line {row + 2}, {out['Date'].iloc[row].date()})")
        finite = np.isfinite(values.to_numpy(dtype="float64"))
        if not finite.all():
            # an inf would pass the floor below and surface only as a non-finite loss
            row = int(np.flatnonzero(~finite)[0])
            raise StockDataError(
                f"{source}: column {col} has a non-finite value {values.iloc[row]} "
                f"(line {row + 2}, {out['Date'].iloc[row].date()})"
            )
        floor_ok = values >= 0 if col == "Volume" else values > 0
        if not floor_ok.all():
            row = int(np.flatnonzero(~floor_ok)[0])
            kind = "a negative" if col == "Volume" else "a non-positive"
            raise StockDataError(
                f"{source}: column {col} has {kind} value {values.iloc[row]} "
                f"(line {row + 2}, {out['Date'].iloc[row].date()})"
            )
        out[col] = values.astype("float64")
    out = out.sort_values("Date", kind="stable").reset_index(drop=True)
    duplicated = out["Date"].duplicated()
    if duplicated.any():
        raise StockDataError(f"{source}: date {out['Date'][duplicated].iloc[0].date()} occurs more than once")
    return out


# --- features, split, windows -----------------------------------------------------------


def daily_features(frame):
    """``(dates, features [days, 4], log_returns [days])`` from a checked frame.

    The first day has no previous close and is dropped. Each feature of day t uses only
    prices and volumes up to day t.
    """
    import numpy as np

    price = frame["Adj Close" if "Adj Close" in frame else "Close"].to_numpy()
    log_return = np.diff(np.log(price))
    # A zero volume is a missing print (two NASDAQ days, many indices' early years), not
    # a day without trading: carry the last real volume so the change reads 0.
    volume = frame["Volume"].where(frame["Volume"] > 0).ffill().to_numpy()
    log_volume_change = np.nan_to_num(np.diff(np.log(volume)), nan=0.0)
    high_low = np.log(frame["High"].to_numpy() / frame["Low"].to_numpy())[1:]
    close_open = np.log(frame["Close"].to_numpy() / frame["Open"].to_numpy())[1:]
    features = np.stack([log_return, log_volume_change, high_low, close_open], axis=1)
    return frame["Date"].to_numpy()[1:], features, log_return


def split_starts(all_dates, split) -> tuple:
    """``(val_start, test_start)`` as datetime64 from dates or from fractions of the days."""
    import numpy as np

    if all(isinstance(s, (int, float)) for s in split):
        days = np.unique(np.concatenate(all_dates))
        if not 0 < split[0] < split[1] < 1:
            raise ValueError(f"split fractions must satisfy 0 < val < test < 1, got {tuple(split)}")
        return days[int(split[0] * len(days))], days[int(split[1] * len(days))]
    val_start, test_start = (np.datetime64(s, "ns") for s in split)
    if not val_start < test_start:
        raise ValueError(f"split dates must be increasing, got {tuple(split)}")
    return val_start, test_start


def make_windows(frames: dict, window: int, split) -> dict:
    """Cut every series into windows and sort them into train/val/test by time.

    Returns ``{"splits": {split: {"x", "next", "last", "first", "day"}}, "normaliser":
    {"mean", "std"}, "starts": (val, test), "parallel": {split: int}}`` where ``x`` [n, window, 4] holds the raw
    features, ``next`` the target day's log return, ``last`` the window's last log return,
    ``first`` the window's first date and ``day`` the target date. A window is kept only
    when its first day and its target day lie in the same split (splits are contiguous in
    time, so all its days do); the normaliser's statistics come from training-period days
    only. Each split holds every window of the first series, then every window of the
    next; ``parallel`` is the number of series when all of them have windows on the same
    target days (one series' days, then the same days of the next), else 1.
    """
    import numpy as np

    if window < 1:
        raise ValueError(f"window must be at least 1 day, got {window}")
    series = {name: daily_features(frame) for name, frame in frames.items()}
    val_start, test_start = split_starts([d for d, _, _ in series.values()], split)
    names = ("train", "val", "test")
    parts = {s: {"x": [], "next": [], "last": [], "first": [], "day": []} for s in names}
    train_rows = []
    for dates, features, returns in series.values():
        day_split = (dates >= val_start).astype(int) + (dates >= test_start).astype(int)
        train_rows.append(features[day_split == 0])
        target = np.arange(window, len(dates))
        keep = day_split[target - window] == day_split[target]
        target = target[keep]
        view = np.lib.stride_tricks.sliding_window_view(features, window, axis=0)  # [n, 4, window]
        for k, name in enumerate(names):
            t = target[day_split[target] == k]
            parts[name]["x"].append(view[t - window].transpose(0, 2, 1))
            parts[name]["next"].append(returns[t])
            parts[name]["last"].append(returns[t - 1])
            parts[name]["first"].append(dates[t - window])
            parts[name]["day"].append(dates[t])
    splits, parallel = {}, {}
    for name in names:
        days = parts[name]["day"]
        parallel[name] = len(days) if all(np.array_equal(d, days[0]) for d in days[1:]) else 1
        joined = {key: np.concatenate(vals) for key, vals in parts[name].items()}
        if len(joined["next"]) == 0:
            span = ", ".join(f"{d[0]!s:.10}..{d[-1]!s:.10}" for d, _, _ in series.values())
            raise ValueError(
                f"the {name} split has no {window}-day window (data covers {span}; "
                f"val starts {val_start!s:.10}, test {test_start!s:.10})"
            )
        splits[name] = joined
    train_rows = np.concatenate(train_rows)
    std = train_rows.std(axis=0)
    normaliser = {"mean": train_rows.mean(axis=0), "std": np.where(std > 0, std, 1.0)}
    return {"splits": splits, "normaliser": normaliser, "starts": (val_start, test_start), "parallel": parallel}


def frames_digest(frames: dict) -> str:
    """A content hash of the series, so a changed CSV changes the data fingerprint."""
    import hashlib

    import pandas as pd

    h = hashlib.sha256()
    for name, frame in frames.items():
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


# --- the tasks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StockOptions:
    window: int
    """Trading days one input window spans."""
    series: tuple[str, ...]
    """arch's data sets to read, when ``csv`` names no files."""
    split: tuple
    """Where validation and test begin: two dates, or two fractions of the trading days."""
    csv: tuple[str, ...]
    """Daily OHLCV CSV files to read instead of ``series``."""


def _profiles() -> dict:
    arch = {"series": ARCH_SERIES, "split": ARCH_SPLIT, "csv": ()}
    return {
        "smoke": Profile(
            max_steps=20, batch_size=64, hidden_size=32, val_every=10, options=StockOptions(window=20, **arch)
        ),
        # validation accuracy and MAE stop moving by step 100-200 for every model (seeds 0-2)
        "quick": Profile.for_leaderboard(
            max_steps=400,
            batch_size=64,
            hidden_size=64,
            lr=2e-3,
            val_every=50,
            param_budget=18_000,
            options=StockOptions(window=30, **arch),
        ),
        "full": Profile(
            max_steps=6000,
            batch_size=128,
            hidden_size=128,
            num_layers=2,
            dropout=0.2,
            lr=1e-3,
            val_every=250,
            seeds=5,
            options=StockOptions(window=60, **arch),
        ),
    }


class StockTask(Task):
    """What both stock tasks share: data, windows, the net; subclasses add the ends."""

    family = "stock"
    readout = "last"  # a forecast is made from the state after the latest day
    requirements = (Requirement.python("arch", pip="rnnbench[stock]"),)
    shape = "many-to-one"
    throughput_unit = "windows"
    data_environment = (CSV_ENV,)
    serially_dependent = True  # consecutive trading days, and two indices on the same days
    # 1: outcomes carry their series (the indices, drawn day by day together by the bootstrap)
    revision = 1

    def __init__(self):
        self.profiles = _profiles()

    # the per-task ends --------------------------------------------------------------
    def target(self, next_return):
        """The training target of each window, from its next-day log return."""
        raise NotImplementedError

    def loss(self, out, y, scale: float):
        raise NotImplementedError

    def score(self, metrics, out, y, scale: float) -> None:
        """Feed ``metrics`` with the predictions ``out`` (head output) against targets ``y``."""
        raise NotImplementedError

    def naive_predictions(self, data: TaskData) -> dict:
        """Baseline name -> head-like outputs on the test windows."""
        raise NotImplementedError

    def outcome(self, out, y, scale: float) -> dict:
        """Per test window (``rnnbench.outcomes``): the primary metric's per-day term,
        with the prediction and the target."""
        raise NotImplementedError

    # shared ---------------------------------------------------------------------------
    def sources(self, profile: Profile, cache_dir: str):
        """``(frames, split)``: the env var's CSVs, the profile's CSVs, or arch's series."""
        from_env = [p.strip() for p in os.environ.get(CSV_ENV, "").split(",") if p.strip()]
        if from_env:
            return csv_frames(from_env, cache_dir), CSV_SPLIT
        opts = profile.options
        if opts.csv:
            return csv_frames(list(opts.csv), cache_dir), tuple(opts.split)
        return arch_frames(opts.series), tuple(opts.split)

    def prepare(self, profile, cache_dir):
        import numpy as np
        import torch
        from torch.utils.data import StackDataset

        frames, split = self.sources(profile, cache_dir)
        window = int(profile.options.window)
        windows = make_windows(frames, window, split)
        norm = windows["normaliser"]
        # the training period's return spread scales the regression target to unit size
        scale = float(norm["std"][0])
        mean = norm["mean"].astype(np.float32)
        std = norm["std"].astype(np.float32)

        def dataset(part):
            x = torch.from_numpy((part["x"].astype(np.float32) - mean) / std)
            y = torch.from_numpy(self.target(part["next"]).astype(np.float32))
            return StackDataset(x=x, y=y)

        parts = windows["splits"]
        val_start, test_start = windows["starts"]
        return TaskData(
            train=dataset(parts["train"]),
            val=dataset(parts["val"]),
            test={"test": dataset(parts["test"])},
            fingerprint=fingerprint(
                self.name, DATA_VERSION, frames_digest(frames), window, [str(s) for s in (val_start, test_start)]
            ),
            info={
                "series": list(frames),
                "features": FEATURES,
                "window": window,
                "split_starts": {"val": str(val_start)[:10], "test": str(test_start)[:10]},
                "windows": {k: len(v["next"]) for k, v in parts.items()},
                "normaliser": {"mean": norm["mean"].tolist(), "std": norm["std"].tolist()},
                "return_scale": scale,
                "train_next": parts["train"]["next"],
                "test_next": parts["test"]["next"],
                "test_last": parts["test"]["last"],
                "test_series": windows["parallel"]["test"],
            },
        )

    def outcome_series(self, data):
        """The test windows are every index's days in turn; where the indices share their
        test days (arch's S&P 500 and NASDAQ: 724 each), the bootstrap draws days and takes
        every index's outcome of a drawn day, since the indices move together. CSVs whose
        calendars differ give 1: rows are then resampled in runs of consecutive windows."""
        return int(data.info.get("test_series", 1))

    def build(self, data, model, profile):
        from torch import nn

        from rnnbench.nets import ManyToOne

        scale = data.info["return_scale"]
        core = model.build_core(len(FEATURES), profile.hidden_size, profile.num_layers, profile.dropout)
        head = nn.Sequential(nn.Dropout(profile.dropout), nn.Linear(core.output_size, 1))

        def loss(out, batch):
            return self.loss(out.squeeze(-1), batch["y"], scale)

        def update(metrics, out, batch):
            self.score(metrics, out.squeeze(-1), batch["y"], scale)

        def outcomes(out, batch):
            return self.outcome(out.squeeze(-1), batch["y"], scale)

        return ManyToOne(nn.Identity(), core, head, loss, update, self.readout, outcomes=outcomes)

    def search_space(self, profile):
        from rnnbench import LogUniform

        # a few thousand noisy windows: regularisation decides whether a model learns or memorises
        return {**super().search_space(profile), "weight_decay": LogUniform(1e-6, 1e-2)}

    def baselines(self, data):
        import torch

        y = torch.from_numpy(self.target(data.info["test_next"]).astype("float32"))
        scale = data.info["return_scale"]
        results = {}
        for name, out in self.naive_predictions(data).items():
            metrics = self.metrics(data)
            self.score(metrics, torch.as_tensor(out, dtype=torch.float32).expand_as(y), y, scale)
            results[name] = {k: float(m.compute()) for k, m in metrics.items()}
        return results

    def baseline_outcomes(self, data):
        import torch

        y = torch.from_numpy(self.target(data.info["test_next"]).astype("float32"))
        scale = data.info["return_scale"]
        results = {}
        for name, out in self.naive_predictions(data).items():
            kept = self.outcome(torch.as_tensor(out, dtype=torch.float32).expand_as(y), y, scale)
            results[name] = {k: v.tolist() for k, v in kept.items() if k != "kind"}
        return results


class StockDirection(StockTask):
    name = "stock-direction"
    description = (
        "Next-day up/down of the S&P 500 and NASDAQ from a window of daily returns and volume "
        "(arch, walk-forward 1999-2012 / 2013-15 / 2016-18)"
    )
    primary_metric = "accuracy"
    direction = "max"

    def target(self, next_return):
        return (next_return > 0).astype("float32")

    def loss(self, out, y, scale):
        from torch.nn import functional as F

        return F.binary_cross_entropy_with_logits(out, y)

    def metrics(self, data):
        from torchmetrics.classification import BinaryAccuracy, BinaryF1Score

        from rnnbench_plugins._mcc import BinaryMCC

        return {"accuracy": BinaryAccuracy(), "mcc": BinaryMCC(), "f1": BinaryF1Score()}

    def outcome(self, out, y, scale):
        up = (out > 0).float()
        return {"kind": "mean", "value": (up == y).float(), "pred": up, "target": y}

    def score(self, metrics, out, y, scale):
        # the head emits a logit: up when it is positive (probability above 1/2)
        up = (out > 0).long()
        for metric in metrics.values():
            metric.update(up, y.long())

    def naive_predictions(self, data):
        train_up = float((data.info["train_next"] > 0).mean())
        return {
            # a logit of +1/-1 stands for a constant up/down call
            "majority-class": 1.0 if train_up > 0.5 else -1.0,
            "yesterday-direction": (data.info["test_last"] > 0) * 2.0 - 1.0,
        }


class StockReturn(StockTask):
    name = "stock-return"
    description = (
        "Next-day log return of the S&P 500 and NASDAQ from a window of daily returns and volume "
        "(arch, walk-forward 1999-2012 / 2013-15 / 2016-18)"
    )
    # MAE, not RMSE: daily returns are heavy-tailed, and RMSE over three years is decided by
    # a handful of crash days; MAE weighs every day alike.
    primary_metric = "mae"
    direction = "min"

    def target(self, next_return):
        return next_return

    def loss(self, out, y, scale):
        from torch.nn import functional as F

        # Huber in units of the training-period return spread: quadratic on ordinary days,
        # linear on crash days, which would otherwise dominate the gradient.
        return F.huber_loss(out, y / scale, delta=1.0)

    def metrics(self, data):
        from torchmetrics import MeanAbsoluteError, MeanSquaredError
        from torchmetrics.classification import BinaryAccuracy

        return {
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "directional_accuracy": BinaryAccuracy(),
        }

    def score(self, metrics, out, y, scale):
        predicted = out * scale
        metrics["mae"].update(predicted, y)
        metrics["rmse"].update(predicted, y)
        # up versus not up, as in stock-direction: a zero forecast calls "not up"
        metrics["directional_accuracy"].update((predicted > 0).long(), (y > 0).long())

    def outcome(self, out, y, scale):
        predicted = out * scale
        return {"kind": "mean", "value": (predicted - y).abs(), "pred": predicted, "target": y}

    def naive_predictions(self, data):
        scale = data.info["return_scale"]
        # outputs are in units of the return scale, like the net's head
        return {
            "zero-return": 0.0,
            "train-mean": float(data.info["train_next"].mean()) / scale,
            "yesterday-return": data.info["test_last"] / scale,
        }


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc).strip() or type(exc).__name__
    if cause is not None and text.startswith("An error occurred while generating"):
        text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0]


def _unique(name: str, taken: dict) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


@hookimpl
def rnnbench_tasks():
    return [StockDirection(), StockReturn()]
