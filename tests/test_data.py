import datasets

from rnnbench.data import cached


def test_cached_builds_once_and_survives_a_concurrent_builder(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return datasets.Dataset.from_dict({"x": [1, 2, 3]})

    first, key = cached(str(tmp_path), "demo", {"a": 1}, build)
    second, key2 = cached(str(tmp_path), "demo", {"a": 1}, build)
    assert key == key2 and len(calls) == 1 and second["x"] == [1, 2, 3]
    assert cached(str(tmp_path), "demo", {"a": 2}, build)[1] != key and len(calls) == 2

    # another worker finished the same build while this one was building
    def build_racing():
        datasets.Dataset.from_dict({"x": [9]}).save_to_disk(str(tmp_path / f"demo-{key3}"))
        return datasets.Dataset.from_dict({"x": [9]})

    from rnnbench.data import fingerprint

    key3 = fingerprint("demo", {"a": 3})
    ds, _ = cached(str(tmp_path), "demo", {"a": 3}, build_racing)
    assert ds["x"] == [9]
