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
