import dataclasses

from rnnbench.api import DATA, RESULT, RUN, Profile, option_settings


@dataclasses.dataclass(frozen=True)
class Options:
    length: int
    sizes: dict = dataclasses.field(default_factory=lambda: {"train": 10})
    source: str = "synthetic"


def test_every_profile_field_declares_its_role():
    roles = {f.name: f.metadata.get("role") for f in dataclasses.fields(Profile)}
    assert set(roles.values()) == {DATA, RESULT, RUN}
    assert {name for name, role in roles.items() if role == RUN} == {"time_limit", "seeds", "tuning_trials"}


def test_the_data_settings_ignore_what_only_the_model_or_the_run_changes():
    p = Profile(max_steps=10, batch_size=4, options=Options(length=5))
    other_model = p.replace(
        hidden_size=7,
        num_layers=2,
        dropout=0.5,
        lr=1.0,
        grad_clip=3.0,
        val_every=1,
        max_steps=99,
        time_limit=1.0,
        seeds=9,
    )
    assert other_model.data_settings() == p.data_settings()
    assert p.replace(batch_size=8).data_settings() != p.data_settings()
    assert p.replace(options=Options(length=6)).data_settings() != p.data_settings()


def test_the_result_settings_are_all_but_the_run_settings():
    p = Profile(max_steps=10, batch_size=4, options=Options(length=5))
    unset = {"init_scale", "min_steps"}  # hashed only once set
    assert set(p.result_settings()) == set(p.to_dict()) - {"time_limit", "seeds", "tuning_trials"} - unset
    assert p.replace(time_limit=1.0, seeds=3, tuning_trials=2).result_settings() == p.result_settings()
    assert p.replace(lr=0.5).result_settings() != p.result_settings()


def test_a_field_hashed_when_set_leaves_the_settings_of_every_profile_without_it_as_they_were():
    p = Profile(max_steps=10, batch_size=4, options=Options(length=5))
    before_init_scale = {  # the result settings every existing cell's config hash was built from
        "max_steps", "batch_size", "hidden_size", "num_layers", "dropout", "lr", "grad_clip", "optimizer",
        "momentum", "weight_decay", "warmup_steps", "schedule", "decay_factor", "decay_after", "val_every",
        "patience", "param_budget", "stop_at", "options",
    }  # fmt: skip
    assert set(p.result_settings()) == before_init_scale
    assert p.replace(init_scale=0.05).result_settings() == {**p.result_settings(), "init_scale": 0.05}
    assert "init_scale" not in p.data_settings() and "init_scale" not in p.replace(init_scale=0.1).data_settings()
    assert p.replace(min_steps=5).result_settings() == {**p.result_settings(), "min_steps": 5}


def test_init_scale_must_be_positive():
    import pytest

    with pytest.raises(ValueError, match="init_scale"):
        Profile(max_steps=1, batch_size=1, init_scale=0.0)


def test_options_settings_hold_what_a_profile_wrote_apart_from_unchanged_defaults():
    # a default declared later must not change the fingerprints built from these settings
    assert option_settings(Options(length=5)) == {"length": 5}
    assert option_settings(Options(length=5, source="hub", sizes={"train": 3})) == {
        "length": 5,
        "source": "hub",
        "sizes": {"train": 3},
    }
    assert option_settings({"length": 5}) == {"length": 5}


def test_a_profile_with_options_is_plain_json():
    import json

    p = Profile(max_steps=10, batch_size=4, options=Options(length=5, sizes={"train": 1}))
    assert json.loads(json.dumps(p.to_dict()))["options"] == {"length": 5, "sizes": {"train": 1}}


def test_a_leaderboard_profile_takes_the_shared_protocol_and_its_overrides():
    from rnnbench.api import LEADERBOARD_PROTOCOL

    ranked = Profile.for_leaderboard(max_steps=10, batch_size=4)
    assert {k: getattr(ranked, k) for k in LEADERBOARD_PROTOCOL} == LEADERBOARD_PROTOCOL
    assert ranked.patience is not None and ranked.seeds >= 3
    assert Profile.for_leaderboard(max_steps=10, batch_size=4, patience=None).patience is None


def test_min_steps_must_be_a_positive_whole_number():
    import pytest

    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="min_steps"):
            Profile(max_steps=10, batch_size=4, min_steps=bad)
    assert Profile(max_steps=10, batch_size=4, min_steps=10).min_steps == 10
