"""Training and inference wiring on a tiny random-weight model (real tokenizer, real Trainer)."""
import gc

import numpy as np
import pytest
from transformers import TrainerCallback
from transformers.trainer_utils import EvalPrediction

from segcore.config import TrainConfig
from segcore.encoders.models import load_classifier, load_tokenizer
from segcore.encoders.predict import predict
from segcore.progress import Progress
from segcore.training.train import _macro_f1, class_weights, fine_tune

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def texts(sample_frame):
    return sample_frame["Text"].head(40).tolist()


def test_predictions_are_tied_to_input_rows(tiny_model, texts):
    model = load_classifier(str(tiny_model), LABELS)
    tok = load_tokenizer(str(tiny_model))
    probs, embs = predict(model, tok, texts, batch_size=8, max_length=64)
    assert probs.shape == (40, 3) and embs.shape == (40, 32)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    # Each row equals the text scored alone (no padding, no batching effects).
    for i in (0, 7, 23, 39):
        p1, e1 = predict(model, tok, [texts[i]], batch_size=1, max_length=64)
        np.testing.assert_allclose(probs[i], p1[0], atol=1e-4)
        np.testing.assert_allclose(embs[i], e1[0], atol=1e-4)
    # A shuffled input gives the same rows, shuffled the same way.
    perm = np.random.default_rng(0).permutation(40)
    p2, _ = predict(model, tok, [texts[i] for i in perm], batch_size=8, max_length=64)
    np.testing.assert_allclose(p2, probs[perm], atol=1e-4)


def test_metric_uses_class_axis():
    logits = np.array([[0.1, 2.0, 0.3], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = _macro_f1(EvalPrediction(predictions=logits, label_ids=np.array([1, 0, 2])))
    assert out["macro_f1"] == 1.0 and out["accuracy"] == 1.0


def test_class_weights_only_when_imbalanced():
    assert class_weights([0, 1, 0, 1], 2) is None
    w = class_weights([0] * 90 + [1] * 10, 2)
    assert w[1] > w[0] and np.isclose((w * [90, 10]).sum(), 100)


def test_fine_tune_runs_reports_progress_and_stops(tiny_model, sample_frame):
    frame = sample_frame.head(160)
    y = np.where(frame["Score"] >= 4, "positive", np.where(frame["Score"] <= 2, "negative", "neutral"))
    texts = frame["Text"].tolist()
    progress = Progress()

    frozen = []

    class StopAfterTwo(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            frozen.append(gc.get_freeze_count())
            if state.global_step == 2:
                progress.request_stop()

    cfg = TrainConfig(model=str(tiny_model), epochs=3, batch_size=16, max_length=48, progress_bar=False)
    gc.unfreeze()  # nothing frozen before training, as in a segscope process (conftest froze the session's)
    try:
        tuned = fine_tune(texts[:120], y[:120].tolist(), texts[120:], y[120:].tolist(), labels=LABELS,
                          config=cfg, progress=progress, callbacks=[StopAfterTwo()])
        after = gc.get_freeze_count()
    finally:
        gc.freeze()
    snap = progress.snapshot()
    # Asked after step 2, training ends at the end of the next step.
    assert tuned.stopped and snap.step == 3 and snap.total_steps == 3 * 8
    # training.trainer.run_trainer: the objects alive before training sit out of the collector's
    # full passes while it runs (Trainer.train's own gc.collect() among them), and come back after
    assert min(frozen) > 100_000 and after == 0
    assert tuned.labels == LABELS and tuned.model.config.id2label[2] == "positive"

    progress = Progress()
    tuned = fine_tune(texts[:120], y[:120].tolist(), texts[120:], y[120:].tolist(), labels=LABELS,
                      config=TrainConfig(model=str(tiny_model), epochs=2, max_length=48, progress_bar=False),
                      progress=progress)
    snap = progress.snapshot()
    assert snap.step == snap.total_steps == 16 and not tuned.stopped
    assert [round(m["epoch"]) for m in snap.val_metrics] == [1, 2]
    assert all("eval_macro_f1" in m for m in snap.val_metrics) and snap.train_loss
    assert tuned.epochs_run == 2 and tuned.best_epoch in (1, 2)
