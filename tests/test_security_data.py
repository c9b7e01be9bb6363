"""Data-safety checks: run ids, export sanitising, model folders that are never unpickled,
template limits."""
import pytest

from segcore.errors import SegscopeError
from segcore.services.runs import RunStore


@pytest.mark.parametrize("run_id", ["run\n", "run\r", "../x", "", "a/b", ".hidden", "run\x00"])
def test_run_ids_refused(tmp_path, run_id):
    with pytest.raises(SegscopeError) as err:
        RunStore(tmp_path).path(run_id)
    assert "\n" not in str(err.value)


def test_run_id_accepted(tmp_path):
    assert RunStore(tmp_path).path("20240101-120000-run").name == "20240101-120000-run"
