"""The task/model contract: what a plugin subclasses and returns from its hooks.

A task owns the ends (data, input adapter, output head, loss, decoding, metrics);
a model owns the middle (the recurrent core). Importing this module must stay cheap:
it imports neither torch nor lightning, so that discovery and `rnnbench list` are fast.
Plugins import torch inside the methods that build things.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from rnnbench.requirements import Requirement

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    import torchmetrics

    from rnnbench.nets import TaskNet

SHAPES = ("one-to-one", "one-to-many", "many-to-one", "many-to-many", "seq2seq")
"""The problem shapes of the RNN literature; every task declares one."""

PROFILES = ("smoke", "quick", "full")
"""Every task defines these three: a seconds-long check, a laptop run, the published recipe."""

Direction = Literal["min", "max"]

NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
r"""Names become file names and page anchors: ``\Z`` (not ``$``, which also matches before
a trailing newline) so that even ``NAME_RE.match`` accepts only a whole slug."""


def is_slug(value: Any) -> bool:
    """A name safe for a file name, a path part or a page anchor."""
    return isinstance(value, str) and NAME_RE.fullmatch(value) is not None


DATA, RESULT, RUN = "data", "result", "run"
"""What a profile field changes, declared once on the field (``metadata={"role": ...}``):
``DATA`` changes the prepared data (and so also the result), ``RESULT`` changes the result
but not the data, ``RUN`` changes neither (how long we wait, how many seeds we run).
The data key (which cell may reuse another's prepared data) is built from the DATA fields,
a cell's config hash from the DATA and RESULT fields."""


def _role(role: str, default: Any = dataclasses.MISSING, hashed_when_set: bool = False, **kwargs: Any) -> Any:
    """``hashed_when_set``: the field enters the data key or config hash only when it
    differs from its default, so adding it to ``Profile`` leaves every existing cell's
    hash as it was."""
    return field(default=default, metadata={"role": role, "hashed_when_set": hashed_when_set}, **kwargs)


def option_settings(options: Any) -> dict[str, Any]:
    """A profile's options as a plain mapping: a dataclass's fields that have no default or
    differ from it, which is exactly the mapping the profile wrote before its task declared
    its options, so that declaring a default changes no fingerprint and no data key."""
    if not dataclasses.is_dataclass(options):
        return dict(options)
    settings = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            settings[f.name] = value
            continue
        if value != default:
            settings[f.name] = value
    return settings


OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "plateau")
READOUTS = ("last", "mean")
"""How a many-to-one task reads a sequence's outputs: ``last`` is the core's final state
(the core defines it: a bidirectional core joins its forward half's last valid step to
its backward half's first step), ``mean`` averages the outputs over valid steps."""


@dataclass(frozen=True)
class LogUniform:
    """A hyperparameter searched on a log scale (a learning rate, a weight decay)."""

    low: float
    high: float


@dataclass(frozen=True)
class Uniform:
    """A hyperparameter searched on a linear scale (a dropout rate)."""

    low: float
    high: float


@dataclass(frozen=True)
class Choice:
    """A hyperparameter searched over a few values (an optimiser, a schedule)."""

    values: tuple


Dimension = LogUniform | Uniform | Choice
"""A search-space dimension; its key is the name of the ``Profile`` field it sets."""


LEADERBOARD_PROTOCOL: dict[str, Any] = {
    "patience": 3,
    "schedule": "plateau",
    "decay_after": 1,
    "seeds": 3,
    "tuning_trials": 4,
}
"""The fields ``Profile.for_leaderboard`` sets: convergence and statistics, the same for
every task the leaderboards rank."""


