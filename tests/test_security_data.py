"""Data-safety checks: run ids, export sanitising, model folders that are never unpickled,
template limits."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

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

    import openpyxl
    import pandas as pd

    from segcore.services.edit import rename_run_segments
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
    assert book.sheetnames[-1] == "What to fix first"
    # [0]: the index sheet, [-1]: what to fix first
    ids = [r[0] for ws in book.worksheets[1:-1] for r in list(ws.values)[1:]]
    assert "cust\ufffd1" in ids and len(ids) == frame["UserId"].nunique()
    analysis = rename_run_segments(out, {0: "VIP\x01 \x0bbuyers", 1: "\x01\x02"}, templates=load_templates())
    assert analysis.profiles[0]["name"] == "VIP buyers" and analysis.profiles[1]["name"] != "\x01\x02"
    book = openpyxl.load_workbook(out / "campaigns.xlsx")
    assert any(name.endswith("VIP buyers") for name in book.sheetnames)
    meta = __import__("json").loads((out / "model" / "segscope.json").read_text())
    assert meta["segment_names"]["0"] == "VIP buyers"


# --- a model folder is data, never code ----------------------------------------------------

class _Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return os.system, (f"touch {self.marker}",)


def _model_copy(tiny_run, tmp_path):
    import shutil

    target = tmp_path / "model"
    shutil.copytree(tiny_run, target)
    return target


def test_saved_projection_is_not_a_pickle_and_round_trips(tiny_run, tmp_path):
    import numpy as np

    from segcore.analysis.projection import (LEGACY_PROJECTION_FILE, PROJECTION_FILE, fit_projection,
                                             load_projection, project, save_projection)

    assert (tiny_run / PROJECTION_FILE).exists() and not (tiny_run / LEGACY_PROJECTION_FILE).exists()
    assert (tiny_run / PROJECTION_FILE).read_bytes()[8:9] == b"{"  # safetensors: a JSON header, then arrays
    emb = np.load(tiny_run.parent / "embeddings.npy").astype(np.float32)
    for rows in (30, len(emb)):  # PCA below 50 rows, UMAP above
        proj, _ = fit_projection(emb[:rows], seed=0)
        save_projection(proj, tmp_path / f"p{rows}.safetensors")
        back = load_projection(tmp_path / f"p{rows}.safetensors")
        np.testing.assert_allclose(project(back, emb), project(proj, emb), atol=1e-5)


def test_crafted_pickle_in_a_model_folder_is_never_unpickled(tiny_run, tmp_path, capsys):
    import joblib

    from segcore.analysis.projection import LEGACY_PROJECTION_FILE, PROJECTION_FILE, load_projection
    from segcore.cli import main

    model = _model_copy(tiny_run, tmp_path)
    marker = tmp_path / "pwned"
    joblib.dump(_Payload(marker), model / LEGACY_PROJECTION_FILE)
    load_projection(model / LEGACY_PROJECTION_FILE)  # callers asking for the old name get the safe file
    assert not marker.exists()
    (model / PROJECTION_FILE).unlink()  # an old run folder: only the pickle
    with pytest.raises(SegscopeError, match="pickle") as err:
        load_projection(model / LEGACY_PROJECTION_FILE)
    assert "\n" not in str(err.value) and not marker.exists()
    assert main(["score", "segcore/data/sample_reviews.csv", "--model", str(model), "--max-rows", "40",
                 "--out", str(tmp_path / "scored")]) == 2
    assert "pickle" in capsys.readouterr().err and not marker.exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "shapes", "no_meta"])
def test_damaged_projection_file_is_one_line(tiny_run, tmp_path, damage):
    import numpy as np
    from safetensors.numpy import save_file

    from segcore.analysis.projection import PROJECTION_FILE, load_projection

    model = _model_copy(tiny_run, tmp_path)
    path = model / PROJECTION_FILE
    if damage == "garbage":
        path.write_bytes(b"\x80\x04\x95 not a tensor file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "shapes":
        save_file({"embedding_": np.zeros((5, 2), np.float32), "points": np.zeros((4, 8), np.float32)}, str(path),
                  metadata={"segscope_projection": '{"format": 1, "kind": "umap", "params": {"n_neighbors": 3}}'})
    else:
        save_file({"mean": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(SegscopeError, match="not a valid segscope map projection") as err:
        load_projection(path)
    assert "\n" not in str(err.value)


def test_trusted_legacy_projection_converts_to_the_same_map(tiny_run, tmp_path):
    """An old folder's pickled UMAP, converted on request, places reviews where it did."""
    import joblib
    import numpy as np
    import umap

    from segcore.analysis.projection import (LEGACY_PROJECTION_FILE, convert_legacy_projection,
                                             load_projection, project)

    emb = np.load(tiny_run.parent / "embeddings.npy").astype(np.float32)
    old = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, metric="cosine", random_state=0,
                    n_jobs=1).fit(emb)
    old.transform_mode = "graph"
    expected = umap.umap_.init_graph_transform(old.transform(emb[:40] + 1e-3).tocsr(), old.embedding_)
    model = _model_copy(tiny_run, tmp_path)
    joblib.dump(old, model / LEGACY_PROJECTION_FILE)
    convert_legacy_projection(model)
    assert not (model / LEGACY_PROJECTION_FILE).exists()
    np.testing.assert_allclose(project(load_projection(model), emb[:40] + 1e-3), expected, atol=1e-3)


