"""The fine-tuning recipe's encoder-, device- and size-dependent choices, and head + tail truncation."""
from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoConfig

from segcore.encoders.models import default_model_path, load_tokenizer
from segcore.encoders.predict import tokenize
from segcore.config import device_batches
from segcore.training.recipe import LR_DEEP_ENCODER, LR_SMALL_ENCODER, encoder_lr, epochs_for


def test_learning_rate_by_encoder(tmp_path):
    minilm = AutoConfig.from_pretrained(default_model_path())
    assert encoder_lr(minilm) == LR_SMALL_ENCODER
    # multilingual-e5-small's architecture (XLM-R, 12 layers): the deeper encoders' rate
    e5 = AutoConfig.for_model("xlm-roberta", num_hidden_layers=12, hidden_size=384, num_attention_heads=12,
                              intermediate_size=1536)
    assert encoder_lr(e5) == LR_DEEP_ENCODER < LR_SMALL_ENCODER
    bert_base = AutoConfig.for_model("bert")  # 12 layers
    assert encoder_lr(bert_base) == LR_DEEP_ENCODER


def test_device_batches_and_step_floor():
    assert device_batches("cpu") == (16, 64, 64)
    train, val, score = device_batches("cuda")
    assert train > 16 and val >= 64 and score >= 64
    # 342 training reviews at batch 16: 22 steps an epoch; a 300-step floor trains 14 epochs
    assert epochs_for(n_train=342, batch_size=16, epochs=4, min_steps=300, max_epochs=20) == 14
    assert epochs_for(n_train=342, batch_size=16, epochs=4, min_steps=300, max_epochs=10) == 10  # capped
    assert epochs_for(n_train=14_000, batch_size=16, epochs=4, min_steps=300, max_epochs=20) == 4  # big: as asked
    assert epochs_for(n_train=342, batch_size=16, epochs=4, min_steps=0, max_epochs=20) == 4


def test_head_tail_keeps_start_and_end(sample_frame):
    tok = load_tokenizer(default_model_path())
    texts = sorted(sample_frame["Text"].astype(str).tolist(), key=len)[-20:]  # the longest real reviews
    full = tok(texts, truncation=False)["input_ids"]
    assert min(len(x) for x in full) > 64
    head = tokenize(tok, texts, max_length=64)
    both = tokenize(tok, texts, max_length=64, truncation="head_tail")
    for f, h, b in zip(full, head, both):
        assert len(h) == len(b) == 64
        assert h[:63] == f[:63] and h[-1] == tok.sep_token_id  # the start, closed by [SEP]
        assert b[:16] == f[:16] and b[16:] == f[-48:]  # a quarter from the start, the rest from the end
        assert b[0] == tok.cls_token_id and b[-1] == tok.sep_token_id
    short = ["Great tea.", "Too sweet for me"]
    assert tokenize(tok, short, max_length=64, truncation="head_tail") == tokenize(tok, short, max_length=64)
    assert np.mean([len(x) for x in full]) > 64