@dataclass(frozen=True)
class Profile:
    """How hard to train one cell of a task.

    ``options`` carries the task's own knobs (sequence length, vocabulary size, BPTT
    length, dataset source ...), declared by the task as a frozen dataclass so that each
    knob and its default are written once. Each field's role (``DATA``, ``RESULT``,
    ``RUN``) says which hash it enters: a changed profile re-runs the cell instead of
    reusing a stale result.
    """

    max_steps: int = _role(RESULT)
    batch_size: int = _role(DATA)
    """A data setting: tasks that stream their data (TBPTT) cut it into batches when they
    prepare it."""
    hidden_size: int = _role(RESULT, 128)
    num_layers: int = _role(RESULT, 1)
    dropout: float = _role(RESULT, 0.0)
    lr: float = _role(RESULT, 1e-3)
    grad_clip: float = _role(RESULT, 1.0)
    optimizer: str = _role(RESULT, "adam")
    """One of ``OPTIMIZERS``: ``adam``, ``adamw`` (decoupled weight decay) or ``sgd``."""
    momentum: float = _role(RESULT, 0.0)
    """SGD's momentum (Nesterov's is not offered); ignored by Adam and AdamW."""
    weight_decay: float = _role(RESULT, 0.0)
    warmup_steps: int = _role(RESULT, 0)
    """Steps over which the learning rate rises linearly from 0 to ``lr``."""
    schedule: str = _role(RESULT, "constant")
    """One of ``SCHEDULES``: ``constant``; ``cosine`` (to 0 at ``max_steps``); ``step``
    (multiply by ``decay_factor`` at the start of every epoch from epoch ``decay_after``
    on, counting from 0: the Zaremba et al. 2014 recipe); ``plateau`` (multiply by
    ``decay_factor`` after ``decay_after`` validations without improvement)."""
    decay_factor: float = _role(RESULT, 0.5)
    decay_after: int = _role(RESULT, 0)
    init_scale: float | None = _role(RESULT, None, hashed_when_set=True)
    """Draw every parameter of the task net (adapter, core, head) from uniform(-s, s)
    before training, as Zaremba et al. (2014) initialise, except normalisation layers and
    the core of a model with ``own_initialisation``; None keeps each model's and task's
    own initialisation."""
    val_every: int = _role(RESULT, 100)
    """Optimiser steps between validations; the best validation checkpoint is tested."""
    min_steps: int | None = _role(RESULT, None, hashed_when_set=True)
    """No verdict on a plateau before this step: early stopping, the plateau schedule's
    decay and tuning's pruner start counting here. For a metric that stays flat at first
    (BLEU is 0 until a model writes whole n-grams), which would otherwise stop a model
    before it starts to learn. None judges from the first validation."""
    patience: int | None = _role(RESULT, None)
    """Stop after this many validations without a new best (early stopping on a
    plateau); None trains for ``max_steps``."""
    param_budget: int | None = _role(RESULT, None)
    """Trainable parameters every model's task net is fitted to (its width chosen within
    ±10 %), so that models are compared at equal size; None compares at equal width.
    ``--param-budget`` overrides it, ``--param-budget off`` turns it off."""
    stop_at: float | None = _role(DATA, None)
    """Stop training once the validation primary metric reaches this value (a task that is
    solved need not spend its remaining steps); None trains for ``max_steps``.
    Declared a data setting only because the data key has always included it."""
    seeds: int = _role(RUN, 1)
    """Default number of seeds (``--seeds`` overrides)."""
    tuning_trials: int = _role(RUN, 8)
    """Trials ``rnnbench tune`` gives every model of the task (``--trials`` overrides)."""
    time_limit: float = _role(RUN, 900.0)
    """Seconds one cell may run before it is stopped and marked ``failed: timeout``."""
    options: Any = _role(DATA, default_factory=dict)
    """The task's options dataclass (a plain mapping is accepted from third-party plugins)."""

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.init_scale is not None and not self.init_scale > 0:
            raise ValueError(
                f"init_scale {self.init_scale!r} must be positive (or None: the models' own initialisation)"
            )
        if self.min_steps is not None and not (isinstance(self.min_steps, int) and self.min_steps > 0):
            raise ValueError(f"min_steps {self.min_steps!r} must be a whole number above 0, or None")

    @classmethod
    def for_leaderboard(cls, **fields: Any) -> "Profile":
        """A profile whose results are ranked, under the protocol every ranked task shares:
        early stopping after 3 validations without a new best, the learning rate halved
        after each validation without one, 3 seeds and 4 tuning trials per model. Any of
        these may be given to override it."""
        return cls(**{**LEADERBOARD_PROTOCOL, **fields})

    def replace(self, **changes: Any) -> "Profile":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain JSON-able values (records keep it as provenance)."""
        return {f.name: self._setting(f.name) for f in dataclasses.fields(self)}

    def data_settings(self) -> dict[str, Any]:
        """The fields that change the prepared data: what the data key is built from."""
        return self._settings(DATA)

    def result_settings(self) -> dict[str, Any]:
        """The fields that change the result: what the config hash is built from."""
        return self._settings(DATA, RESULT)

    def _settings(self, *roles: str) -> dict[str, Any]:
        return {
            f.name: self._setting(f.name)
            for f in dataclasses.fields(self)
            if f.metadata["role"] in roles
            and not (f.metadata.get("hashed_when_set") and getattr(self, f.name) == f.default)
        }

    def _setting(self, name: str) -> Any:
        return option_settings(self.options) if name == "options" else getattr(self, name)


@dataclass(frozen=True)
class Published:
    """A result published for this task's problem, shown on its leaderboard page beside
    ours. Rarely the same experiment: ``differences`` names what differs (data source,
    split, preprocessing, recipe), so that a reader compares with that in mind."""

    source: str
    """Who published it, where: "Chung et al. (2014), Table 2"."""
    model: str
    """The model as the source names it: "GRU (46 units)"."""
    metric: str
    """The metric as the source reports it, in this task's terms where they agree."""
    value: float
    differences: str
    """What differs from this task's setting, in one or two sentences."""
    ours: str = ""
    """The registered model whose result is shown beside it; empty: none."""
    verified: bool = True
    """False where the value was not checked against the source itself (read second-hand)."""
    profile: str = ""
    """The task's profile that follows the published setup most closely, whose results the
    leaderboards' anchors page shows beside it; empty: none does (the quick profile's are
    shown there, labelled as not the published recipe)."""
    setup: str = ""
    """The published setup in a few words: data, model size, training."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TaskData:
    """Prepared data of one task under one profile, as the runner needs it.

    ``test`` maps a test-set name to a dataset; the first one is the primary test set
    and its metrics carry plain names, the others are suffixed ``_<name>``.
    ``batched=True`` means each item is already a whole batch (e.g. TBPTT streams,
    which must also keep ``shuffle=False``).
    """

    train: Any
    val: Any
    test: Mapping[str, Any]
    fingerprint: str
    collate: Callable | None = None
    shuffle: bool = True
    batched: bool = False
    sequence_length: int | None = None
    """Time steps of every sequence, for a task whose sequences all have one length (the
    leaderboard charts a metric against it); None where lengths vary."""
    info: dict[str, Any] = field(default_factory=dict)


class Task(abc.ABC):
    """Base class of a task plugin's task. Subclass it and set the class attributes.

    Required methods: ``prepare``, ``build`` and ``metrics``; a subclass that lacks one
    cannot be instantiated, so its plugin fails when it registers. ``build`` returns an
    ``rnnbench.nets.TaskNet`` (the *task net*) that wraps the model's core between the
    task's input adapter and output head, and implements the hooks the trainer calls:

    - ``training_loss(batch) -> Tensor``: the scalar loss to minimise;
    - ``evaluate(batch, metrics) -> Tensor``: update the torchmetrics in ``metrics``
      (a dict built by ``Task.metrics``) with decoded predictions, return the loss;
    - optionally ``reset_state(split)`` (called at the start of every training epoch and
      every evaluation pass, for nets that carry hidden state across batches),
      ``count(batch) -> int`` (throughput units in the batch, default: batch size) and
      ``samples() -> dict`` (examples a person can read, kept in the result record).

    The shape nets in ``rnnbench.nets`` and ``rnnbench.seq2seq`` implement them; a task
    passes its own ``samples`` and ``count`` to their constructors.
    """

    name: str = ""
    family: str = ""
    shape: str = ""
    description: str = ""
    primary_metric: str = ""
    direction: Direction = "max"
    throughput_unit: str = "samples"
    requires: frozenset[str] = frozenset()
    """Capabilities the model must provide, e.g. ``{"causal"}`` for language modeling."""
    profiles: Mapping[str, Profile] = {}
    requirements: tuple[Requirement, ...] = ()
    """What the offline default data needs from the machine (executables, files, Python
    modules), each with the package that provides it; ``rnnbench doctor`` reports them and
    the test suite checks that the README's set-up installs them."""
    data_environment: tuple[str, ...] = ()
    """Environment variables that select this task's data (e.g. a CSV path). Their values,
    and the content of any file a value names (comma-separated), go into every cell's
    config hash, so a result from other data is run again, never reused."""
    published: tuple[Published, ...] = ()
    """Published results for this task's problem (``Published``), shown on its page beside
    ours with what differs; they change no result and no hash."""
    serially_dependent: bool = False
    """Test examples follow one another in time (trading days, segments of one text
    stream), so that neighbours are correlated: confidence intervals and tests then
    resample blocks of examples (a circular block bootstrap) instead of single ones."""

    @abc.abstractmethod
    def prepare(self, profile: Profile, cache_dir: str) -> TaskData:
        """Load or generate the data of ``profile``, caching downloads in ``cache_dir``."""

    @abc.abstractmethod
    def build(self, data: TaskData, model: "Model", profile: Profile) -> "TaskNet":
        """The task net around a core from ``model.build_core``."""

    @abc.abstractmethod
    def metrics(self, data: TaskData) -> dict[str, "torchmetrics.Metric"]:
        """Fresh torchmetrics for one evaluation split; must contain ``primary_metric``."""

    def baselines(self, data: TaskData) -> dict[str, dict[str, float]]:
        """Naive predictors' test metrics (majority class, unigram, copy ...), by name."""
        return {}

    def metric_notes(self, data: TaskData) -> dict[str, str]:
        """How the metrics were computed, where their names do not say it all (a scorer's
        signature, which case or tokenisation is scored), by a short label such as the
        metric's name. Each record keeps them and the task's page shows them."""
        return {}

    def baseline_outcomes(self, data: TaskData) -> dict[str, dict[str, Any]]:
        """Per-example outcomes of the naive predictors on the primary test set, by name:
        the same columns, in the same example order, as the task net's test outcomes
        (``TaskNet.outcomes``), so that a model is tested against a baseline paired by
        example. Without them the leaderboard compares against the baseline's value."""
        return {}

    def outcome_series(self, data: TaskData) -> int:
        """How many parallel series the primary test set's outcomes lay end to end: all
        time steps of the first series, then all of the second, each series the same
        time steps in the same order (stock: one per index, on the same trading days).
        A bootstrap then draws time steps and takes every series' outcome at each, so
        that series which move together are never resampled as if independent. 1 (the
        default): one series, or examples without a shared time axis."""
        return 1

    revision: int = 0
    """Raise it when a change to this task changes its results within one release of its
    distribution (a metric fixed or added): the revision enters the config hash, so its
    cells run again while every other task's results stay valid. At 0 it is left out of
    the hash, so plugins that never set it keep the hashes they had."""

    readout: str = "last"
    """One of ``READOUTS``: how a many-to-one net of this task reads the core's outputs.
    Every model gets the same readout; a task never chooses one by the model."""

    def search_space(self, profile: Profile) -> dict[str, Dimension]:
        """What ``rnnbench tune`` searches, by ``Profile`` field: by default the learning
        rate, log-uniform over two decades around the profile's. A task adds dropout or
        weight decay where they matter to it."""
        return {"lr": LogUniform(profile.lr / 10, profile.lr * 10)}


