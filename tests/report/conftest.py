import pytest
from _records import sample_records

from rnnbench import store


@pytest.fixture
def results(tmp_path):
    for r in sample_records():
        store.write_record(tmp_path, r)
    return tmp_path
