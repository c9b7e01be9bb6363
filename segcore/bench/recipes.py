"""`python -m segcore bench --only recipes`: does fine-tuning beat the simple models, per data set,
recipe and training option, over several seeds on the same splits?

Every cell trains on a run's 6:2:2 split of a real review set (prepared as `segcore run` prepares
it: cleaning, PII masking, labels from the rating or label column) and reports test macro-F1. In
the same run and on the same split: TF-IDF + logistic regression and the frozen encoder with a
logistic-regression head (the safety net's candidates, training.candidates), and for every
fine-tune what a run would ship: the candidate the safety net selects on validation among the
fine-tuned model, its average with the keyword model, the frozen head and the keyword model
(`<recipe> selected`, with `average` and `selected` in its row).

Recipes are TrainConfig overrides: `seed` is the recipe before this benchmark (one learning rate
for every encoder, a fixed 4 epochs, batch 16, the start of long reviews); each following one
changes one factor of it; `default` is TrainConfig() as shipped; the options (MLM, LoRA, FGM,
augmentation) run on top of `default`. Tasks run in parallel worker processes (`--workers`),
which keeps a GPU busy with these small encoders."""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from ..config import DEFAULT_SEED, TrainConfig
from ..encoders.embed import encoder_embeddings
from ..encoders.models import choose_model
from ..encoders.predict import predict
from ..ingest.columns import detect_columns
from ..ingest.prepare import prepare_reviews
from ..text.language import detect_language
from ..training.candidates import fit_linear_head, fit_tfidf_head, select_candidate
from ..training.split import split_622

log = logging.getLogger(__name__)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

# name: files under the data folder, the columns a user would give, rows to sample (None: all).
SETS = {
    "amazon_en_2k": dict(files=("en/amazon_fine_food_1k.csv", "en/amazon_fine_food_1k_b.csv"),
                         columns=dict(text="Text", rating="Score", id="UserId"), rows=None),
    "womens_en_3k": dict(files=("en/womens_clothing_ecommerce_reviews.csv",),
                         columns=dict(text="Review Text", rating="Rating"), rows=3000),
    "asap_zh_300": dict(files=("zh/asap_train_sample.csv", "zh/asap_dev_sample.csv", "zh/asap_test_sample.csv"),
                        columns=dict(text="reviewbody", rating="star"), rows=None),
    "waimai_zh_2k": dict(files=("eval-only/waimai_10k.csv",), columns=dict(text="review", label="label"), rows=2000),
    "shopping_zh_2k": dict(files=("eval-only/online_shopping_10_cats.csv",),
                           columns=dict(text="review", label="label"), rows=2000),
    "womens_en_full": dict(files=("en/womens_clothing_ecommerce_reviews.csv",),
                           columns=dict(text="Review Text", rating="Rating"), rows=None),
}
SMALL_SETS = ("amazon_en_2k", "womens_en_3k", "asap_zh_300", "waimai_zh_2k", "shopping_zh_2k")
FULL_SETS = ("womens_en_full",)  # one seed, recipes only (an hour per fine-tune on a 2-core CPU)

# The recipe before this benchmark, and one factor changed at a time.
SEED_RECIPE = dict(lr=8e-5, epochs=4, truncation="head", batch_size=16)
RECIPES = {
    "seed": SEED_RECIPE,
    "lr_by_encoder": {**SEED_RECIPE, "lr": None},
    "step_floor": {**SEED_RECIPE, "epochs": None, "min_steps": 300},
    "head_tail": {**SEED_RECIPE, "truncation": "head_tail"},
    "fp32": {**SEED_RECIPE, "precision": "fp32"},
    "no_class_weights": {**SEED_RECIPE, "class_weights": False},
    "default": {},
}
OPTIONS = {"mlm": dict(mlm_epochs=1), "lora": dict(lora=True), "fgm": dict(adversarial="fgm"),
           "augment": dict(augment=True)}
FULL_RECIPES = ("seed", "default")
# The options run on these (two English sets and the 2,000 Chinese delivery reviews).
OPTION_SETS = ("amazon_en_2k", "womens_en_3k", "waimai_zh_2k")
CHUNK = 4  # fine-tunes per worker task: small tasks keep every worker busy


