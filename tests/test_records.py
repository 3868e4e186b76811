from rnnbench import records


def test_a_record_without_a_schema_is_of_the_first_version():
    assert records.schema_of({}) == 1
    assert records.schema_of({"schema": 2}) == 2


def test_the_accessors_read_what_a_failed_record_lacks_as_none():
    ok = {"throughput": {"unit": "tokens/s", "value": 12.5}, "provenance": {"config_hash": "abc"}}
    assert (records.throughput(ok), records.throughput_unit(ok), records.config_hash(ok)) == (12.5, "tokens/s", "abc")
    for failed in ({}, {"throughput": None, "provenance": None}):
        assert (records.throughput(failed), records.throughput_unit(failed), records.config_hash(failed)) == (
            None,
            "",
            None,
        )


def test_a_record_names_the_device_class_its_worker_recorded():
    record = {"provenance": {"device": "cpu (4 threads)", "device_class": "cpu: AMD EPYC 7763, 4 threads"}}
    assert records.device_class(record) == "cpu: AMD EPYC 7763, 4 threads"


def test_a_record_from_before_the_device_class_gets_one_from_its_device():
    def old(**prov):
        return records.device_class({"provenance": prov})

    # rnnbench 0.3.0's committed records: the CPU's model was not recorded, so they are
    # a class of their own, apart from any new record's (which names the model)
    assert old(device="cpu (1 threads)") == "cpu: model not recorded, 1 thread"
    assert old(device="cpu (8 threads)") == "cpu: model not recorded, 8 threads"
    assert old(device="NVIDIA H200", precision="tf32") == "gpu: NVIDIA H200, tf32"
    assert old(device="NVIDIA H200", precision="tf32", cells_per_gpu=2) == "gpu: NVIDIA H200, tf32, 2 cells per GPU"
    assert old(device="NVIDIA H200", precision="tf32", cells_per_gpu=2) != old(device="NVIDIA H200", precision="tf32")
    for prov in ({}, {"device": None}, {"device": "  "}, {"device_class": ""}):
        assert old(**prov) == records.UNKNOWN_DEVICE
    assert records.device_class({"provenance": None}) == records.UNKNOWN_DEVICE


def test_a_device_class_names_what_changes_a_cells_time():
    assert records.describe_device("cpu", "Intel(R)  Xeon(R)\tCPU", threads=1) == "cpu: Intel(R) Xeon(R) CPU, 1 thread"
    # --precision has no effect on a CPU, so a CPU's class leaves it out; a GPU's has it
    assert records.describe_device("cpu", "X", threads=2, precision="fp32") == "cpu: X, 2 threads"
    assert records.describe_device("gpu", "NVIDIA H200", precision="bf16-mixed", cells_per_gpu=1) == (
        "gpu: NVIDIA H200, bf16-mixed"
    )


def test_every_key_a_written_record_holds_is_declared():
    """The schema is declared in one place (records.Record): every key that the runner
    wrote into the committed results, the runner's own and the worker's, is in it."""
    import json
    from pathlib import Path

    from rnnbench.records import Record

    results = Path(__file__).resolve().parents[1] / "leaderboards" / "results"
    written = set()
    for path in results.rglob("*.json"):
        written |= set(json.loads(path.read_text()))
    assert written, "no committed results to check"
    assert sorted(written - set(Record.__annotations__)) == []