class Model(abc.ABC):
    """Base class of a model plugin's model: it builds the recurrent core.

    ``build_core`` returns a ``torch.nn.Module`` whose ``forward(x, state=None,
    lengths=None)`` maps ``x`` of shape ``[batch, time, input_size]`` to
    ``(y, state)`` with ``y`` of shape ``[batch, time, core.output_size]``; ``lengths``
    (a CPU int tensor) marks the valid prefix of each padded sequence, and padding must
    not change ``y`` at valid steps. ``state`` lets a task carry the hidden state across
    batches (TBPTT) or step a decoder one token at a time.
    """

    name: str = ""
    family: str = ""
    description: str = ""
    provides: frozenset[str] = frozenset({"causal", "stateful"})
    """Capabilities: ``causal`` (output at t sees no input after t), ``stateful``, and
    ``decoder``: ``build_decoder`` supplies a causal, stateful decoder of the model's
    family, so the model serves a seq2seq task as its encoder even when its own core is
    neither (a seq2seq task's ``requires`` are then asked of that decoder)."""
    cannot_serve: Mapping[str, str] = {}
    """Shape -> reason, for shapes this model cannot serve at all."""
    revision: int = 0
    """As ``Task.revision``: raised when a change to this model changes its results within
    one release of its distribution."""
    own_initialisation: bool = False
    """The core's initialisation is part of the model (IRNN's identity matrix, LRU's ring
    of eigenvalues), so a profile's ``init_scale`` leaves the core as built and draws only
    the task's own parameters."""

    @abc.abstractmethod
    def build_core(self, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> "torch.nn.Module":
        """A fresh core reading ``input_size`` features per step; see the class docstring."""

    def build_decoder(
        self, input_size: int, hidden_size: int, num_layers: int, dropout: float
    ) -> tuple["torch.nn.Module", "torch.nn.Module"]:
        """Of a model that provides ``decoder``: a causal, stateful core reading
        ``input_size`` features per step, and a bridge module that maps the final state
        of a ``build_core`` core of the same sizes to that decoder's initial state."""
        raise NotImplementedError(f"{self.name} does not provide a decoder")

    def capabilities(self, task: Task) -> frozenset[str]:
        """What this model brings to ``task``: its ``provides``, and for a seq2seq task a
        ``decoder``'s causality and state."""
        if task.shape == "seq2seq" and "decoder" in self.provides:
            return frozenset(self.provides) | {"causal", "stateful"}
        return frozenset(self.provides)

    def search_space(self, task: Task, profile: Profile) -> dict[str, Dimension]:
        """Dimensions this model adds to (or narrows in) ``task``'s search space, by
        ``Profile`` field. Every model of a task gets the same number of trials."""
        return {}

    def unsupported(self, task: Task) -> str | None:
        """Why this model cannot serve ``task`` (an ``n/a`` cell), or None."""
        if task.shape in self.cannot_serve:
            return self.cannot_serve[task.shape]
        missing = sorted(set(task.requires) - self.capabilities(task))
        if missing:
            return f"{self.name} is not {' or '.join(missing)}; {task.name} needs it"
        return None
