"""Why the model gave a review its label: word attributions with integrated gradients.

captum's LayerIntegratedGradients on the word-embedding layer, from an all-padding baseline to
the review, for the predicted class's probability: each token's share of p(label) - p(baseline)
(completeness). Token attributions are merged back into words (English: letters / digits runs,
so word pieces join again; Chinese: jieba's words, a piece spanning several words sharing its
weight by the characters it covers). Meant for the reviews a person looks at: it costs
`n_steps` forward and backward passes per review. A run that labels reviews with its keyword
model (TF-IDF) is explained by that model instead: occlusion, one word deleted at a time."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..encoders.models import load_classifier, load_tokenizer
from ..encoders.predict import pad_batch, tokenize_with_offsets
from ..errors import SegscopeError
from ..io.artifacts import check_model_dir, load_head
from ..text.chinese import word_spans

# A unit a person reads: one CJK character, a run of letters / digits (with inner apostrophes), or
# one other visible character (punctuation such as "!" can carry the label too).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
UNIT = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’][^\W_{_CJK}]+)*|[^\w\s]")


@dataclass
class Word:
    text: str
    start: int  # character offsets in the review
    end: int
    weight: float | None  # None: beyond the model's max_length, not read


@dataclass
class Explanation:
    text: str
    label: str
    probability: float  # the model's probability for `label`
    words: list[Word]
    truncated: bool = False  # the review was longer than the model reads
    delta: float = 0.0  # integrated-gradients convergence error (probability units)
    probabilities: dict[str, float] = field(default_factory=dict)

    def top(self, k: int = 10, *, sign: int = 1) -> list[Word]:
        """The k words that pushed hardest towards (sign 1) or away from (sign -1) the label."""
        scored = [w for w in self.words if w.weight is not None and w.weight * sign > 0]
        return sorted(scored, key=lambda w: -abs(w.weight))[:k]

    def as_dict(self) -> dict:
        return {"label": self.label, "probability": round(self.probability, 4), "truncated": self.truncated,
                "words": [{"word": w.text, "start": w.start, "end": w.end,
                           "weight": None if w.weight is None else round(w.weight, 5)} for w in self.words]}


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def units(text: str) -> list[tuple[int, int]]:
    """Character spans of the words / punctuation marks of `text`; a run of Chinese characters is
    cut into words by jieba ("送餐" "太慢", not "送" "餐" "太" "慢"), so "why this label" shows words."""
    spans = [m.span() for m in UNIT.finditer(text)]
    runs = [m.span() for m in _CJK_RUN.finditer(text)]
    if not runs:
        return spans
    out = [sp for sp in spans if not any(a <= sp[0] < b for a, b in runs)]
    for a, b in runs:
        out += [(a + s, a + e) for s, e in word_spans(text[a:b])]
    return sorted(out)


def merge_to_units(text: str, offsets: Sequence[tuple[int, int]], token_weights: Sequence[float]) -> list[Word]:
    """Sum token weights into the units they overlap, by characters covered; units no token read
    covers (after the budget, or in the middle of a review cut head + tail) get weight None."""
    spans = units(text)
    weights = np.zeros(len(spans))
    read = np.zeros(len(spans), dtype=bool)
    starts = np.array([s for s, _ in spans], dtype=int)
    for (s, e), w in zip(offsets, token_weights):
        if e <= s:
            continue  # special or empty token
        first = max(int(np.searchsorted(starts, s, side="right")) - 1, 0)
        covered = []
        for u in range(first, len(spans)):
            us, ue = spans[u]
            if us >= e:
                break
            overlap = min(e, ue) - max(s, us)
            if overlap > 0:
                covered.append((u, overlap))
        total = sum(o for _, o in covered)
        for u, o in covered:
            weights[u] += w * o / total
            read[u] = True
    return [Word(text[s:e], s, e, float(weights[i]) if read[i] else None) for i, (s, e) in enumerate(spans)]


class _Scorer(torch.nn.Module):
    """input ids -> class probabilities of the run's model: the fine-tuned classifier, or the
    frozen-encoder head (a linear head on mean-pooled embeddings) when the run chose that."""

    def __init__(self, model, linear=None):
        super().__init__()
        self.model = model
        self.linear = None
        if linear is not None:
            self.coef = torch.tensor(linear.coef, dtype=torch.float32)
            self.intercept = torch.tensor(linear.intercept, dtype=torch.float32)
            self.linear = True

    def forward(self, input_ids, attention_mask):
        if self.linear is None:
            return torch.softmax(self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float(), -1)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        hidden = out.hidden_states[-1].float()
        m = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
        return torch.softmax(pooled @ self.coef.T + self.intercept, -1)


@dataclass
class Explainer:
    """A loaded run, ready to explain reviews (load once, explain many)."""

    model: object
    tokenizer: object
    labels: list[str]
    max_length: int = 128
    source: str = "fine_tuned"  # which model's decision is explained
    note: str = ""
    linear: object = None
    tfidf: object = None  # the keyword model (training.candidates.TfidfHead) when the run chose it
    truncation: str = "head"  # how the run cut long reviews (encoders.predict.tokenize): explained as read

    @classmethod
    def load(cls, model_dir: str | Path, *, which: str = "selected") -> Explainer:
        """The run's labelling model ("selected"), or its fine-tuned classifier ("fine_tuned")."""
        meta = check_model_dir(model_dir)  # one line for a damaged folder, before transformers sees it
        head = load_head(model_dir, meta)
        if which == "fine_tuned":
            head.selected = "fine_tuned"
        if head.selected == "tfidf":  # the keyword model labels the reviews: explain that, not the encoder
            return cls(None, None, list(meta["labels"]), source="tfidf", tfidf=head.tfidf)
        model = load_classifier(str(model_dir)).eval()
        tokenizer = load_tokenizer(str(model_dir))
        max_length = int(meta["train_config"]["max_length"])
        truncation = meta["train_config"]["truncation"]
        if head.selected == "frozen":
            return cls(model, tokenizer, list(meta["labels"]), max_length, "frozen", linear=head.linear,
                       truncation=truncation)
        note = "" if head.selected == "fine_tuned" else (
            f"The run labels reviews with the '{head.selected}' model; these weights explain the fine-tuned model.")
        return cls(model, tokenizer, list(meta["labels"]), max_length, "fine_tuned", note, truncation=truncation)

    def scorer(self) -> _Scorer:
        return _Scorer(self.model, self.linear).eval()

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, list]:
        """(ids, attention mask, each row's token offsets): the reviews cut as the run cuts them."""
        ids, offsets = tokenize_with_offsets(self.tokenizer, texts, max_length=self.max_length,
                                             truncation=self.truncation)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        return (*pad_batch(ids, pad), offsets)

    def probabilities(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Class probabilities of the explained model for `texts`, batched (row i = texts[i])."""
        if self.tfidf is not None:
            return self.tfidf.proba(list(texts)).astype(np.float32)
        scorer = self.scorer()
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                ids, mask, _ = self.encode(list(texts[start:start + batch_size]))
                out[start:start + batch_size] = scorer(ids, mask).numpy()
        return out


def explain(model: str | Path | Explainer, texts: str | Sequence[str], *, target: str | Sequence[str] | None = None,
            n_steps: int = 32, batch_size: int = 4) -> list[Explanation]:
    """Word attributions for each review's predicted label (or `target`); row i explains texts[i].

    `model` is a run's model/ folder or a loaded `Explainer`. Weights are in probability units:
    positive words pushed towards the label, negative ones away from it."""
    explainer = model if isinstance(model, Explainer) else Explainer.load(model)
    texts = [texts] if isinstance(texts, str) else list(texts)
    targets = [target] * len(texts) if isinstance(target, str) else target
    if targets is not None:
        unknown = sorted(set(targets) - set(explainer.labels))
        if unknown or len(targets) != len(texts):
            raise SegscopeError(f"target must be one of {', '.join(explainer.labels)} per review, got {unknown}.")
    if explainer.tfidf is not None:
        return [_occlusion(explainer, text, None if targets is None else targets[i]) for i, text in enumerate(texts)]
    from captum.attr import LayerIntegratedGradients

    scorer = explainer.scorer()
    tok = explainer.tokenizer
    specials = set(tok.all_special_ids)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    lig = LayerIntegratedGradients(scorer, explainer.model.get_input_embeddings())
    out: list[Explanation] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        ids, mask, chunk_offsets = explainer.encode(chunk)
        with torch.no_grad():
            probs = scorer(ids, mask)
        if targets is None:
            label_ids = probs.argmax(-1)
        else:
            label_ids = torch.tensor([explainer.labels.index(t) for t in targets[start:start + batch_size]])
        # Baseline: the same sequence with every word token replaced by padding (special tokens kept).
        keep = torch.tensor([[int(i) in specials for i in row] for row in ids.tolist()])
        baseline = torch.where(keep, ids, torch.full_like(ids, pad))
        attributions, delta = lig.attribute(ids, baselines=baseline, target=label_ids,
                                            additional_forward_args=(mask,), n_steps=n_steps,
                                            internal_batch_size=n_steps * len(chunk),
                                            return_convergence_delta=True)
        token_weights = (attributions.sum(-1) * mask).detach().numpy()
        for row, text in enumerate(chunk):
            n_tok = int(mask[row].sum())
            offsets = [tuple(map(int, o)) for o in chunk_offsets[row][:n_tok]]
            words = merge_to_units(text, offsets, token_weights[row][:n_tok])
            label = int(label_ids[row])
            out.append(Explanation(text=text, label=explainer.labels[label], probability=float(probs[row, label]),
                                   words=words, truncated=any(w.weight is None for w in words),
                                   delta=float(delta[row]),
                                   probabilities={lab: float(p) for lab, p in zip(explainer.labels, probs[row])}))
    return out


def _occlusion(explainer: Explainer, text: str, target: str | None) -> Explanation:
    """The keyword model's attributions: each word's weight is the drop of the label's probability
    when that word alone is deleted (one TF-IDF transform per word: milliseconds)."""
    spans = units(text)
    probs = explainer.probabilities([text] + [without_words(text, [span]) for span in spans])
    label = int(probs[0].argmax()) if target is None else explainer.labels.index(target)
    words = [Word(text[s:e], s, e, float(probs[0, label] - probs[i + 1, label])) for i, (s, e) in enumerate(spans)]
    return Explanation(text=text, label=explainer.labels[label], probability=float(probs[0, label]), words=words,
                       probabilities={lab: float(p) for lab, p in zip(explainer.labels, probs[0])})


def without_words(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` with the given character spans removed (spaces tidied)."""
    keep, last = [], 0
    for s, e in sorted(spans):
        keep.append(text[last:s])
        last = e
    keep.append(text[last:])
    return re.sub(r"[ \t]{2,}", " ", "".join(keep)).strip()


def deletion_check(explainer: Explainer, explanations: Sequence[Explanation], *, k: int = 3, seed: int = 0,
                   min_words: int | None = None) -> dict:
    """Faithfulness: the drop in the explained label's probability when the top-k attributed words
    are deleted vs when k random (read) words are deleted, averaged over the reviews with at least
    `min_words` (default 2k) read words."""
    rng = np.random.default_rng(seed)
    min_words = 2 * k if min_words is None else min_words
    top_texts, rand_texts, used = [], [], []
    for e in explanations:
        read = [w for w in e.words if w.weight is not None]
        if len(read) < min_words:
            continue
        top = sorted(read, key=lambda w: -w.weight)[:k]
        rand = [read[i] for i in rng.choice(len(read), size=k, replace=False)]
        top_texts.append(without_words(e.text, [(w.start, w.end) for w in top]))
        rand_texts.append(without_words(e.text, [(w.start, w.end) for w in rand]))
        used.append(e)
    if not used:
        return {"n_reviews": 0, "k": k}
    idx = np.array([explainer.labels.index(e.label) for e in used])
    p0 = np.array([e.probability for e in used])
    rows = np.arange(len(used))
    probs_top, probs_rand = explainer.probabilities(top_texts), explainer.probabilities(rand_texts)
    drop_top, drop_rand = p0 - probs_top[rows, idx], p0 - probs_rand[rows, idx]
    return {"n_reviews": len(used), "k": k, "mean_drop_top": round(float(drop_top.mean()), 4),
            "mean_drop_random": round(float(drop_rand.mean()), 4),
            "share_top_drop_larger": round(float((drop_top > drop_rand).mean()), 4),
            "label_changed_top": round(float((probs_top.argmax(1) != idx).mean()), 4),
            "label_changed_random": round(float((probs_rand.argmax(1) != idx).mean()), 4)}