def prepare_sets(names, *, data_dir: Path = SHARED, seed: int = DEFAULT_SEED) -> dict:
    """{name: {texts, labels, groups, label_names, language}} as a run prepares them."""
    out = {}
    for name in names:
        spec = SETS[name]
        paths = [data_dir / f for f in spec["files"]]
        if not all(p.exists() for p in paths):
            log.warning("skipping %s: %s not found", name, ", ".join(str(p) for p in paths if not p.exists()))
            continue
        frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
        if spec["rows"] and len(frame) > spec["rows"]:
            frame = frame.sample(n=spec["rows"], random_state=seed).reset_index(drop=True)
        given = {role: spec["columns"].get(role) for role in ("text", "rating", "label", "id")}
        prepared = prepare_reviews(frame, detect_columns(frame, **given), mask_pii=True)
        reviews = prepared.reviews[prepared.reviews["label"].notna()]
        texts = reviews["_text"].tolist()
        out[name] = {"texts": texts, "labels": reviews["label"].astype(str).tolist(),
                     "groups": reviews["customer_id"].astype(str).tolist(), "label_names": prepared.labels,
                     "language": detect_language(texts)}
        log.info("%s: %d labelled reviews, classes %s", name, len(texts), prepared.labels)
    return out


def load_or_prepare(path: str | None, names, *, data_dir: Path = SHARED) -> dict:
    if path and Path(path).exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            sets = json.load(f)
        return {n: sets[n] for n in names if n in sets}
    sets = prepare_sets(names, data_dir=data_dir)
    if path:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            json.dump(sets, f, ensure_ascii=False)
    return sets


def tasks_for(sets: dict, *, seeds: int, recipes, options, full_recipes=FULL_RECIPES,
              option_sets=OPTION_SETS) -> list[dict]:
    """Every (set, seed, recipe or +option) to fine-tune."""
    tasks = []
    for name in sets:
        full = name in FULL_SETS
        opts = [f"+{o}" for o in options] if name in option_sets else []
        names = [r for r in full_recipes if r in RECIPES] if full else list(recipes) + opts
        for s in range(1 if full else seeds):
            for r in names:
                tasks.append({"set": name, "seed": 42 + s, "recipe": r})
    return tasks


def _model_for(language: str, models: dict) -> str:
    key = "en" if language in ("en", "unknown") else "zh"
    return models.get(key) or choose_model("auto", language).path


def _split(data: dict, seed: int):
    return split_622(pd.Series(data["labels"]), pd.Series(data["groups"]), seed=seed)


def _label_ids(data: dict) -> np.ndarray:
    """Each review's label as its index in label_names (what the candidates' heads take)."""
    index = {lab: i for i, lab in enumerate(data["label_names"])}
    return np.array([index[v] for v in data["labels"]])


def _macro_f1(y_true, probs, label_names) -> float:
    pred = np.asarray(label_names)[np.asarray(probs).argmax(axis=1)]
    return float(f1_score(y_true, pred, labels=label_names, average="macro", zero_division=0))


def simple_models(data: dict, *, seed: int, model: str, emb_cache: dict) -> dict:
    """TF-IDF + LR and the frozen encoder + LR on the split of `seed`: {name: {test, val, probs}}
    (macro-F1 on test and validation; probabilities for every review)."""
    names = data["label_names"]
    texts, y = data["texts"], _label_ids(data)
    tr, va, te = _split(data, seed)
    key = (model, hash(tuple(texts)))  # two sets of the same size must not share embeddings
    if key not in emb_cache:
        emb_cache[key] = encoder_embeddings(model, texts, max_length=128, batch_size=256).astype(np.float64)
    emb = emb_cache[key]
    tfidf = fit_tfidf_head([texts[i] for i in tr], y[tr], n_classes=len(names), seed=seed)
    frozen = fit_linear_head(emb[tr], y[tr], n_classes=len(names), seed=seed)
    out = {}
    for cand, probs in (("tfidf", tfidf.proba(texts)), ("frozen", frozen.proba(emb))):
        out[cand] = {"test": _macro_f1(np.asarray(data["labels"])[te], probs[te], names),
                     "val": _macro_f1(np.asarray(data["labels"])[va], probs[va], names), "probs": probs}
    return out


