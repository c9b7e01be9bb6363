"""Training options (MLM, LoRA, FGM, augmentation) on the tiny random-weight model: real Trainer,
real peft, real tokenizer; every check is on what the code really did."""
import json

import numpy as np
import pytest
import torch
from conftest import run_main
from transformers import TrainerCallback

from segcore.config import TrainConfig
from segcore.encoders.models import load_classifier, load_tokenizer
from segcore.encoders.predict import predict, tokenize
from segcore.errors import SegscopeError
from segcore.training.adversarial import FGM, word_embeddings
from segcore.training.augment import augment_text, augment_train
from segcore.training.mlm import domain_adapt
from segcore.training.train import fine_tune

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def data(sample_frame):
    frame = sample_frame.head(120)
    y = np.where(frame["Score"] >= 4, "positive", np.where(frame["Score"] <= 2, "negative", "neutral")).tolist()
    texts = frame["Text"].tolist()
    return texts[:90], y[:90], texts[90:], y[90:]


def _cfg(tiny_model, **kw):
    return TrainConfig(model=str(tiny_model), epochs=1, max_length=48, progress_bar=False, **kw)


def test_fgm_perturbs_along_the_gradient_and_restores(tiny_model, data):
    model = load_classifier(str(tiny_model), LABELS)
    tok = load_tokenizer(str(tiny_model))
    batch = tok(data[0][:8], truncation=True, max_length=48, padding=True, return_tensors="pt")
    target = torch.tensor([LABELS.index(v) for v in data[1][:8]])
    model.train()
    torch.manual_seed(0)
    clean = model(**batch, labels=target).loss
    clean.backward()
    emb = word_embeddings(model)
    before = emb.detach().clone()
    fgm = FGM(emb, epsilon=1.0)
    assert fgm.attack()
    delta = emb.detach() - before
    assert torch.isclose(torch.linalg.vector_norm(delta), torch.tensor(1.0), atol=1e-4)  # epsilon * g / ||g||
    assert torch.allclose(delta, emb.grad / torch.linalg.vector_norm(emb.grad), atol=1e-6)
    torch.manual_seed(0)  # same dropout masks: only the embeddings differ
    adversarial = model(**batch, labels=target).loss
    assert adversarial.item() > clean.item()  # a step up the gradient raises the loss
    fgm.restore()
    assert torch.equal(emb.detach(), before)  # embeddings exactly as they were


def test_fgm_trainer_perturbs_every_step(tiny_model, data):
    tuned = fine_tune(*data, labels=LABELS, config=_cfg(tiny_model, adversarial="fgm", fgm_epsilon=0.5))
    fgm = tuned.options["fgm"]
    steps = int(np.ceil(len(data[0]) / 16))
    assert fgm["epsilon"] == 0.5 and fgm["perturbed_steps"] == steps and fgm["mean_adversarial_loss"] > 0


def test_augment_is_seeded_and_only_on_training_texts(tiny_model, data):
    import random

    text = "the coffee arrived quickly and tasted fresh and strong"
    a = augment_text(text, random.Random(3))
    assert a == augment_text(text, random.Random(3)) and a != text  # seeded, and it changes the text
    assert set(a.split()) <= set(text.split())  # words deleted / swapped, never invented
    texts, labels, report = augment_train(data[0], data[1], seed=1)
    assert texts[:90] == data[0] and labels == data[1] * 2 and report["n_train_augmented"] == 180
    assert augment_train(data[0], data[1], seed=1)[0] == texts  # seeded
    assert augment_train(data[0], data[1], seed=2)[0][90:] != texts[90:]

    seen = {}

    class Capture(TrainerCallback):
        def on_train_begin(self, args, state, control, train_dataloader=None, **kw):
            seen["train"] = list(train_dataloader.dataset.ids)

        def on_evaluate(self, args, state, control, eval_dataloader=None, **kw):
            seen["val"] = list(eval_dataloader.dataset.ids)

    tok = load_tokenizer(str(tiny_model))
    tuned = fine_tune(*data, labels=LABELS, config=_cfg(tiny_model, augment=True), callbacks=[Capture()])
    assert tuned.options["augment"]["n_train_augmented"] == 180
    assert seen["val"] == tokenize(tok, data[2], max_length=48)  # validation untouched
    assert len(seen["train"]) == 180 and seen["train"][:90] == tokenize(tok, data[0], max_length=48)