def test_recipes_benchmark_on_real_reviews(tmp_path, sample_frame, tiny_model):
    """The recipes benchmark end to end on real reviews laid out like ../shared/data (two seeds, a
    recipe and an option), with the simple models on the same splits and what a run would select."""
    import json

    from segcore.bench.recipes import main
    from segcore.training.candidates import PREFERENCE

    data = tmp_path / "data" / "en"
    data.mkdir(parents=True)
    sample_frame.iloc[:160].to_csv(data / "amazon_fine_food_1k.csv", index=False)
    sample_frame.iloc[160:320].to_csv(data / "amazon_fine_food_1k_b.csv", index=False)
    out = tmp_path / "recipes.json"
    assert main(["--sets", "amazon_en_2k", "--recipes", "seed", "--options", "augment", "--seeds", "2", "--limit", "120",
                 "--data", str(tmp_path / "data"), "--model-en", str(tiny_model), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert not [r for r in rows if "error" in r]
    for seed in (42, 43):
        got = {r["model"]: r for r in rows if r["seed"] == seed}
        assert set(got) == {"tfidf", "frozen", "seed", "seed selected", "+augment", "+augment selected"}
        assert all(0 <= r["test"] <= 1 and 0 <= r["val"] <= 1 for r in got.values())
        for recipe in ("seed", "+augment"):
            chosen = got[f"{recipe} selected"]
            # the selected row carries the chosen candidate's own figures (same split, same rounding)
            own = got[recipe] if chosen["selected"] == "fine_tuned" else got.get(chosen["selected"])
            if own is not None:
                assert chosen["test"] == pytest.approx(own["test"], abs=1e-4)
                assert chosen["val"] == pytest.approx(own["val"], abs=1e-4)
            else:
                assert chosen["selected"] == "average" and chosen["test"] == chosen["average"]["test"]
            # the best on validation is among the candidates tied within noise, and the choice is the
            # preferred one of those (a fine-tuned model at chance is out of the running, alone or averaged)
            vals = {"tfidf": got["tfidf"]["val"], "frozen": got["frozen"]["val"]}
            if not chosen["at_chance"]:
                vals.update(fine_tuned=got[recipe]["val"], average=chosen["average"]["val"])
            assert max(vals, key=vals.get) in chosen["within_noise"] or \
                chosen["val"] >= max(vals.values()) - 1e-4
            assert chosen["selected"] == min(chosen["within_noise"], key=PREFERENCE.index)
        assert got["seed"]["recipe"]["lr"] == 8e-5 and got["seed"]["recipe"]["epochs"] == 4
        # the option runs on the shipped default: ~70 training reviews, so the 300-step floor asks for 20 epochs
        assert got["+augment"]["recipe"]["epochs"] == 20 and got["+augment"]["recipe"]["batch_size"] == 16
    cells = result["table"]["seed"]["amazon_en_2k"]
    assert "±" in cells  # two seeds: mean ± spread
    assert "±" in result["table"]["seed selected"]["amazon_en_2k"]


def test_early_stopping_waits_for_the_step_floor(tmp_path):
    """Patience never ends training before the step floor; after it, it does; a user's Stop stays."""
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from segcore.training.callbacks import StepFloorEarlyStopping

    args = TrainingArguments(output_dir=str(tmp_path), eval_strategy="epoch", save_strategy="epoch",
                             load_best_model_at_end=True, metric_for_best_model="macro_f1", use_cpu=True,
                             report_to="none")
    state = TrainerState()
    state.best_metric = 0.6  # the Trainer's best checkpoint so far
    stopper, control = StepFloorEarlyStopping(1, min_steps=100), TrainerControl()
    state.global_step = 36
    stopper.on_evaluate(args, state, control, metrics={"eval_macro_f1": 0.3})
    assert not control.should_training_stop  # below the floor: no stop however flat
    state.global_step = 108
    stopper.on_evaluate(args, state, control, metrics={"eval_macro_f1": 0.3})
    assert control.should_training_stop  # past it and still no better: stop
    control, state.global_step = TrainerControl(should_training_stop=True), 12  # the Stop button
    stopper.on_evaluate(args, state, control, metrics={"eval_macro_f1": 0.9})
    assert control.should_training_stop


def test_flat_training_runs_to_the_step_floor(sample_frame, tiny_model):
    """A run that cannot learn (learning rate 1e-7) with patience 1 used to stop after 2 epochs;
    now it trains the epochs the step floor asked for, evaluating each."""
    from segcore.config import TrainConfig
    from segcore.ingest.labels import RATING_LABELS, labels_from_rating
    from segcore.training.train import fine_tune

    frame = sample_frame.iloc[:150]
    texts = frame["Text"].astype(str).tolist()
    labels = labels_from_rating(frame["Score"].astype(float)).tolist()
    config = TrainConfig(model=str(tiny_model), lr=1e-7, patience=1, min_steps=30, max_length=32,
                         progress_bar=False)
    tuned = fine_tune(texts[:90], labels[:90], texts[90:], labels[90:], labels=RATING_LABELS, config=config)
    # 90 reviews at batch 16: 6 steps an epoch, so 30 steps are 5 epochs (more than the default 4)
    assert tuned.recipe["epochs"] == 5 and tuned.recipe["min_steps"] == 30
    evals = [h for h in tuned.history if "eval_macro_f1" in h]
    assert tuned.epochs_run == 5 and len(evals) == 5