def selected_cell(data: dict, *, seed: int, tuned_probs: np.ndarray, simple: dict) -> dict:
    """What a run ships: the safety net's choice on validation (training.candidates.select_candidate)
    among the fine-tuned model, the simple models and the average; its test figure and the average's."""
    _, va, te = _split(data, seed)
    probs = {"fine_tuned": tuned_probs, **{n: simple[n]["probs"] for n in ("tfidf", "frozen")}}
    selection, _ = select_candidate(probs, _label_ids(data), val_idx=np.asarray(va), test_idx=np.asarray(te),
                                    labels=data["label_names"])
    t = selection.table
    return {"selected": selection.selected, "test": t[selection.selected]["test_macro_f1"],
            "val": t[selection.selected]["val_macro_f1"], "at_chance": selection.at_chance,
            "within_noise": selection.within_noise,
            "average": {"test": t["average"]["test_macro_f1"], "val": t["average"]["val_macro_f1"]}}


def fine_tune_cell(data: dict, *, seed: int, recipe: str, model: str) -> dict:
    """Fine-tune with `recipe` on the split of `seed`; test / validation macro-F1 and what ran."""
    from ..training.mlm import domain_adapt
    from ..training.train import fine_tune

    names, texts, labels = data["label_names"], data["texts"], np.asarray(data["labels"])
    tr, va, te = _split(data, seed)
    over = dict(OPTIONS[recipe[1:]]) if recipe.startswith("+") else dict(RECIPES[recipe])
    config = replace(TrainConfig(model=model, seed=seed, progress_bar=False), **over)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="segscope-recipes-") as tmp:
        start = config
        if config.mlm_epochs:
            adapted = domain_adapt(texts, model=model, epochs=config.mlm_epochs, out_dir=tmp, seed=seed,
                                   max_length=config.max_length)
            start = replace(config, model=str(adapted.path))
        tuned = fine_tune([texts[i] for i in tr], labels[tr].tolist(), [texts[i] for i in va], labels[va].tolist(),
                          labels=names, config=start, language=data["language"])
    probs, _ = predict(tuned.model, tuned.tokenizer, texts, max_length=config.max_length,
                       truncation=config.truncation, batch_size=256)
    losses = [h["loss"] for h in tuned.history if "loss" in h]
    return {"test": _macro_f1(labels[te], probs[te], names), "val": _macro_f1(labels[va], probs[va], names),
            "probs": probs,
            "epochs_run": tuned.epochs_run, "best_epoch": tuned.best_epoch, "seconds": round(time.time() - started, 1),
            "first_loss": round(losses[0], 4) if losses else None, "last_loss": round(losses[-1], 4) if losses else None,
            "recipe": {k: v for k, v in tuned.recipe.items()}}


_SETS: dict = {}
_MODELS: dict = {}
_EMB: dict = {}
_SIMPLE: dict = {}  # (set, seed, model): simple_models, for every fine-tune of that split


def _init(prepared_path: str, models: dict) -> None:
    global _SETS, _MODELS
    logging.basicConfig(level=logging.WARNING)
    with gzip.open(prepared_path, "rt", encoding="utf-8") as f:
        _SETS = json.load(f)
    _MODELS = models