def test_lora_trains_adapters_and_merges_them(tiny_model, data, tmp_path):
    base = load_classifier(str(tiny_model), LABELS)
    tuned = fine_tune(*data, labels=LABELS, config=_cfg(tiny_model, lora=True, lora_lr=5e-3))
    info = tuned.options["lora"]
    assert 0 < info["trainable_params"] < info["total_params"] / 10
    assert info["trainable_params_full_fine_tune"] > 10 * info["trainable_params"]
    model = tuned.model
    assert type(model).__name__ == "BertForSequenceClassification"  # merged: plain transformers
    layer, base_layer = model.bert.encoder.layer[0].attention.self, base.bert.encoder.layer[0].attention.self
    assert not torch.allclose(layer.query.weight, base_layer.query.weight)  # adapters merged in
    assert torch.equal(layer.key.weight, base_layer.key.weight)  # not targeted, frozen
    assert torch.equal(model.bert.embeddings.word_embeddings.weight, base.bert.embeddings.word_embeddings.weight)
    model.save_pretrained(tmp_path)
    tuned.tokenizer.save_pretrained(tmp_path)
    again = load_classifier(str(tmp_path))
    p1, _ = predict(model, tuned.tokenizer, data[2], batch_size=16, max_length=48)
    p2, _ = predict(again, load_tokenizer(str(tmp_path)), data[2], batch_size=16, max_length=48)
    np.testing.assert_allclose(p1, p2, atol=1e-5)


def test_mlm_initialises_the_head_learns_and_feeds_fine_tuning(tiny_model, data, tmp_path):
    texts = data[0] + data[2]
    adapted = domain_adapt(texts, model=str(tiny_model), epochs=2, out_dir=tmp_path / "mlm", lr=2e-3, max_length=48)
    r = adapted.report
    assert r["head_initialised"] is True and "no trained MLM head" in r["note"]
    assert r["n_texts_held_out"] == 12 and r["n_texts_trained"] == len(set(texts)) - 12
    assert r["loss_after"] < r["loss_before"] and r["perplexity_after"] < r["perplexity_before"]
    assert np.isclose(r["perplexity_before"], np.exp(r["loss_before"]), rtol=1e-3)
    start = load_classifier(str(adapted.path), LABELS)  # what fine-tuning starts from
    original = load_classifier(str(tiny_model), LABELS)
    assert not torch.allclose(start.bert.encoder.layer[0].attention.self.query.weight,
                              original.bert.encoder.layer[0].attention.self.query.weight)
    # Saved as the original encoder: no MLM head, and the pooler (unused by MLM) kept as it was.
    assert torch.equal(start.bert.pooler.dense.weight, original.bert.pooler.dense.weight)
    assert not any(k.startswith("cls.") for k in load_classifier(str(adapted.path)).state_dict())


def test_fgm_and_lora_together_are_refused(tmp_path, small_csv):
    with pytest.raises(SegscopeError, match="not both"):
        TrainConfig(lora=True, adversarial="fgm")
    proc = run_main("run", small_csv, "--out", tmp_path / "o", "--lora", "--adversarial", "fgm")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("segscope: error: FGM")


def test_cli_options_report_effects_and_saved_run_scores(tmp_path, small_csv, tiny_model):
    """One run with MLM, LoRA and augmentation: each is compared with a run without it; the saved
    (merged) model scores a file."""
    out = tmp_path / "run"
    proc = run_main("run", small_csv, "--out", out, "--model", tiny_model, "--epochs", "1", "--k", "3",
                    "--max-length", "48", "--max-rows", "250", "--mlm-epochs", "1", "--lora", "--augment")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "initialised a new one" in proc.stderr and "training once more without it" in proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    options = metrics["options"]
    assert set(options) == {"mlm", "lora", "augment"}
    for entry in options.values():
        assert entry["macro_f1_with"] == round(metrics["fine_tuned_test"]["macro_f1"], 4)  # options act on it
        assert 0 <= entry["macro_f1_without"] <= 1
        assert np.isclose(entry["macro_f1_change"], entry["macro_f1_with"] - entry["macro_f1_without"], atol=1e-4)
    mlm = options["mlm"]
    assert mlm["head_initialised"] and mlm["loss_before"] > 0 and mlm["perplexity_after"] > 1
    assert options["lora"]["trainable_params"] < options["lora"]["total_params"]
    assert options["augment"]["n_train_augmented"] == 2 * metrics["n_train"]
    assert set(metrics["stage_seconds"]) >= {"mlm", "train", "compare"}
    meta = json.loads((out / "model" / "segscope.json").read_text())
    assert meta["train_config"]["lora"] and meta["train_config"]["mlm_epochs"] == 1
    assert meta["train_config"]["model"] == str(tiny_model)  # not the temporary MLM folder

    proc = run_main("score", small_csv, "--model", out / "model", "--out", tmp_path / "scored")
    assert proc.returncode == 0, proc.stderr[-3000:]
    import pandas as pd

    scored = pd.read_csv(out / "reviews_scored.csv")
    rescored = pd.read_csv(tmp_path / "scored" / "reviews_scored.csv").set_index("row_id")
    # row_id is the file's row in both (the run sampled 250 of them); a row the whole file drops as a
    # duplicate of an earlier, unsampled one is left out.
    scored = scored[scored["row_id"].isin(rescored.index)]
    assert len(scored) >= 240
    np.testing.assert_allclose(rescored.loc[scored["row_id"], "p_positive"], scored["p_positive"], atol=1e-3)
