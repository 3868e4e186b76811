"""Speech tasks: features, lengths and padding, CTC decoding, error rates, hub-format
loaders, one-line errors for missing packages, and smoke fits on real synthesised audio."""

import dataclasses
import io
import json
import math

import numpy as np
import pytest
import soundfile
import torch

from rnnbench.api import TaskData
from rnnbench.data import DataUnavailable, default_cache_dir
from rnnbench.testing import fit_smoke, load_registry
from rnnbench_plugins.speech import batching, ctc, features, sources

torch.set_num_threads(1)


def spoken(digits, voice="en-us+m3", speed=175):
    text = " ".join(sources.DIGIT_WORDS[d] for d in digits)
    return sources.synthesize(text, voice, speed, 50)


def items_of(waves_and_digits, stack=1):
    feats = [features.log_mel(w, features.FEATURES) for w, _ in waves_and_digits]
    cols = features.rows(feats, [d for _, d in waves_and_digits], ["t"] * len(feats))
    return features.utterances(features.to_dataset(cols), features.FEATURES["n_mels"], stack), feats


def test_read_audio_resamples_everything_to_8khz(tmp_path):
    t = np.arange(16000) / 16000
    path = tmp_path / "tone.wav"
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    wave = features.read_audio(str(path))
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - features.SAMPLE_RATE) <= 1
    # espeak-ng speaks at 22.05 kHz; a one-second utterance must come back as ~8000 samples
    raw = sources.synthesize("seven", "en-us", 175, 50)
    assert 0.2 * features.SAMPLE_RATE < len(raw) < 2 * features.SAMPLE_RATE