def _run_group(group: list[dict]) -> list[dict]:
    """Fine-tunes of one (set, seed), each with the selection a run would make; the first chunk of
    each (set, seed) also reports the simple models."""
    first = group[0]
    data = _SETS[first["set"]]
    model = _model_for(data["language"], _MODELS)
    key = (first["set"], first["seed"], model)
    if key not in _SIMPLE:
        _SIMPLE[key] = simple_models(data, seed=first["seed"], model=model, emb_cache=_EMB)
    simple = _SIMPLE[key]
    rows = []

    def emit(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row, default=str), flush=True)

    if first.get("chunk", 0) == 0:
        for cand, figs in simple.items():
            emit({"set": first["set"], "seed": first["seed"], "model": cand, "test": figs["test"], "val": figs["val"]})
    for task in group:
        where = {"set": task["set"], "seed": task["seed"]}
        try:
            cell = fine_tune_cell(data, seed=task["seed"], recipe=task["recipe"], model=model)
            chosen = selected_cell(data, seed=task["seed"], tuned_probs=cell.pop("probs"), simple=simple)
        except Exception as exc:  # one failing cell must not lose the others
            emit({**where, "model": task["recipe"], "error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            continue
        emit({**where, "model": task["recipe"], **cell})
        emit({**where, "model": f"{task['recipe']} selected", **chosen})
    return rows


def run_grid(prepared_path: str, tasks: list[dict], *, workers: int = 1, models: dict | None = None,
             sizes: dict[str, int] | None = None) -> list[dict]:
    """Run `tasks` (tasks_for) over the prepared sets; `sizes` (reviews per set) orders the work."""
    models = models or {}
    by_split: dict[tuple, list] = {}
    for t in tasks:
        by_split.setdefault((t["set"], t["seed"]), []).append(t)
    groups = []
    for (name, _), split_tasks in by_split.items():
        size = 1 if name in FULL_SETS else CHUNK  # long fine-tunes each on their own worker
        for c in range(0, len(split_tasks), size):
            groups.append([{**t, "chunk": c // size} for t in split_tasks[c : c + size]])
    # biggest sets first, so that the long fine-tunes do not start last
    ordered = sorted(groups, key=lambda g: -(sizes or {}).get(g[0]["set"], 0) * len(g))
    rows: list[dict] = []
    if workers <= 1:
        _init(prepared_path, models)
        for g in ordered:
            rows += _run_group(g)
        return rows
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init,
                             initargs=(prepared_path, models)) as pool:
        for part in pool.map(_run_group, ordered):
            rows += part
    return rows


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Mean ± standard deviation of test macro-F1 per set (rows) and model / recipe (columns)."""
    ok = pd.DataFrame([r for r in rows if "test" in r])
    if ok.empty:
        return ok
    agg = ok.groupby(["set", "model"])["test"].agg(["mean", "std", "count"]).reset_index()
    agg["cell"] = [f"{m:.3f}" + (f" ± {s:.3f}" if c > 1 else "") + ("" if c > 1 else " (1 seed)")
                   for m, s, c in zip(agg["mean"], agg["std"].fillna(0), agg["count"])]
    order = ["tfidf", "frozen", *[c for r in [*RECIPES, *[f"+{o}" for o in OPTIONS]] for c in (r, f"{r} selected")]]
    table = agg.pivot(index="set", columns="model", values="cell")
    return table[[c for c in order if c in table.columns]]


def markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in table.iterrows():
        lines.append(f"| {name} | " + " | ".join(str(row[c]) if pd.notna(row[c]) else "" for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m segcore.bench.recipes", description=__doc__.splitlines()[0])
    p.add_argument("--sets", default=",".join(SMALL_SETS + FULL_SETS))
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--options", default=",".join(OPTIONS))
    p.add_argument("--option-sets", default=",".join(OPTION_SETS), help="sets the options run on")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--data", default=str(SHARED), help="the shared data folder (../shared/data)")
    p.add_argument("--prepared", default=None, help="prepared sets (.json.gz): read if present, else written")
    p.add_argument("--model-en", default=None, help="English encoder (default: the shipped MiniLM)")
    p.add_argument("--model-zh", default=None, help="encoder for other languages (default: multilingual)")
    p.add_argument("--limit", type=int, default=None, help="at most N reviews per set (quick checks)")
    p.add_argument("--out", default=None, help="write rows and the table (JSON) here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = [s for s in args.sets.split(",") if s]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        p.error(f"unknown set(s) {unknown}; known: {', '.join(SETS)}")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = args.prepared or os.path.join(tmp, "sets.json.gz")
        sets = load_or_prepare(prepared, names, data_dir=Path(args.data))
        if args.limit:
            sets = {n: {**d, **{k: d[k][: args.limit] for k in ("texts", "labels", "groups")}} for n, d in sets.items()}
            prepared = os.path.join(tmp, "limited.json.gz")
        if not Path(prepared).exists():  # read-only cache given: write a private copy
            prepared = os.path.join(tmp, "sets.json.gz")
            with gzip.open(prepared, "wt", encoding="utf-8") as f:
                json.dump(sets, f, ensure_ascii=False)
        tasks = tasks_for(sets, seeds=args.seeds, recipes=[r for r in args.recipes.split(",") if r],
                          options=[o for o in args.options.split(",") if o],
                          option_sets=[s for s in args.option_sets.split(",") if s])
        log.info("%d fine-tunes over %d sets", len(tasks), len(sets))
        started = time.time()
        rows = run_grid(prepared, tasks, workers=args.workers, models={"en": args.model_en, "zh": args.model_zh},
                        sizes={n: len(d["texts"]) for n, d in sets.items()})
    table = summarise(rows)
    print(markdown(table))
    print(f"{len(rows)} rows in {time.time() - started:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "table": table.to_dict()}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
