"""Fine-tune an encoder for review classification with the transformers Trainer."""
from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from sklearn.utils.class_weight import compute_class_weight
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainerCallback

from ..config import AUTO_MODEL, DEFAULT_EPOCHS, TrainConfig, device_batches
from ..encoders.models import (
    ModelChoice,
    choose_model,
    device_name,
    load_classifier,
    load_tokenizer,
    pick_device,
)
from ..encoders.predict import tokenize
from ..progress import Progress
from .callbacks import AdaptiveThreads, ProgressCallback, StepFloorEarlyStopping
from ..text.language import detect_language
from .adversarial import FGMTrainer
from .args import training_arguments
from .augment import augment_train
from .lora import add_lora, merged
from .recipe import encoder_lr, epochs_for
from .trainer import run_trainer

log = logging.getLogger(__name__)

@dataclass
class FineTuned:
    model: object
    tokenizer: object
    labels: list[str]
    epochs_run: int
    best_epoch: int | None
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"
    stopped: bool = False
    options: dict = field(default_factory=dict)  # what each training option did (lora, fgm, augment)
    model_choice: ModelChoice | None = None
    recipe: dict = field(default_factory=dict)  # the resolved lr, batch sizes, epochs and steps


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, ids: list[list[int]], labels: Sequence[int]):
        self.ids, self.labels = ids, list(labels)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": [1] * len(self.ids[i]), "labels": self.labels[i]}


def class_weights(y: Sequence[int], n_classes: int) -> np.ndarray | None:
    """Balanced weights when the largest class is over 1.5x the smallest, else None."""
    counts = np.bincount(np.asarray(y), minlength=n_classes)
    if counts.min() == 0 or counts.max() / counts.min() <= 1.5:
        return None
    return compute_class_weight("balanced", classes=np.arange(n_classes), y=np.asarray(y))


