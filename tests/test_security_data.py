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


# --- exports with characters XML cannot hold ------------------------------------------------

def _real_rows(n=60):
    import pandas as pd

    return pd.read_csv("segcore/data/sample_reviews.csv").head(n)


def test_xlsx_strips_illegal_characters_in_cells_headers_and_sheet_names(tmp_path):
    import openpyxl

    from segcore.io.export import read_export_csv, write_csv, xlsx_bytes

    frame = _real_rows()
    frame["UserId"] = frame["UserId"].astype(str)
    frame.loc[0, "UserId"] = "A3\x0bSGXH7AUHU8GW"
    frame.loc[1, "Summary"] = "good\x01 \x1b[31mred\ufffe"
    frame["Score"] = frame["Score"].astype("category")
    frame.loc[2, "Text"] = "\x00" * 5
    frame = frame.rename(columns={"Text": "Text\x02"})
    data = xlsx_bytes({"\x01 Seg\x0bment": frame, "\x01": frame, "\x1f": frame.head(2)})
    (tmp_path / "a.xlsx").write_bytes(data)
    book = openpyxl.load_workbook(tmp_path / "a.xlsx")
    assert book.sheetnames == ["Seg ment", "Sheet", "Sheet (2)"]
    rows = list(book.worksheets[0].values)
    assert rows[0][-1] == "Text\ufffd"
    assert rows[1][2] == "A3\ufffdSGXH7AUHU8GW" and rows[2][7] == "good\ufffd \ufffd[31mred\ufffd"
    assert rows[3][-1] == "\ufffd" * 5
    assert [r[0] for r in rows[4:]] == frame["Id"].tolist()[3:]  # the real rows came through
    assert [r[8] for r in rows[4:]] == frame["Text\x02"].tolist()[3:]
    # CSV holds any character: the id stays exactly as in the source file
    write_csv(frame, tmp_path / "a.csv")
    back = read_export_csv(tmp_path / "a.csv", dtype={"UserId": str})
    assert back.loc[0, "UserId"] == "A3\x0bSGXH7AUHU8GW"


def test_run_with_control_characters_exports_and_renames(tmp_path, small_csv, tiny_model):
    import shutil

    import openpyxl
    import pandas as pd

    from segcore.analysis.edit import rename_run_segments
    from segcore.cli import main
    from segcore.strategy.suggest import load_templates

    frame = pd.read_csv(small_csv)
    frame["UserId"] = frame["UserId"].astype(str)
    frame.loc[0, "UserId"] = "cust\x0b1"
    frame.loc[1, "Summary"] = "bad\x01news"
    path = tmp_path / "ctl.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "run"
    assert main(["run", str(path), "--model", str(tiny_model), "--epochs", "1", "--k", "3",
                 "--max-length", "48", "--out", str(out)]) == 0
    book = openpyxl.load_workbook(out / "campaigns.xlsx")
    ids = [r[0] for ws in book.worksheets for r in list(ws.values)[1:]]
    assert "cust\ufffd1" in ids and len(ids) == frame["UserId"].nunique()
    analysis = rename_run_segments(out, {0: "VIP\x01 \x0bbuyers", 1: "\x01\x02"}, templates=load_templates())
    assert analysis.profiles[0]["name"] == "VIP buyers" and analysis.profiles[1]["name"] != "\x01\x02"
    book = openpyxl.load_workbook(out / "campaigns.xlsx")
    assert any(name.endswith("VIP buyers") for name in book.sheetnames)
    meta = __import__("json").loads((out / "model" / "segscope.json").read_text())
    assert meta["segment_names"]["0"] == "VIP buyers"
