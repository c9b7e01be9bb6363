"""A BIO token-classification aspect tagger, fine-tuned with the transformers Trainer on
weak labels from the seed lexicon, and span-level evaluation against those weak labels."""
from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer

from ..config import AspectConfig
from ..encoders.models import load_pretrained, load_tokenizer, pick_device, resolve_model
from ..errors import SegscopeError
from ..training.args import training_arguments
from ..training.trainer import run_trainer
from .custom import LEXICON_FILE, lexicon_json, load_lexicon
from .lexicon import bio_labels, encode_weak, first_subtokens, flat_lexicon, lexicon_spans, windows, word_span

log = logging.getLogger(__name__)

CONFIG_FILE = "aspects.json"


@dataclass
class AspectTagger:
    model: object
    tokenizer: object
    labels: list[str]
    max_length: int = 128
    stride: int = 16
    info: dict = field(default_factory=dict)
    lexicon: dict | None = None  # the seed lexicon it was trained from; None: the shipped one

    @property
    def aspects(self) -> list[str]:
        return sorted({lab[2:] for lab in self.labels if lab != "O"})

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        (folder / CONFIG_FILE).write_text(json.dumps(
            {"labels": self.labels, "max_length": self.max_length, "stride": self.stride, **self.info},
            indent=2, ensure_ascii=False), encoding="utf-8")
        # the list it learnt from: scoring with this run joins the same list's matches
        (folder / LEXICON_FILE).write_text(lexicon_json(flat_lexicon(self.lexicon)), encoding="utf-8")
        return folder


def load_tagger(folder: str | Path) -> AspectTagger:
    folder = Path(folder)
    if not (folder / CONFIG_FILE).exists():
        raise SegscopeError(f"{folder} is not a saved aspect tagger (no {CONFIG_FILE}).")
    conf = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    model = load_pretrained(AutoModelForTokenClassification, str(folder)).eval()
    # taggers saved before custom lexicons have no lexicon file: they used the shipped one
    lexicon = load_lexicon(folder / LEXICON_FILE) if (folder / LEXICON_FILE).exists() else None
    return AspectTagger(model=model, tokenizer=load_tokenizer(str(folder)), labels=list(conf["labels"]),
                        max_length=int(conf["max_length"]), stride=int(conf["stride"]),
                        info={k: v for k, v in conf.items() if k not in ("labels", "max_length", "stride")},
                        lexicon=lexicon)


class _Windows(torch.utils.data.Dataset):
    def __init__(self, ids: list[list[int]], labels: list[list[int]]):
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": [1] * len(self.ids[i]), "labels": self.labels[i]}


def _new_model(name: str, labels: list[str], **kwargs):
    return load_pretrained(AutoModelForTokenClassification, name, num_labels=len(labels),
                 id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)}, **kwargs)


def train_tagger(texts: Sequence[str], config: AspectConfig, *, lexicon: dict | None = None) -> AspectTagger:
    """Fine-tune a token classifier on `texts` labelled by `lexicon` (None: the shipped one) for
    `config.epochs` epochs; its labels are that lexicon's categories."""
    labels = bio_labels(tuple(flat_lexicon(lexicon)))
    label2id = {lab: i for i, lab in enumerate(labels)}
    name = resolve_model(config.model)
    tokenizer = load_tokenizer(name)
    if not getattr(tokenizer, "is_fast", False):
        raise SegscopeError(f"The aspect tagger needs a fast tokenizer (character offsets); '{config.model}' has none.")
    device = pick_device()
    attn = "eager" if device.type == "cpu" else None
    model = _new_model(name, labels, attention_probs_dropout_prob=0.0, attn_implementation=attn)
    enc = encode_weak(tokenizer, texts, max_length=config.max_length, stride=config.stride, label2id=label2id,
                      lexicon=lexicon)
    dataset = _Windows(enc["input_ids"], enc["labels"])
    with tempfile.TemporaryDirectory(prefix="segscope-aspects-") as tmp:
        args = training_arguments(
            out_dir=tmp, device=device, epochs=config.epochs, max_steps=config.max_steps,
            batch_size=config.batch_size, lr=config.lr, weight_decay=config.weight_decay,
            warmup_ratio=config.warmup_ratio, precision=config.run_precision, seed=config.run_seed,
            n_train=len(dataset), logs_per_epoch=4, progress_bar=config.progress_bar,
            average_tokens_across_devices=False,  # as fine-tuning: the tagger's loss is a per-batch mean
        )
        trainer = Trainer(model=model, args=args, train_dataset=dataset,
                          data_collator=DataCollatorForTokenClassification(tokenizer), processing_class=tokenizer)
        run_trainer(trainer)
        # A fresh copy, as in train.fine_tune: no leftover autocast wrapper, default attention.
        fresh = _new_model(name, labels)
        fresh.load_state_dict(trainer.model.state_dict())
    return AspectTagger(model=fresh.eval(), tokenizer=tokenizer, labels=labels, max_length=config.max_length,
                        stride=config.stride, lexicon=lexicon)