def _weighted_loss(weights: np.ndarray):
    w = torch.tensor(weights, dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        return F.cross_entropy(logits.float(), labels, weight=w.to(logits.device))

    return loss


def _macro_f1(eval_pred) -> dict:
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    if isinstance(logits, tuple):
        logits = logits[0]
    # Sequence classification logits are [batch, classes]: the class axis is the last one.
    pred = np.asarray(logits).argmax(axis=-1)
    return {"macro_f1": f1_score(labels, pred, average="macro", zero_division=0),
            "accuracy": float((pred == labels).mean())}


def fine_tune(train_texts: Sequence[str], train_labels: Sequence[str],
              val_texts: Sequence[str], val_labels: Sequence[str], *, labels: Sequence[str],
              config: TrainConfig | None = None, progress: Progress | None = None,
              callbacks: Sequence[TrainerCallback] = (), work_dir: str | Path | None = None,
              language: str | None = None) -> FineTuned:
    """Fine-tune with AdamW, weight decay, warm-up, dropout and early stopping on validation
    macro-F1; the best epoch's weights are restored at the end. With model 'auto' the encoder
    follows `language` (detected from the training texts when not given)."""
    config = config or TrainConfig()
    labels = list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    if (config.model or AUTO_MODEL) == AUTO_MODEL and language is None:
        language = detect_language(train_texts)
    choice = choose_model(config.model, language)
    log.info("model: %s (%s)", choice.chosen, choice.reason)
    name = choice.path
    tokenizer = load_tokenizer(name)
    device = pick_device()
    attn = config.attn_implementation or ("eager" if device.type == "cpu" else None)
    model = load_classifier(name, labels, dropout=config.dropout, attention_dropout=config.attention_dropout,
                            attn_implementation=attn)
    options: dict = {}
    if config.augment:  # training split only: validation (and test) stay as written
        train_texts, train_labels, options["augment"] = augment_train(train_texts, train_labels, seed=config.run_seed)
        log.info("augmented the training split: %d -> %d reviews", options["augment"]["n_train_original"],
                 options["augment"]["n_train_augmented"])
    if config.lora:
        model, options["lora"] = add_lora(model, r=config.lora_r, alpha=config.lora_alpha, dropout=config.dropout)
        log.info("LoRA: %d of %d parameters train", options["lora"]["trainable_params"],
                 options["lora"]["total_params"])
    y_train = [index[v] for v in train_labels]
    y_val = [index[v] for v in val_labels]
    train_ds = _Encoded(tokenize(tokenizer, train_texts, max_length=config.max_length,
                                 truncation=config.truncation), y_train)
    val_ds = _Encoded(tokenize(tokenizer, val_texts, max_length=config.max_length, truncation=config.truncation),
                      y_val)
    recipe = resolve_recipe(config, model.config, device, n_train=len(train_ds))
    log.info("recipe: %s", recipe)
    weights = class_weights(y_train, len(labels)) if config.class_weights else None
    if weights is not None:
        log.info("class weights: %s", dict(zip(labels, np.round(weights, 3).tolist())))
    progress = progress or Progress()
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="segscope-train-") as tmp:
        args = training_arguments(
            out_dir=tmp, device=device, epochs=recipe["epochs"], max_steps=config.max_steps,
            batch_size=recipe["batch_size"], lr=recipe["lr"],
            weight_decay=config.weight_decay, warmup_ratio=config.warmup_ratio, precision=config.run_precision,
            seed=config.run_seed, n_train=len(train_ds), select_best="macro_f1",  # early stopping's metric
            eval_batch_size=recipe["eval_batch_size"], progress_bar=config.progress_bar,
            average_tokens_across_devices=False,  # _weighted_loss / the model's loss: per-batch means
        )
        extra = {"fgm_epsilon": config.fgm_epsilon} if config.adversarial == "fgm" else {}
        trainer = (FGMTrainer if config.adversarial == "fgm" else Trainer)(
            model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
            data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
            compute_metrics=_macro_f1,
            compute_loss_func=_weighted_loss(weights) if weights is not None else None,
            callbacks=[StepFloorEarlyStopping(config.patience, min_steps=recipe["min_steps"]),
                       ProgressCallback(progress), AdaptiveThreads(), *callbacks],
            **extra,
        )
        if not config.progress_bar:  # quiet: no per-log dict on stdout either (ProgressCallback keeps them)
            trainer.remove_callback(PrinterCallback)
        run_trainer(trainer)
        if config.adversarial == "fgm":
            adv = trainer.adversarial_losses
            options["fgm"] = {"epsilon": config.fgm_epsilon, "perturbed_steps": len(adv),
                              "mean_adversarial_loss": round(float(np.mean(adv)), 4) if adv else None}
        history = [dict(h) for h in trainer.state.log_history]
        evals = [h for h in history if "eval_macro_f1" in h]
        best_epoch = None
        if evals:
            best = max(evals, key=lambda h: h["eval_macro_f1"])
            best_epoch = int(round(best["epoch"]))
        # A fresh copy of the trained weights: accelerate leaves the trained model's forward
        # wrapped in its mixed-precision autocast, and eager attention was for the CPU backward
        # only; the copy computes exactly as the saved model does when loaded to score.
        model = load_classifier(name, labels, dropout=config.dropout, attention_dropout=config.attention_dropout)
        model.load_state_dict(merged(trainer.model).state_dict())  # LoRA: adapters merged in
        model.to(device)
    return FineTuned(model=model.eval(), tokenizer=tokenizer, labels=labels,
                     epochs_run=int(math.ceil(trainer.state.epoch or 0)), best_epoch=best_epoch,
                     history=history, device=device_name(device), stopped=progress.stop_requested,
                     options=options, model_choice=choice, recipe=recipe)


def resolve_recipe(config: TrainConfig, model_config, device, *, n_train: int) -> dict:
    """What `config`'s None / by-device / by-encoder defaults mean for this encoder, device and
    training-set size (segcore.training.recipe)."""
    batch, eval_batch, _ = device_batches(device)
    batch = config.batch_size or batch
    if config.lora:
        lr = config.lora_lr
    else:
        lr = config.lr if config.lr is not None else encoder_lr(model_config)
    if config.epochs is not None:  # asked for: as given, and no step floor
        epochs, min_steps = config.epochs, 0
    else:  # the step floor raises the epochs, and early stopping waits for it too
        min_steps = config.min_steps
        epochs = epochs_for(n_train=n_train, batch_size=batch, epochs=DEFAULT_EPOCHS, min_steps=min_steps,
                            max_epochs=max(config.max_epochs, DEFAULT_EPOCHS))
    return {"lr": lr, "batch_size": batch, "eval_batch_size": config.eval_batch_size or eval_batch,
            "epochs": epochs, "steps_per_epoch": math.ceil(n_train / batch), "truncation": config.truncation,
            "max_length": config.max_length, "min_steps": min_steps}