def test_log_mel_shape_follows_the_trimmed_duration():
    wave = spoken([7])
    silence = np.zeros(features.SAMPLE_RATE // 2, np.float32)
    feats = features.log_mel(wave, features.FEATURES)
    padded = features.log_mel(np.concatenate([silence, wave, silence]), features.FEATURES)
    hop = features.SAMPLE_RATE * features.FEATURES["hop_ms"] // 1000
    assert feats.shape[1] == features.FEATURES["n_mels"] and feats.dtype == np.float32
    assert feats.shape[0] <= len(wave) // hop + 1
    # leading and trailing silence is trimmed, so half a second each side adds almost nothing
    assert abs(padded.shape[0] - feats.shape[0]) <= 3
    np.testing.assert_allclose(feats.mean(0), 0, atol=1e-4)


def test_lengths_and_frame_stacking_in_batches():
    (items, feats) = items_of([(spoken([1]), [1]), (spoken([4, 2, 9]), [4, 2, 9])], stack=3)
    frames = [len(f) for f in feats]
    assert [len(it["x"]) for it in items] == [math.ceil(n / 3) for n in frames]
    assert items[0]["x"].shape[1] == 3 * features.FEATURES["n_mels"]
    # stacking joins consecutive frames: the first step holds frames 0, 1 and 2
    torch.testing.assert_close(items[1]["x"][0], torch.from_numpy(feats[1][:3].reshape(-1)))
    batch = batching.collate_strings(items)
    assert batch["x"].shape == (2, max(len(it["x"]) for it in items), 3 * features.FEATURES["n_mels"])
    assert batch["lengths"].tolist() == [len(it["x"]) for it in items]
    assert batch["y"].tolist() == [[2, 0, 0], [5, 3, 10]]  # digit d is class d + 1, 0 pads
    assert batch["y_lengths"].tolist() == [1, 3]
    assert batching.collate_digits(items[:1])["y"].tolist() == [1]


def padding_check(task_name, model_name):
    reg = load_registry()
    task, model = reg.tasks[task_name], reg.models[model_name]
    items, _ = items_of([(spoken([3], speed=250), [3]), (spoken([8, 0, 5], speed=140), [8, 0, 5])], stack=2)
    data = TaskData(
        train=items,
        val=items,
        test={"test": items, "real": items},
        fingerprint="t",
        info={"input_size": 2 * features.FEATURES["n_mels"]},
    )
    torch.manual_seed(0)
    net = task.build(data, model, task.profiles["smoke"]).eval()
    batch = task.collate(items)
    assert batch["lengths"][0] < batch["lengths"][1]  # the short one is padded
    alone = task.collate(items[:1])
    with torch.no_grad():
        return net(batch), net(alone), int(alone["lengths"][0])


@pytest.mark.parametrize("model", ["lstm", "bi-gru"])
def test_padding_does_not_change_outputs(model):
    padded, alone, _ = padding_check("speech-digits", model)
    torch.testing.assert_close(padded[:1], alone, atol=1e-5, rtol=1e-5)
    padded, alone, n = padding_check("speech-asr", model)
    torch.testing.assert_close(padded[:1, :n], alone[:, :n], atol=1e-5, rtol=1e-5)


def frames_of(classes, n_classes=11):
    """Log-probabilities that put 0.9 on the given class at each frame."""
    p = torch.full((len(classes), n_classes), 0.1 / (n_classes - 1))
    p[torch.arange(len(classes)), torch.tensor(classes)] = 0.9
    return p.log()


def test_ctc_greedy_decoding_merges_repeats_and_drops_blanks():
    # frames: blank, 3, 3, blank, 3, 7, 7, blank  (class = digit + 1)
    a = frames_of([0, 4, 4, 0, 4, 8, 8, 0])
    b = frames_of([2, 2, 2, 0, 0, 0, 0, 0])
    out = torch.stack([a, b])
    assert ctc.ctc_greedy_decode(out, torch.tensor([8, 3])) == [[3, 3, 7], [1]]
    # frames past an utterance's length are padding and never decoded
    assert ctc.ctc_greedy_decode(out, torch.tensor([5, 3])) == [[3, 3], [1]]
    assert ctc.ctc_beam_decode(a.numpy(), 4) == [3, 3, 7]


def test_ctc_beam_search_sums_paths_that_greedy_misses():
    # two frames, P(blank)=0.6, P("zero")=0.4 each: greedy reads blank-blank -> "" (0.36);
    # "zero" has three paths, 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64, so the beam must say "zero"
    lp = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()
    assert ctc.ctc_greedy_decode(lp[None], torch.tensor([2])) == [[]]
    assert ctc.ctc_beam_decode(lp.numpy(), 4) == [0]


def test_word_and_character_error_rates_match_hand_counts():
    task = load_registry().tasks["speech-asr"]
    metrics = task.metrics(None)
    # "three seven one" -> "three one": 1 of 3 words deleted; 6 of 15 characters ("seven ")
    task.score(metrics, [[3, 1]], [[3, 7, 1]])
    assert float(metrics["wer"].compute()) == pytest.approx(1 / 3)
    assert float(metrics["cer"].compute()) == pytest.approx(6 / 15)
    assert float(metrics["string_accuracy"].compute()) == 0.0
    # add "two" -> "two" (exact) and "nine" -> "five" (1 substitution; "nine"/"five" differ in 2 chars)
    task.score(metrics, [[2], [5]], [[2], [9]])
    assert float(metrics["wer"].compute()) == pytest.approx((1 + 0 + 1) / (3 + 1 + 1))
    assert float(metrics["cer"].compute()) == pytest.approx((6 + 0 + 2) / (15 + 3 + 4))
    assert float(metrics["string_accuracy"].compute()) == pytest.approx(1 / 3)


def test_voices_of_the_synthetic_test_split_are_never_heard_in_training():
    _, accents, variants = sources.espeak_voices()
    assert len(accents) >= 3 and len(variants) >= 20
    voices = sources.split_voices(variants)
    assert not set(voices["test"]) & set(voices["train"])
    assert not set(voices["val"]) & set(voices["train"])
    assert not set(voices["test"]) & set(voices["val"])
    specs = sources.utterance_specs("test", 50, (1, 1), voices["test"], accents, seed=1)
    assert {s["voice"].split("+")[1] for s in specs} <= set(voices["test"])
    assert [s["digits"][0] for s in specs[:10]] == list(range(10))  # balanced classes


def test_missing_espeak_says_which_package_to_install(monkeypatch):
    monkeypatch.setattr(
        sources, "ESPEAK", sources.ESPEAK.__class__.binary("espeak-ng-absent", apt="no-such-package-rnnbench")
    )
    task = load_registry().tasks["speech-digits"]
    with pytest.raises(DataUnavailable) as err:
        task.prepare(task.profiles["smoke"], "/nonexistent-cache")
    assert str(err.value) == "espeak-ng-absent is not installed: sudo apt-get install no-such-package-rnnbench"


def test_missing_asterisk_sounds_say_which_package_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(
        sources,
        "ASTERISK_DIGITS",
        dataclasses.replace(sources.ASTERISK_DIGITS, paths=(str(tmp_path / "absent"),), apt="no-such-package-rnnbench"),
    )
    task = load_registry().tasks["speech-asr"]
    with pytest.raises(DataUnavailable) as err:
        task.prepare(task.profiles["smoke"], str(tmp_path))
    message = str(err.value)
    assert "\n" not in message and message.endswith("sudo apt-get install no-such-package-rnnbench")


def test_an_installed_package_whose_recordings_are_gone_is_reinstalled(monkeypatch, tmp_path):
    # the user already has the package: telling them to install it again helps nobody
    monkeypatch.setattr(
        sources,
        "ASTERISK_DIGITS",
        dataclasses.replace(sources.ASTERISK_DIGITS, paths=(str(tmp_path / "absent"),), apt="dpkg"),
    )
    with pytest.raises(DataUnavailable, match=r"sudo apt-get install --reinstall dpkg$"):
        sources.asterisk_digit_files()


def test_recordings_are_found_where_the_debian_package_puts_them(monkeypatch, tmp_path):
    """The `en` folder is an alternatives link another package makes; the package's own
    folder comes first and alone suffices."""
    allison = tmp_path / "en_US_f_Allison" / "digits"
    allison.mkdir(parents=True)
    for d in range(10):
        (allison / f"{d}.wav").write_bytes(b"RIFF")
    candidates = (str(allison), str(tmp_path / "en" / "digits"))
    monkeypatch.setattr(sources, "ASTERISK_DIGITS", dataclasses.replace(sources.ASTERISK_DIGITS, paths=candidates))
    assert sources.asterisk_digit_files() == [allison / f"{d}.wav" for d in range(10)]
    assert sources.ASTERISK_DIGITS.paths[0].endswith("en_US_f_Allison/digits")


def test_real_voice_set_is_the_ten_asterisk_digits():
    cols = sources.asterisk_rows(features.FEATURES)
    assert cols["digits"] == [[d] for d in range(10)]
    assert all(10 < n < 200 for n in cols["frames"])


def write_hub_copy(path, words=("yes", "zero", "seven", "marvin", "three")):
    """A small local copy in the hub's parquet layout: an audio struct {bytes, path} typed
    as ``Audio`` in the file's HF metadata, and a class-label column whose names are
    speech_commands' words (not only digits). Written with pyarrow, because encoding
    through ``datasets.Audio`` needs torchcodec."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    audio = []
    for i, word in enumerate(words):
        buf = io.BytesIO()
        wave = sources.synthesize(word, "en-gb+f2", 160, 40)
        soundfile.write(buf, np.repeat(wave, 2), 16000, format="WAV")  # 16 kHz, as speech_commands
        audio.append({"bytes": buf.getvalue(), "path": f"{word}/clip_{i}.wav"})
    names = ["yes", "no", "marvin"] + list(sources.DIGIT_WORDS)
    features = datasets.Features(
        {
            "audio": datasets.Audio(sampling_rate=16000),
            "label": datasets.ClassLabel(names=names),
            "speaker_id": datasets.Value("string"),
        }
    )
    table = pa.table(
        {
            "audio": pa.array(audio, type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
            "label": pa.array([names.index(w) for w in words], type=pa.int64()),
            "speaker_id": ["s1"] * len(words),
        }
    ).replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features.to_dict()}})})
    pq.write_table(table, path)
    return path


def test_hub_format_loader_reads_a_local_parquet_copy(tmp_path):
    path = write_hub_copy(tmp_path / "train.parquet")
    source = {"path": "parquet", "data_files": {"train": str(path)}}
    cols = sources.hub_rows(source, "train", features.FEATURES)
    assert cols["digits"] == [[0], [7], [3]]  # "yes" and "marvin" are not digits
    assert cols["speaker"] == ["s1"] * 3
    assert all(len(f) == n * features.FEATURES["n_mels"] for f, n in zip(cols["features"], cols["frames"]))


def write_fsdd_copy(folder, digits=(4, 6)):
    """FSDD's layout: 8 kHz WAV files named digit_speaker_index, indexed by a JSON file with
    an audio {path, bytes} cell and an integer digit label."""
    rows = []
    for i, d in enumerate(digits):
        wav = folder / f"{d}_jackson_{i}.wav"
        soundfile.write(wav, spoken([d]), 8000)
        rows.append({"audio": {"path": str(wav), "bytes": None}, "label": d})
    (folder / "fsdd.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return folder / "fsdd.jsonl"


def test_hub_format_loader_reads_fsdd_style_json_with_paths_and_digit_labels(tmp_path):
    import datasets

    ds = datasets.load_dataset("json", data_files=str(write_fsdd_copy(tmp_path)), split="train")
    got = list(sources.hub_digit_examples(ds))
    assert [d for _, d, _ in got] == [4, 6]
    np.testing.assert_allclose(got[0][0], spoken([4]), atol=1e-4)
    with pytest.raises(ValueError, match="'audio' and 'label'"):
        list(sources.hub_digit_examples(ds.remove_columns("label")))


def test_full_profile_path_trains_on_local_hub_copies(tmp_path):
    from rnnbench.training import fit_cell

    files = {
        split: str(write_hub_copy(tmp_path / f"{split}.parquet", words))
        for split, words in {
            "train": ("zero", "one", "yes", "two", "three"),
            "validation": ("four", "five"),
            "test": ("six", "seven", "no"),
        }.items()
    }
    reg = load_registry()
    task = reg.tasks["speech-digits"]
    full = task.profiles["full"]
    options = dataclasses.replace(
        full.options,
        hub={**full.options.hub, "path": "parquet", "data_files": files, "name": None, "revision": None},
        tests={"fsdd": {"path": "json", "data_files": str(write_fsdd_copy(tmp_path)), "split": "train"}},
    )
    profile = full.replace(options=options, max_steps=2, val_every=1, batch_size=4, hidden_size=8, num_layers=1)
    data = task.prepare(profile, str(tmp_path / "cache"))
    assert list(data.test) == ["test", "real", "fsdd"]
    assert [len(data.train.items), len(data.val.items), len(data.test["test"].items)] == [4, 2, 2]
    record = fit_cell(task, reg.models["gru"], profile, 0, data, accelerator="cpu")
    assert set(record["metrics"]) >= {"accuracy", "accuracy_real", "accuracy_fsdd"}


def test_unreachable_hub_is_one_clear_line():
    with pytest.raises(DataUnavailable, match="hub dataset 'google/speech_commands' is unreachable"):
        sources.load_hub_split({"path": "google/speech_commands", "name": "v0.02"}, "train")


def test_smoke_fit_spoken_digits_reports_both_test_sets():
    record = fit_smoke("speech-digits", "lstm")
    assert set(record["metrics"]) >= {"accuracy", "accuracy_real"}
    assert 0.0 <= record["primary"]["value"] <= 1.0
    assert sorted(record["samples"]["real_voice"]) == [str(d) for d in range(10)]


def test_smoke_fit_digit_strings_with_ctc():
    record = fit_smoke("speech-asr", "gru")
    assert set(record["metrics"]) >= {"wer", "cer", "string_accuracy", "wer_real", "cer_real"}
    assert record["primary"]["name"] == "wer" and record["primary"]["value"] >= 0.0
    assert len(record["samples"]["real"]) == 5


def test_baselines():
    reg = load_registry()
    digits = reg.tasks["speech-digits"]
    data = digits.prepare(digits.profiles["smoke"], default_cache_dir())
    base = digits.baselines(data)
    assert base["majority-class"]["accuracy_real"] == pytest.approx(0.1)  # one recording per digit
    asr = reg.tasks["speech-asr"]
    data = asr.prepare(asr.profiles["smoke"], default_cache_dir())
    base = asr.baselines(data)
    assert base["empty-output"]["wer"] == 1.0 and base["empty-output"]["cer_real"] == 1.0
    assert base["most-frequent-digit-string"]["wer"] > 0.7


def test_speech_asr_decodes_greedily_in_validation_and_with_the_beam_at_test(monkeypatch):
    """A Python beam search at every validation would leave a GPU idle; the test keeps it."""
    import dataclasses

    import torch

    from rnnbench.data import default_cache_dir
    from rnnbench.testing import load_registry
    from rnnbench.training import loader
    from rnnbench_plugins.speech import tasks as speech_tasks

    reg = load_registry()
    task = reg.tasks["speech-asr"]
    profile = task.profiles["smoke"]
    profile = profile.replace(options=dataclasses.replace(profile.options, beam_width=4))
    data = task.prepare(profile, default_cache_dir())
    net = task.build(data, reg.models["gru"], profile).eval()
    batch = next(iter(loader(data, data.val, 4, False, False)))
    widths = []
    real = speech_tasks.decode

    def decode(out, lengths, width):
        widths.append(width)
        return real(out, lengths, 1)

    monkeypatch.setattr(speech_tasks, "decode", decode)
    for split in ("val", "test"):
        net.reset_state(split)
        with torch.no_grad():
            net.evaluate(batch, torch.nn.ModuleDict(task.metrics(data)))
    assert widths == [1, 4]
