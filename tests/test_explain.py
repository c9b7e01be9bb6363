"""Explanations (word attributions), label issues and label next, on real reviews."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import run_cli
from segcore.explain import Explainer, deletion_check, explain, merge_to_units, units, without_words


def _tokenizer():
    from segcore.encoders.models import default_model_path, load_tokenizer

    return load_tokenizer(default_model_path())


def test_word_pieces_merge_back_into_words_and_characters():
    text = "Tasteless chips, didn't like them! 味道很好"
    assert [text[s:e] for s, e in units(text)] == ["Tasteless", "chips", ",", "didn't", "like", "them", "!",
                                                  "味", "道", "很", "好"]
    enc = _tokenizer()(text, return_offsets_mapping=True)
    assert len(enc["input_ids"]) > len(units(text)) + 2  # "taste ##less", "didn ' t" are several pieces
    weights = np.arange(len(enc["input_ids"]), dtype=float)
    words = merge_to_units(text, enc["offset_mapping"], weights)
    assert [w.text for w in words] == [text[s:e] for s, e in units(text)]
    # Every word piece's weight lands in exactly one word: nothing lost, nothing counted twice.
    special = sum(w for (s, e), w in zip(enc["offset_mapping"], weights) if e <= s)
    assert sum(w.weight for w in words) == pytest.approx(weights.sum() - special)
    pieces = {tuple(o): w for o, w in zip(enc["offset_mapping"], weights)}
    assert words[0].weight == pytest.approx(pieces[(0, 5)] + pieces[(5, 9)])  # taste + ##less


def test_a_piece_over_several_chinese_characters_shares_its_weight():
    words = merge_to_units("味道好", [(0, 0), (0, 2), (2, 3), (0, 0)], [5.0, 1.0, 0.5, 5.0])
    assert [(w.text, w.weight) for w in words] == [("味", 0.5), ("道", 0.5), ("好", 0.5)]


def test_words_past_max_length_are_marked_not_read():
    words = merge_to_units("good bad ugly", [(0, 0), (0, 4), (0, 0)], [0.0, 0.3, 0.0])
    assert [w.weight for w in words] == [0.3, None, None]
    assert without_words("not good at all", [(4, 8)]) == "not at all"


@pytest.fixture(scope="module")
def explainer(tiny_run):
    return Explainer.load(tiny_run)


def test_explain_attributes_the_predicted_probability_to_words(explainer, sample_frame):
    texts = sample_frame.Text.head(5).tolist()
    out = explain(explainer, texts, n_steps=48)
    probs = explainer.probabilities(texts)
    assert [e.label for e in out] == [explainer.labels[i] for i in probs.argmax(1)]
    scorer = explainer.scorer()
    tok = explainer.tokenizer
    for e, text, p in zip(out, texts, probs):
        assert e.probability == pytest.approx(float(p.max()), abs=1e-5)
        assert all(w.text == text[w.start:w.end] for w in e.words)
        # Completeness: the word weights add up to p(label | review) - p(label | all-padding baseline).
        enc = tok(text, truncation=True, max_length=explainer.max_length, return_tensors="pt")
        ids = enc["input_ids"]
        specials = torch.tensor([[i in tok.all_special_ids for i in ids[0].tolist()]])
        base = torch.where(specials, ids, torch.full_like(ids, tok.pad_token_id))
        with torch.no_grad():
            p_base = scorer(base, enc["attention_mask"])[0, explainer.labels.index(e.label)].item()
        total = sum(w.weight for w in e.words if w.weight is not None)
        assert total == pytest.approx(e.probability - p_base, abs=max(0.02, 2 * abs(e.delta)))
        read = [w.weight is not None for w in e.words]
        assert read == sorted(read, reverse=True) and e.truncated == (not all(read))  # only a tail is unread
    assert any(e.truncated for e in out) and not all(e.truncated for e in out)  # max_length 64: some are long


def test_explain_a_given_target_and_refuse_an_unknown_one(explainer):
    from segcore.errors import SegscopeError

    e = explain(explainer, "Arrived stale and the box was crushed.", target=explainer.labels[0])[0]
    assert e.label == explainer.labels[0]
    with pytest.raises(SegscopeError, match="target must be one of"):
        explain(explainer, "fine", target="excellent")


def test_deletion_check_reports_top_vs_random(explainer, sample_frame):
    texts = sample_frame.Text.iloc[10:22].tolist()
    result = deletion_check(explainer, explain(explainer, texts, n_steps=16), k=2)
    assert 0 < result["n_reviews"] <= len(texts)
    assert -1 <= result["mean_drop_random"] <= 1 and -1 <= result["mean_drop_top"] <= 1


def test_cli_explain_prints_label_and_weighted_words(tiny_run, tmp_path, sample_frame):
    r = run_cli("explain", "--model", tiny_run, "--text", "The chips were stale and tasted like cardboard.",
                "--top", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    label = lines[-4].split("] ")[1].split(" (")[0]
    assert label in Explainer.load(tiny_run).labels
    assert len(lines) >= 4 and all(line.strip()[0] in "+-" for line in lines[-3:])
    path = tmp_path / "few.csv"
    sample_frame.head(4).to_csv(path, index=False)
    r = run_cli("explain", str(path), "--model", tiny_run, "--limit", "2", "--json", "--steps", "8")
    assert r.returncode == 0, r.stderr
    import json

    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [row["review"] for row in rows] == [0, 1] and all(row["words"] for row in rows)
    r = run_cli("explain", "--model", tiny_run)
    assert r.returncode == 2 and r.stderr.startswith("segscope: error: give either --text")
