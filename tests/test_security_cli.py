"""The command line on hostile input (issue 27): `watch` stays inside its folder and goes on past a
bad file, `explain` shows review text as text and bounds its work, a broken model folder is one
clear line. In-process `segcore.cli.main` on the tiny-model run and real reviews."""
from __future__ import annotations

import json
import os
import shutil
import zipfile

import pandas as pd
import pytest
import torch
from conftest import DATA

from segcore.cli import main


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("segscope: error:")]


def test_watch_stays_inside_its_folder_and_goes_on_past_bad_files(tmp_path, tiny_run, capsys):
    """Issue 27: a symlink's target landed in reviews_scored.csv; a vanished or half-written file
    aborted the whole pass; a name with a new line split the log and the folder names."""
    reviews = pd.read_csv(DATA / "womens_clothing_600.csv")
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    outside = tmp_path / "private.csv"  # not in the watched folder: must never be read
    reviews.iloc[100:130].assign(**{"Review Text": "PRIVATE " + reviews["Review Text"].iloc[100:130]}).to_csv(
        outside, index=False)
    (inbox / "link.csv").symlink_to(outside)
    (inbox / "dangling.csv").symlink_to(tmp_path / "gone.csv")  # vanished
    reviews.iloc[:40].to_csv(inbox / "a_good.csv", index=False)
    reviews.iloc[40:80].to_csv(inbox / "odd\nname.csv", index=False)
    half = inbox / "b_half.xlsx"  # a workbook still being copied: cut short
    reviews.iloc[:40].to_excel(tmp_path / "whole.xlsx", index=False)
    half.write_bytes((tmp_path / "whole.xlsx").read_bytes()[:2000])
    os.mkfifo(inbox / "c_pipe.csv")  # reading it would block the pass for ever
    reviews.iloc[80:120].to_csv(inbox / "d_good.csv", index=False)

    assert main(["watch", str(inbox), "--model", str(tiny_run), "--out", str(out)]) == 0
    printed = _lines(capsys.readouterr().out)
    skipped = sorted(line for line in printed if line.startswith("skipped "))
    assert [line.split(":")[0] for line in skipped] == sorted([
        "skipped b_half.xlsx", "skipped c_pipe.csv", "skipped dangling.csv", "skipped link.csv",
        "skipped 'odd\\nname.csv'"]), skipped
    assert sum(line.startswith("scored ") for line in printed) == 2
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["file"] for h in history] == ["a_good.csv", "d_good.csv"]
    for folder in (out / "scores").iterdir():
        assert "\n" not in folder.name
        assert "PRIVATE" not in (folder / "reviews_scored.csv").read_text()
    # the next pass: nothing new is scored again, the bad files are reported again (they may be fixed)
    assert main(["watch", str(inbox), "--model", str(tiny_run), "--out", str(out)]) == 0
    again = _lines(capsys.readouterr().out)
    assert sum(line.startswith("skipped ") for line in again) == 5 and not any(l.startswith("scored ") for l in again)


def test_explain_shows_escape_sequences_as_text_and_bounds_steps(tiny_run, capsys):
    """Issue 27: ANSI escapes in a review could hide the real output line; --steps 20000 ran out of memory."""
    review = "Great coffee\x1b[2K\x1b[1A\r[0] positive (0.99)  all fine \u202eevil"
    assert main(["explain", "--model", str(tiny_run), "--text", review]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "Great coffee\\x1b[2K\\x1b[1A\\x0d[0] positive" in out
    assert main(["explain", "--model", str(tiny_run), "--text", review, "--json"]) == 0
    line = capsys.readouterr().out.strip()
    assert "\x1b" not in line and "\u202e" not in line and json.loads(line)["text"] == review
    assert main(["explain", "--model", str(tiny_run), "--text", "fine", "--steps", "20000"]) == 2
    (error,) = _errors(capsys.readouterr().err)
    assert "--steps between 2 and 256, got 20000" in error


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _break(model, kind: str, marker) -> None:
    config = json.loads((model / "config.json").read_text())
    if kind == "config_list":
        (model / "config.json").write_text("[1, 2]")
    elif kind == "tokenizer_empty":
        (model / "tokenizer.json").write_text("{}")
    elif kind == "head_list":
        (model / "head.json").write_text("[]")
    elif kind == "vocab_size":
        (model / "config.json").write_text(json.dumps({**config, "vocab_size": config["vocab_size"] + 1000}))
    elif kind == "pickled_weights":
        (model / "model.safetensors").unlink()
        torch.save({"weight": _Payload(marker)}, model / "pytorch_model.bin")
    elif kind == "layers":
        (model / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 100_000}))


BROKEN = {"config_list": "config.json is not a model configuration",
          "tokenizer_empty": "tokenizer.json cannot be read",
          "head_list": "head.json is damaged (not a JSON object)",
          "vocab_size": "says vocab_size = 31,522 but the weights have 30,522",
          "pickled_weights": "pytorch_model.bin is a pickle, which can run code when it is loaded",
          "layers": "sets num_hidden_layers = 100000 (at most 96)"}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_model_folders_give_one_clear_line(tmp_path, tiny_run, kind, capsys):
    """Issue 27: each ended in `unexpected ...` (num_hidden_layers = 100000: 140 s, then MemoryError)."""
    model = tmp_path / "model"
    shutil.copytree(tiny_run, model)
    marker = tmp_path / "unpickled"
    _break(model, kind, marker)
    few = tmp_path / "few.csv"
    pd.read_csv(DATA / "womens_clothing_600.csv").head(20).to_csv(few, index=False)
    for command in (["score", str(few), "--model", str(model), "--out", str(tmp_path / "out")],
                    ["explain", "--model", str(model), "--text", "fine"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        (error,) = _errors(err)
        assert BROKEN[kind] in error and "unexpected" not in error and "Traceback" not in err, error
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_xlsx_and_json_still_read_after_the_checks(tmp_path):
    """The shared-string and JSON checks leave ordinary files alone: a workbook whose text cells are
    all shared strings (as Excel writes it) and JSON lines with ':' and braces in their text."""
    from bad_xlsx import shared_strings_table

    from segcore.ingest.load import read_table

    reviews = pd.read_csv(DATA / "womens_clothing_600.csv")[["Review Text", "Rating", "Division Name"]].dropna()
    book = shared_strings_table(tmp_path / "r.xlsx", reviews)
    with zipfile.ZipFile(book) as z:
        assert z.read("xl/sharedStrings.xml").count(b"<si>") == reviews.size - len(reviews) + 3
    read = read_table(book)
    words = [" ".join(t.split()) for t in reviews["Review Text"]]  # XML keeps the words, not every line end
    assert read.shape == reviews.shape and [" ".join(t.split()) for t in read["Review Text"]] == words
    lines = tmp_path / "r.jsonl"
    reviews.assign(**{"Review Text": reviews["Review Text"] + " {note: a:b}"}).to_json(
        lines, orient="records", lines=True, force_ascii=False)
    assert read_table(lines).shape == reviews.shape
