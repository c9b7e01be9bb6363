"""Pages reach segcore through segcore.services only, and the defaults they and the commands use are
the config's, written once (issue 29)."""
from __future__ import annotations

import ast
import itertools
import json
import shutil
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from conftest import DATA, ROOT

from segcore.config import RunConfig, ScoreOptions, TrainConfig, field_default, flag_kwargs
from segcore.services import datasets, segments, training
from segcore.services.scoring import SCORING_KEEPS, scoring_config
from segcore.training.estimate import Rates, estimate
from segcore.training.options import OFF, options_on

ALLOWED = ("segcore.services", "segcore.errors")


def _segcore_imports(path) -> list[str]:
    """Every segcore module `path` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "segcore"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "segcore":
            found.append(node.module)
    return found


def test_pages_import_only_services_and_errors():
    pages = sorted((ROOT / "pages").glob("*.py"))
    assert len(pages) >= 9
    wrong = {p.name: m for p in pages for m in _segcore_imports(p)
             if not any(m == a or m.startswith(a + ".") for a in ALLOWED)}
    assert not wrong, wrong
    assert any(_segcore_imports(p) for p in pages)  # the walk does see their imports
    # figures are built in ui/ (charts, segment_charts, compare_charts, map_chart, train_charts), not in pages
    plotting = {p.name for p in pages for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                if isinstance(node, (ast.Import, ast.ImportFrom))
                and any(n.startswith("plotly") for n in [getattr(node, "module", None) or ""] + [a.name for a in node.names])}
    assert not plotting, plotting


def test_segments_k_bound_is_the_options():
    opt = segments.k_option()
    assert (opt.min, opt.max) == (2, 50)  # RunConfig.k: what `segscope run --k` takes
    source = (ROOT / "pages" / "segments.py").read_text(encoding="utf-8")
    assert "k_option()" in source and "number_input(t(\"segments.k\"), 0, int(k_bounds.max), 0)" in source
    from segcore.errors import SegscopeError

    with pytest.raises(SegscopeError, match="k must be at least 2, got 1"):
        segments.resegment("/nonexistent", k=1, templates={})  # refused before anything is read
    with pytest.raises(SegscopeError, match="k must be at most 50, got 51"):
        segments.resegment("/nonexistent", k=51, templates={})


def test_resegment_uses_the_runs_seed(tiny_run, tmp_path):
    """Re-segmenting a run made with seed 7 gives what the analysis gives with seed 7."""
    from segcore.strategy.suggest import load_templates

    templates = load_templates()
    copies = []
    for name in ("service", "direct"):
        run = tmp_path / name
        shutil.copytree(tiny_run.parent, run, ignore=shutil.ignore_patterns("scores"))
        meta_file = run / "model" / "segscope.json"
        meta = json.loads(meta_file.read_text())
        meta["run_config"]["seed"] = 7
        meta_file.write_text(json.dumps(meta))
        copies.append(run)
    assert segments.run_seed(copies[0]) == 7
    via_page = segments.resegment(copies[0], k=None, templates=templates)
    direct = segments.resegment_run(copies[1], k=None, templates=templates, seed=7)  # what the service calls
    assert via_page.segment_model.k == direct.segment_model.k
    np.testing.assert_array_equal(via_page.reviews["segment_id"].to_numpy(), direct.reviews["segment_id"].to_numpy())


def test_estimate_defaults_are_the_train_configs():
    rates = Rates(train=30.0, quick=120.0)
    config = TrainConfig()
    assert field_default(TrainConfig, "min_steps") == config.min_steps
    for rows in (200, 3_000, 40_000):
        given = estimate(rows, rates, min_steps=config.min_steps, max_epochs=config.max_epochs)
        assert estimate(rows, rates) == given
    # the floor is used: a small file trains more epochs than DEFAULT_EPOCHS, fewer with no floor
    assert estimate(200, rates).epochs > estimate(200, rates, min_steps=0).epochs


def test_page_training_options_are_the_configs():
    """The options a comparison run is added for come from training.options.OFF, for every mix of them
    the Train page can submit, by field name (the form) or widget key (the session state)."""
    on = {"mlm_epochs": 2, "lora": True, "adversarial": "fgm", "augment": True}
    assert {name for off in OFF.values() for name in off} == set(on)
    keys = {f.name: training.widget_key(f, opt) for _, f, opt in training.page_options(training.GROUPS[1])
            if f.name in on}
    assert keys["adversarial"] == "fgm"  # the widget key differs from the field name
    for n in range(len(on) + 1):
        for names in itertools.combinations(on, n):
            if {"lora", "adversarial"} <= set(names):
                continue  # refused by TrainConfig
            config = TrainConfig(**{k: on[k] for k in names})
            expected = len(options_on(config))
            assert training.trainings_added(config.as_dict()) == expected
            assert training.trainings_added({keys[k]: on[k] for k in names}) == expected
            assert training.trainings_added({**config.as_dict(), "compare": False}) == 0
    shown = {f.name for g in training.GROUPS for _, f, _ in training.page_options(g)}
    page_fields = {f.name for cls in training.PAGE_CONFIGS.values() for f in fields(cls)
                   if (f.metadata.get("option") and f.metadata["option"].group)}
    assert shown == page_fields  # every field with a page group, none typed by hand


def test_data_page_mapping_rules():
    frame = pd.read_csv(DATA / "womens_clothing_600.csv")
    chosen, failed = datasets.preselected(frame, {"title": "", "text": "Review Text", "rating": "gone"})
    assert failed is None and chosen["title"] is None and chosen["text"] == "Review Text"
    assert chosen["rating"] == "Rating"  # a saved column no longer in the file: detected again
    same = datasets.check_mapping({"text": "Review Text", "title": "Review Text"})
    assert same.title_dropped == "Review Text" and same.columns["title"] is None and same.problem is None
    assert datasets.check_mapping({"text": "Review Text", "rating": "Review Text", "title": None}).problem == "twice"
    assert datasets.check_mapping({"rating": "Rating"}).problem == "no_text"
    assert datasets.stored_columns(same.columns)["title"] == ""
    report = datasets.data_quality(frame, chosen)
    assert report["rows"] == len(frame) and report["kept"] > 0


def test_watch_scores_with_the_runs_config(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run / "model")
    meta_file = run / "model" / "segscope.json"
    meta = json.loads(meta_file.read_text())
    assert scoring_config(run / "model").seed == meta["run_config"]["seed"]
    meta["run_config"].update(seed=7, mask_pii=False, max_rows=10, sheet="Other")
    meta_file.write_text(json.dumps(meta))
    config = scoring_config(run / "model")
    assert (config.seed, config.mask_pii) == (7, False)
    assert config.max_rows is None and config.sheet is None  # the training file's, not a new file's
    assert set(SCORING_KEEPS) <= {f.name for f in fields(RunConfig)}
    assert scoring_config(run / "model", seed=3).seed == 3
    # watch's --chunk-rows is ScoreOptions.chunk_rows's flag; bench's --seed is RunConfig.seed's
    from segcore.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["watch", "in", "--model", "m", "--out", "o", "--chunk-rows", "5"])
    assert args.chunk_rows == 5
    assert "watch" in next(f.metadata["option"] for f in fields(ScoreOptions) if f.name == "chunk_rows").commands
    bench = parser.parse_args(["bench"])
    assert bench.seed == RunConfig().seed == flag_kwargs(RunConfig, "seed")["default"]
    source = (ROOT / "segcore" / "cli.py").read_text(encoding="utf-8")
    assert "config=RunConfig()" not in source


def test_labels_page_explains_through_ui(models_dir, tiny_run):
    """The Labels page's explanation (now through ui.labels.explain_text) on a run made by the CLI."""
    from conftest import app_test

    from segcore.services.runs import write_status

    run = models_dir / "tiny-cli-run"
    shutil.copytree(tiny_run.parent, run, ignore=shutil.ignore_patterns("scores"))
    write_status(run, {"run_id": run.name, "status": "done", "created": "2026-01-01T00:00:00"})
    at = app_test(180).run()
    at.switch_page("pages/labels.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.text_area(key="explain_text").set_value("The coffee was stale and the delivery late.")
    at.button(key="explain_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    explanation = at.session_state["explanation"]
    assert explanation.label in json.loads((tiny_run / "segscope.json").read_text())["labels"]
    assert any(f"({explanation.probability:.0%})" in m.value for m in at.markdown)  # the label line drawn


def test_no_module_over_400_lines():
    """One job per module: none of segcore/, ui/, pages/ over 400 lines (pipeline.py and engines/core.py,
    being reshaped into the fitted-run object, aside)."""
    aside = {ROOT / "segcore" / "pipeline.py", ROOT / "segcore" / "engines" / "core.py"}
    long = {str(p.relative_to(ROOT)): n for folder in ("segcore", "ui", "pages") for p in (ROOT / folder).rglob("*.py")
            if p not in aside and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long


def test_score_job_uses_the_runs_config(tiny_run, tmp_path, small_csv):
    """A scoring started from the Models page keeps the run's seed and PII masking, as watch does."""
    from segcore.services.jobs import JobRegistry
    from segcore.services.runs import RunStore, write_status

    root = tmp_path / "models"
    shutil.copytree(tiny_run.parent, root / "r1", ignore=shutil.ignore_patterns("scores"))
    meta_file = root / "r1" / "model" / "segscope.json"
    meta = json.loads(meta_file.read_text())
    meta["run_config"].update(seed=7, mask_pii=False)
    meta_file.write_text(json.dumps(meta))
    write_status(root / "r1", {"run_id": "r1", "status": "done", "created": "2026-01-01T00:00:00"})
    job = JobRegistry(RunStore(root)).start_score("r1", small_csv)
    assert (job.config.seed, job.config.mask_pii) == (7, False)
    job.thread.join(300)
    assert job.status == "done", job.error