def _decode(tags: Sequence[str], words: Sequence[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """BIO word tags -> (start, end, aspect) character spans; a stray I- opens a span."""
    spans, cur = [], None
    for tag, (start, end) in zip(tags, words):
        if tag.startswith("I-") and cur is not None and cur[2] == tag[2:]:
            cur[1] = end
            continue
        if cur is not None:
            spans.append(tuple(cur))
            cur = None
        if tag != "O":
            cur = [start, end, tag[2:]]
    if cur is not None:
        spans.append(tuple(cur))
    return spans


@torch.inference_mode()
def predict_spans(tagger: AspectTagger, texts: Sequence[str], *, batch_size: int = 64,
                  device: str | None = None) -> list[list[tuple[int, int, str]]]:
    """Aspect spans per text; row i belongs to texts[i] (windows are batched by length and
    written back by their own text index, so batching never changes which row gets what)."""
    texts = list(texts)
    out: list[set] = [set() for _ in texts]
    if not texts:
        return []
    dev = pick_device(device)
    model = tagger.model.to(dev).eval()
    enc = windows(tagger.tokenizer, texts, max_length=tagger.max_length, stride=tagger.stride)
    ids = enc["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    pad = tagger.tokenizer.pad_token_id or 0
    for start in range(0, len(ids), batch_size):
        index = order[start : start + batch_size]
        width = max(len(ids[i]) for i in index)
        input_ids = torch.full((len(index), width), pad, dtype=torch.long)
        mask = torch.zeros((len(index), width), dtype=torch.long)
        for row, i in enumerate(index):
            input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
            mask[row, : len(ids[i])] = 1
        pred = model(input_ids=input_ids.to(dev), attention_mask=mask.to(dev)).logits.argmax(-1).cpu().numpy()
        for row, i in enumerate(index):
            word_ids, offsets = enc["word_ids"][i], enc["offsets"][i]
            firsts = first_subtokens(word_ids)
            tags = [tagger.labels[int(pred[row, p])] for p in firsts]
            words = [word_span(word_ids, offsets, p) for p in firsts]
            out[enc["text_index"][i]].update(_decode(tags, words))
    return [_merge(sorted(s)) for s in out]


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Spans from overlapping windows: keep one of any overlapping pair with the same aspect (the longer)."""
    kept: list[tuple[int, int, str]] = []
    for span in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]))):
        if kept and kept[-1][2] == span[2] and span[0] < kept[-1][1]:
            if span[1] > kept[-1][1]:
                kept[-1] = (kept[-1][0], span[1], span[2])
            continue
        kept.append(span)
    return kept


def span_scores(gold: Sequence[Sequence[tuple]], pred: Sequence[Sequence[tuple]]) -> dict:
    """Exact-match span precision / recall / F1 (same start, end and aspect), micro-averaged,
    and per aspect."""
    tp, n_gold, n_pred = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        g, p = set(map(tuple, g)), set(map(tuple, p))
        for s in g:
            n_gold[s[2]] += 1
        for s in p:
            n_pred[s[2]] += 1
        for s in g & p:
            tp[s[2]] += 1

    def prf(t, ng, np_):
        precision = t / np_ if np_ else 0.0
        recall = t / ng if ng else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}

    out = prf(sum(tp.values()), sum(n_gold.values()), sum(n_pred.values()))
    out["support"] = int(sum(n_gold.values()))
    out["per_aspect"] = {a: {**prf(tp[a], n_gold[a], n_pred[a]), "support": int(n_gold[a])}
                         for a in sorted(set(n_gold) | set(n_pred))}
    return out


def beyond_lexicon(texts: Sequence[str], gold: Sequence[Sequence[tuple]], pred: Sequence[Sequence[tuple]],
                   *, n_examples: int = 10) -> tuple[int, list[dict]]:
    """Model spans that overlap no lexicon span: how many, and a few with their context."""
    count, examples = 0, []
    for text, g, p in zip(texts, gold, pred):
        for s, e, aspect in p:
            if any(s < ge and e > gs for gs, ge, _ in g):
                continue
            count += 1
            if len(examples) < n_examples:
                left, right = max(0, s - 40), min(len(text), e + 40)
                examples.append({"aspect": aspect, "term": text[s:e],
                                 "context": ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")})
    return count, examples


def aspect_names(spans: Sequence[tuple[int, int, str]]) -> list[str]:
    return sorted({s[2] for s in spans})


def evaluate(tagger: AspectTagger, texts: Sequence[str], *, n_examples: int = 10, batch_size: int = 64) -> dict:
    """Span P/R/F1 of the model against the lexicon's weak labels on `texts`, and what the model
    finds that the lexicon does not."""
    gold = [lexicon_spans(t, tagger.lexicon) for t in texts]
    pred = predict_spans(tagger, texts, batch_size=batch_size)
    n_beyond, examples = beyond_lexicon(texts, gold, pred, n_examples=n_examples)
    gold_names = [set(aspect_names(g)) for g in gold]
    pred_names = [set(aspect_names(p)) for p in pred]
    return {
        "span": span_scores(gold, pred),
        "n_reviews": len(texts),
        "n_mentions_lexicon": int(sum(len(g) for g in gold)),
        "n_mentions_model": int(sum(len(p) for p in pred)),
        "n_model_beyond_lexicon": int(n_beyond),
        "n_review_aspects_beyond_lexicon": int(sum(len(p - g) for g, p in zip(gold_names, pred_names))),
        "examples_beyond_lexicon": examples,
    }


def fit_and_evaluate(texts: Sequence[str], config: AspectConfig, *, lexicon: dict | None = None
                     ) -> tuple[AspectTagger, dict]:
    """Split reviews (seeded) into training and held-out parts, train on at most
    `max_train_reviews` labelled by `lexicon` (None: the shipped one), evaluate on the held-out part."""
    texts = [str(t) for t in texts]
    rng = np.random.default_rng(config.run_seed)
    order = rng.permutation(len(texts))
    n_held = max(1, int(round(len(texts) * config.heldout_share))) if len(texts) > 1 else 0
    held, train = order[:n_held], order[n_held:]
    train = train[: config.max_train_reviews]
    if len(train) == 0:
        raise SegscopeError("Too few reviews to train the aspect tagger; turn aspects off.")
    train_texts = [texts[i] for i in sorted(train)]
    held_texts = [texts[i] for i in sorted(held)]
    started = time.perf_counter()
    tagger = train_tagger(train_texts, config, lexicon=lexicon)
    train_seconds = time.perf_counter() - started
    report = evaluate(tagger, held_texts, n_examples=config.n_examples)
    report = {"model": config.model, "epochs": config.epochs, "n_train_reviews": len(train_texts),
              "n_heldout_reviews": len(held_texts), "train_reviews_with_lexicon_aspect":
              int(sum(bool(lexicon_spans(t, lexicon)) for t in train_texts)),
              "lexicon": "custom" if lexicon is not None else "shipped",
              "categories": list(flat_lexicon(lexicon)),
              "train_seconds": round(train_seconds, 3), "heldout": report}
    tagger.info = {"trained_on_reviews": len(train_texts), "heldout_span_f1": report["heldout"]["span"]["f1"]}
    return tagger, report
