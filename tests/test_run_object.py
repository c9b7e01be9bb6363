"""One fitted-run object (segcore.run.SegscopeRun): fit -> save -> load -> score, a head+tail run
scoring its own training file to the segments training gave, the run format's versions read
back (current loads, older brought up to date, too old and newer refused in one line) and
re-segmenting with the run's own seed."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import build_once, run_main
import segcore
from segcore import SegscopeRun
from segcore.services.edit import resegment_run
from segcore.config import DEFAULT_SEED, RunConfig, TrainConfig
from segcore.engines.core import load_run, score_texts
from segcore.errors import SegscopeError
from segcore.explain.attribution import Explainer
from segcore.io.artifacts import FORMAT_VERSION, HEAD_FILE, META_FILE, load_meta
from segcore.services.runs import RunStore, write_status
from segcore.strategy.suggest import load_templates

MAX_LENGTH = 32
SEED = 7


def _config(tiny_model: Path) -> RunConfig:
    return RunConfig(k=3, seed=SEED, train=TrainConfig(model=str(tiny_model), epochs=1, max_length=MAX_LENGTH,
                                                       truncation="head_tail"))


@pytest.fixture(scope="module")
def head_tail_run(tmp_path_factory, small_csv, tiny_model) -> Path:
    """A run folder fitted by SegscopeRun.fit with head+tail truncation at 32 tokens and seed 7,
    then saved to a second folder (the one returned)."""
    def build(folder: Path) -> None:
        run = SegscopeRun.fit(small_csv, _config(tiny_model), out_dir=folder.with_name(folder.name + "-fitted"))
        assert run.result is not None and run.seed == SEED
        run.save(folder)
        assert run.folder == folder and (folder / "model" / META_FILE).is_file()

    return build_once(tmp_path_factory, "head-tail-run", build)


def test_fit_save_load_score_round_trip(head_tail_run, small_csv, tmp_path):
    run = SegscopeRun.load(head_tail_run)
    assert run.meta["segscope_version"] == FORMAT_VERSION and run.meta["made_by"].startswith("segscope ")
    assert (run.parts.max_length, run.parts.truncation, run.seed) == (MAX_LENGTH, "head_tail", SEED)
    # the model/ folder alone loads too, and saves as <target>/model
    alone = SegscopeRun.load(head_tail_run / "model")
    copied = alone.save(tmp_path / "copy")
    assert (copied / "model" / META_FILE).is_file() and SegscopeRun.load(copied).seed == SEED
    with pytest.raises(SegscopeError, match="exists"):
        run.save(copied)

    frame = pd.read_csv(small_csv)
    from_frame = run.score(frame, tmp_path / "frame")
    scored = pd.read_csv(from_frame.out_dir / "reviews_scored.csv")
    trained = pd.read_csv(head_tail_run / "reviews_scored.csv")
    assert len(scored) == len(trained) == from_frame.metrics["n_reviews"]
    assert scored["row_id"].tolist() == trained["row_id"].tolist()
    assert scored["pred_label"].tolist() == trained["pred_label"].tolist()


def test_head_tail_run_scores_its_training_file_to_the_same_segments(head_tail_run, small_csv, tmp_path):
    run = SegscopeRun.load(head_tail_run)
    result = run.score(small_csv, tmp_path / "scored")
    scored = pd.read_csv(result.out_dir / "reviews_scored.csv")
    trained = pd.read_csv(head_tail_run / "reviews_scored.csv")
    assert scored["row_id"].tolist() == trained["row_id"].tolist()
    assert scored["segment_id"].tolist() == trained["segment_id"].tolist()
    assert scored["pred_label"].tolist() == trained["pred_label"].tolist()
    np.testing.assert_allclose(scored.filter(like="p_").to_numpy(), trained.filter(like="p_").to_numpy(), atol=1e-3)

    # The file's reviews are longer than the budget, so how they are cut matters: cutting them at
    # the head (what scoring's base-encoder pass once did) gives other segment features.
    texts = trained["Text"].astype(str).tolist()[:40]
    parts = load_run(head_tail_run / "model")
    assert max(len(parts.tokenizer(t)["input_ids"]) for t in texts) > 2 * MAX_LENGTH
    kept = score_texts(parts, texts, config=run.config).base
    parts.truncation = "head"
    cut = score_texts(parts, texts, config=run.config).base
    assert not np.allclose(kept, cut, atol=1e-4)


def _copy_model(head_tail_run: Path, tmp_path: Path, change) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(head_tail_run, folder)
    meta_file = folder / "model" / META_FILE
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    change(meta, folder / "model")
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    return folder


def test_run_without_a_version_is_brought_up_to_date(head_tail_run, tmp_path):
    def before_versions(meta: dict, model: Path) -> None:  # what runs saved before the field lack
        for key in ("segscope_version", "made_by", "map_encoder", "segment_encoder", "output_language", "head"):
            meta.pop(key, None)
        meta["train_config"].pop("truncation")
        meta["run_config"].pop("seed")
        meta["metrics"]["selected"] = "fine_tuned"
        (model / HEAD_FILE).unlink()  # before the safety net: the fine-tuned model scores

    folder = _copy_model(head_tail_run, tmp_path, before_versions)
    meta = load_meta(folder / "model")
    assert meta["segscope_version"] == FORMAT_VERSION
    assert meta["train_config"]["truncation"] == "head" and meta["map_encoder"] == "saved"
    assert meta["segment_encoder"]["saved"] is True and meta["head"] is None
    assert meta["run_config"]["seed"] == 42 and meta["output_language"] == meta["language"]
    run = SegscopeRun.load(folder)
    assert run.parts.head.selected == "fine_tuned" and run.parts.base_path is None
    assert run.parts.truncation == "head"


def test_too_old_and_newer_runs_are_refused_in_one_line(head_tail_run, small_csv, tmp_path, models_dir):
    def too_old(meta: dict, model: Path) -> None:
        meta.pop("segscope_version")
        meta.pop("train_config")

    old = _copy_model(head_tail_run, tmp_path / "old", too_old)
    with pytest.raises(SegscopeError, match="older segscope without train_config; re-run training") as err:
        SegscopeRun.load(old)
    assert "\n" not in str(err.value)

    def newer(meta: dict, model: Path) -> None:
        meta["segscope_version"] = FORMAT_VERSION + 1
        meta["made_by"] = "segscope 9.9.0"

    new = _copy_model(head_tail_run, tmp_path / "new", newer)
    with pytest.raises(SegscopeError, match=r"made by segscope 9\.9\.0 .*upgrade segscope") as err:
        SegscopeRun.load(new)
    assert "\n" not in str(err.value)
    proc = run_main("score", small_csv, "--model", new / "model",
                    "--out", tmp_path / "out")
    assert proc.returncode == 2 and "segscope 9.9.0" in proc.stderr and "Traceback" not in proc.stderr
    with pytest.raises(SegscopeError, match="upgrade segscope"):
        resegment_run(new, k=2, templates=load_templates())
    with pytest.raises(SegscopeError, match="upgrade segscope"):
        Explainer.load(new / "model")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(small_csv, inbox)
    proc = run_main("watch", inbox, "--model", new / "model", "--out", tmp_path / "watched")
    assert proc.returncode == 2 and "upgrade segscope" in proc.stderr and "Traceback" not in proc.stderr

    # the app's run listing: the newer run is shown with the reason and cannot be used
    store = RunStore(models_dir)
    shutil.copytree(new, models_dir / "newer-run")
    write_status(models_dir / "newer-run", {"status": "done", "created": "2026-01-01T00:00:00"})
    info = store.info("newer-run")
    assert not info.usable and "upgrade segscope" in info.error


def test_resegmenting_keeps_the_runs_seed(head_tail_run, tmp_path):
    templates = load_templates()
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    shutil.copytree(head_tail_run, kept)
    shutil.copytree(head_tail_run, fresh)
    by_run = resegment_run(kept, k=4, templates=templates)  # as the Segments page calls it: no seed
    by_seed = resegment_run(fresh, k=4, templates=templates, seed=SEED)
    assert by_run.customers["segment_id"].tolist() == by_seed.customers["segment_id"].tolist()
    assert pd.read_csv(kept / "segments.csv")["segment_id"].tolist() == by_seed.customers["segment_id"].tolist()
    assert load_meta(kept / "model")["run_config"]["seed"] == SEED
    assert json.loads((kept / "metrics.json").read_text())["k"] == 4
    # and the seed matters here: the default seed (what re-segmenting used to take) splits otherwise
    other = tmp_path / "other"
    shutil.copytree(head_tail_run, other)
    by_default = resegment_run(other, k=4, templates=templates, seed=DEFAULT_SEED)
    assert by_default.customers["segment_id"].tolist() != by_seed.customers["segment_id"].tolist()


def test_explanations_read_reviews_as_the_run_cut_them(head_tail_run):
    """The explainer cuts a long review head + tail as the run does: its start and end are read
    and weighted, its middle is marked unread."""
    from segcore.explain.attribution import explain

    explainer = Explainer.load(head_tail_run / "model", which="fine_tuned")
    assert (explainer.truncation, explainer.max_length) == ("head_tail", MAX_LENGTH)
    texts = pd.read_csv(head_tail_run / "reviews_scored.csv")["Text"].astype(str)
    text = max(texts, key=len)
    [found] = explain(explainer, [text], n_steps=4)
    read = [w.weight is not None for w in found.words]
    assert read[0] and read[-1] and not all(read) and found.truncated
    np.testing.assert_allclose(explainer.probabilities([text])[0], [found.probabilities[lab] for lab in
                                                                     explainer.labels], atol=1e-5)


def test_default_seeds_come_from_the_config():
    """No function picks its own default seed: they all name config.DEFAULT_SEED (RunConfig.seed's)."""
    root = Path(segcore.__file__).parent
    literal = re.compile(r"\bseed(: int)? ?= ?42\b")
    found = [f"{path.relative_to(root)}:{i}" for path in sorted(root.rglob("*.py"))
             for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if literal.search(line)]
    assert found == []
    assert RunConfig().seed == DEFAULT_SEED