# --- templates cannot burn the server --------------------------------------------------------

DOS_TEMPLATES = {
    "nested_loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested_list_loops": "{% for i in [1] * 999999 %}{% for j in 'ab' * 400000 %}{% endfor %}{% endfor %}",
    "huge_string": "{{ ('a' * 2000000000) | length }}",
    "huge_range": "{{ range(10**9) | list | length }}",
    "huge_power": "{{ 7 ** 999999999 }}",
    "recursion": "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "exponential_macro": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "self_include": "line one\n{% include 'self_include' %}",
    "doubling": "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "plus_doubling": "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
    "wide_center": "{{ 'x' | center(2000000000) }}",
    "wide_percent": "{{ '%2000000000s' % 1 }}",
    "wide_format": "{{ '{:>2000000000}'.format(1) }}",
    "wide_format_filter": "{{ '%2000000000s' | format(1) }}",
    "big_join": "{{ ([('x' * 1000000)] * 1000) | join }}",
    "big_output": "{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}",
    "list_mutation": "{% set l = [1] %}{{ l.append(2) }}",
    # issue 27: widths and repeats that allocated 0.9-1.8 GB before any size check
    "width_by_key": '{{ ("%(a)900000000s" % {"a": 1}) | length }}',
    "precision_filter": '{{ "%.900000000f" | format(1.0) }}',
    "nested_width": '{{ "{0:{1}}".format(1, "900000000") }}',
    "replace_empty": '{{ ("a" * 1000).replace("", "b" * 900000) }}',
    "replace_filter": '{{ ("a" * 1000) | replace("", "b" * 900000) }}',
    "star_width": '{{ "%*d" % (900000000, 1) }}',
    "nested_key_width": '{{ "%(a(b))900000000s" % {"a(b)": 1} }}',
    "format_map_width": '{{ "{a:>900000000}".format_map({"a": 1}) }}',
    "keyword_width": '{{ "{:>{w}}".format(1, w="900000000") }}',
    "list_of_references": '{% set s = "x" * 900000 %}{{ [s, s, s, s, s] }}',
    "repeated_references": '{{ ["x" * 900000] * 1000 }}',
    "namespace_references": '{% set ns = namespace(s="x" * 900000) %}{{ [ns, ns, ns] }}',
    "joined_map": '{% set s = "x" * 900000 %}{{ [s, s, s] | map("upper") | join }}',
    "join_method": '{% set s = "x" * 900000 %}{{ "".join([s, s, s]) }}',
    "indent_string": '{{ ("\\n" * 100000) | indent("x" * 1000) }}',
    "wordwrap_string": '{{ ("a " * 400000) | wordwrap(1, wrapstring="y" * 1000) }}',
    "expandtabs": '{{ ("\\t" * 100000).expandtabs(1000) }}',
    "translate": '{{ ("a" * 1000).translate({97: "b" * 10000}) }}',
    "block_buffer": '{% set s = "x" * 900000 %}{% set b %}{% for i in range(10) %}{{ s }}{% endfor %}{% endset %}{{ b }}',
    "lipsum": "{{ lipsum(1000000) }}",
    "unknown_filter": "## Hi\n{{ seg.name | nope }}",
    "syntax": "## Hi\n\n{% if %}",
    "typo": "## Hi\n{{ seg.nmae }}",
}


@pytest.mark.parametrize("name", sorted(DOS_TEMPLATES))
def test_bad_templates_refused_fast_in_one_line(name):
    import time

    from segcore.strategy.suggest import render_strategies

    start = time.monotonic()
    with pytest.raises(SegscopeError, match=f"Template '{name}' failed") as err:
        render_strategies({0: _trial_profile()}, templates={name: DOS_TEMPLATES[name]})
    assert time.monotonic() - start < 2.0
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


ISSUE_27_BOMBS = ("width_by_key", "precision_filter", "nested_width", "replace_empty")


def test_template_widths_refused_before_they_allocate():
    """The four templates of issue 27 (0.9-1.8 GB each before): refused in a process that stays
    small (peak resident memory, VmHWM, of a fresh interpreter)."""
    code = ("import json, sys\n"
            "from segcore.errors import SegscopeError\n"
            "from segcore.strategy.suggest import _trial_profiles, render_strategies\n"
            "for name, source in json.loads(sys.argv[1]).items():\n"
            "    try:\n        render_strategies({1: _trial_profiles()[1]}, templates={name: source})\n"
            "        print('RENDERED', name)\n"
            "    except SegscopeError as e:\n        print('REFUSED', e)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "print('PEAK_MB', int(hwm.split()[1]) // 1024)\n")
    bombs = {name: DOS_TEMPLATES[name] for name in ISSUE_27_BOMBS}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(bombs)], cwd=ROOT, timeout=120,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("REFUSED") == len(bombs) and "RENDERED" not in done.stdout, done.stdout
    assert "larger than 1,000" in done.stdout  # refused for the width, not for the string it built
    assert int(done.stdout.split("PEAK_MB")[1]) < 400, done.stdout


def test_error_names_the_template_line():
    from segcore.strategy.suggest import render_strategies

    for name, line in (("typo", 2), ("syntax", 3), ("unknown_filter", 2), ("nested_loops", 1)):
        with pytest.raises(SegscopeError, match=rf"\(line {line}\)"):
            render_strategies({0: _trial_profile()}, templates={name: DOS_TEMPLATES[name]})


def _trial_profile():
    from segcore.strategy.suggest import _trial_profiles

    return _trial_profiles()[1]


def test_validate_templates(tmp_path):
    from segcore.strategy.suggest import DEFAULT_TEMPLATE_DIR, load_templates, validate_templates

    assert validate_templates(None) == load_templates() == validate_templates(DEFAULT_TEMPLATE_DIR)
    for path in DEFAULT_TEMPLATE_DIR.glob("*.md.j2"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert validate_templates(tmp_path).keys() == load_templates().keys()
    (tmp_path / "99_bad.md.j2").write_text(DOS_TEMPLATES["nested_loops"])
    with pytest.raises(SegscopeError, match="Template '99_bad' failed"):
        validate_templates(tmp_path)
    (tmp_path / "99_bad.md.j2").write_bytes(b"\xff\xfe bad bytes")
    with pytest.raises(SegscopeError, match="not UTF-8"):
        validate_templates(tmp_path)
    (tmp_path / "99_bad.md.j2").write_text("x" * 200_000)
    with pytest.raises(SegscopeError, match="at most"):
        validate_templates(tmp_path)


def test_report_never_loads_a_remote_image():
    """A segment name or product written as Markdown image syntax stays text in the HTML report."""
    from segcore.strategy.report import report_html
    from segcore.strategy.report import report_markdown

    profiles = {0: {"segment_id": 0, "name": "![p](http://host/pixel.png) fans", "size": 3, "n_reviews": 3,
                    "share_of_customers": 1.0, "keywords": ["tea"], "label_shares": {"positive": 1.0},
                    "dominant_label": "positive", "behaviour": {}, "top_products": {"![q](http://host/q.png)": 2},
                    "examples": ["Fine."]}}
    page = report_html(report_markdown(profiles, {0: []}))
    assert "<img" not in page and "pixel.png" in page
