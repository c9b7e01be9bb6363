"""The words audit: every segment name and play line of a quick run, with the figures behind them.

    python -m segcore.bench.words [--only SET[,SET]] [--out docs/audit] [--work DIR]

For each data set (the shipped sample; Women's Clothing 3,000 and the full file, text + rating,
and with `Class Name` as product; both Amazon Fine Food files; 2,000 reviews of each Chinese set,
the eval-only ones read from ../shared/data locally) it runs `segcore run --quick` on the columns
named below only, then writes `<out>/<set>.md`: per segment its name with the facts the name
states (product words with their part-of-speech tag, size group, aspect: share of the segment's
reviews, share in the other segments, whether the 25 % rule holds) and every play line with the
facts it names. The files can be checked line by line; the first lines count rule breaks.

Eval-only sets (no licence to copy them): only figures, names, product words and short evidence
phrases (two or three words) are written, never review text; the run folders with the reviews
stay in `--work` (a temporary folder by default). A `--work` folder with finished runs is
re-segmented (segcore.services.edit.resegment_run: the saved base embeddings, seconds) instead
of run again, so the audit follows code changes to names and plays quickly; a `_product` set is
made from its text + rating twin's run when that is there (`_with_product`)."""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ..config import DEFAULT_SEED

from ..analysis.facts import NAME_MIN_SHARE, holds
from ..config import RunConfig
from ..encoders.models import resolve_model
from ..ingest.columns import ColumnMap
from ..ingest.prepare import prepare_reviews
from ..services.edit import resegment_run
from ..strategy.segments import analyse
from ..strategy.suggest import load_templates

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
SAMPLE_ROWS = 3000
ZH_ROWS = 2000

# name -> (file(s), columns given {role: column}, rows (None: all), eval-only)
SETS: dict[str, tuple] = {
    "sample": (ROOT / "segcore" / "data" / "sample_reviews.csv",
               {"text": "Text", "rating": "Score", "id": "UserId", "date": "Time"}, None, False),
    "womens_3k": (SHARED / "en" / "womens_clothing_ecommerce_reviews.csv",
                  {"text": "Review Text", "rating": "Rating"}, SAMPLE_ROWS, False),
    "womens_3k_product": (SHARED / "en" / "womens_clothing_ecommerce_reviews.csv",
                          {"text": "Review Text", "rating": "Rating", "product": "Class Name"}, SAMPLE_ROWS, False),
    "womens_full": (SHARED / "en" / "womens_clothing_ecommerce_reviews.csv",
                    {"text": "Review Text", "rating": "Rating"}, None, False),
    "womens_full_product": (SHARED / "en" / "womens_clothing_ecommerce_reviews.csv",
                            {"text": "Review Text", "rating": "Rating", "product": "Class Name"}, None, False),
    "amazon_food_1k": (SHARED / "en" / "amazon_fine_food_1k.csv",
                       {"text": "Text", "rating": "Score", "id": "UserId", "date": "Time"}, None, False),
    "amazon_food_1k_b": (SHARED / "en" / "amazon_fine_food_1k_b.csv",
                         {"text": "Text", "rating": "Score", "id": "UserId", "date": "Time"}, None, False),
    "asap_zh": ([SHARED / "zh" / f"asap_{p}_sample.csv" for p in ("train", "dev", "test")],
                {"text": "reviewbody", "rating": "star"}, None, False),
    "online_shopping_zh": (SHARED / "eval-only" / "online_shopping_10_cats.csv",
                           {"text": "review", "label": "label"}, ZH_ROWS, True),
    "waimai_zh": (SHARED / "eval-only" / "waimai_10k.csv", {"text": "review", "label": "label"}, ZH_ROWS, True),
}


def _frame(files, columns: dict, rows: int | None, seed: int) -> pd.DataFrame:
    files = files if isinstance(files, list) else [files]
    frame = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)[list(columns.values())]
    if rows and len(frame) > rows:
        frame = frame.sample(rows, random_state=seed).reset_index(drop=True)
    return frame


def ensure_run(name: str, work: Path, *, seed: int = DEFAULT_SEED) -> Path | None:
    """The quick run of a set in `work`: re-segmented when already there, else run; None when the
    set's file is missing."""
    from ..pipeline import run_pipeline

    files, columns, rows, _ = SETS[name]
    if not all(Path(f).exists() for f in (files if isinstance(files, list) else [files])):
        return None
    out = work / name
    base = work / name.removesuffix("_product")
    if name.endswith("_product") and not out.exists() and (base / "model" / "segscope.json").exists():
        _with_product(base, out, files, columns, rows, seed)  # the same reviews and base embeddings
    if (out / "model" / "segscope.json").exists():
        meta = json.loads((out / "model" / "segscope.json").read_text(encoding="utf-8"))
        resegment_run(out, k=None, templates=load_templates(language=meta.get("output_language", "en")), seed=seed)
        return out
    csv = work / f"{name}.csv"
    _frame(files, columns, rows, seed).to_csv(csv, index=False)
    run_pipeline(csv, out, RunConfig(quick=True, seed=seed, columns=dict(columns)))
    return out


def _with_product(base: Path, out: Path, files, columns: dict, rows: int | None, seed: int) -> None:
    """A `_product` set from its text + rating twin's finished run: the same reviews and saved base
    embeddings, with the product column added to the scored reviews and to the run's columns;
    re-segmenting it then gives what `run --quick` with that column gives (segments depend only on
    the base embeddings and the ratings; every review of these sets is rated), without embedding
    the reviews a second time."""
    shutil.copytree(base, out)
    frame = _frame(files, columns, rows, seed)
    scored = pd.read_csv(out / "reviews_scored.csv")
    scored.insert(1, columns["product"], frame[columns["product"]].reindex(scored["row_id"]).to_numpy())
    scored.to_csv(out / "reviews_scored.csv", index=False)
    meta_file = out / "model" / "segscope.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["columns"]["product"] = columns["product"]
    meta_file.write_text(json.dumps(meta, indent=2), encoding="utf-8")


def from_bench_cache(name: str, *, seed: int = DEFAULT_SEED) -> tuple[dict, dict] | None:
    """(profiles, strategies) of a set from the base embeddings `segcore bench --only segments`
    cached (the same model and review texts), segmented as a quick run segments them: every
    review of these sets is rated, so the quick run's labels are the file's own and its segments
    depend only on these embeddings. None when the cache has no embeddings of the set."""
    files, columns, rows, _ = SETS[name]
    if not all(Path(f).exists() for f in (files if isinstance(files, list) else [files])):
        return None
    prepared = prepare_reviews(_frame(files, columns, rows, seed), ColumnMap(**columns))
    texts = prepared.reviews["_text"].tolist()
    model = resolve_model("default")
    key = hashlib.sha1((model + "\x00" + "\x00".join(texts)).encode("utf-8")).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"segscope-bench-emb-{key}.npy"
    if not path.exists():
        return None
    emb = np.load(path)
    labels = prepared.labels
    probs = np.zeros((len(texts), len(labels)))
    known = prepared.reviews["label"].map({lab: i for i, lab in enumerate(labels)})
    probs[np.arange(len(texts))[known.notna().to_numpy()], known.dropna().astype(int).to_numpy()] = 1.0
    result = analyse(prepared.reviews, probs, emb, labels=labels, templates=load_templates(), seed=seed)
    return result.profiles, result.strategies


def _pct(x) -> str:
    return "–" if x is None else f"{x * 100:.1f} %"


def _present(word: str, line: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", word):
        return word in line
    return re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", line, re.IGNORECASE) is not None


def audit_lines(profiles: dict[int, dict], strategies: dict[int, list[dict]], *, title: str) -> tuple[list[str], dict]:
    """The audit file's lines and its counts: {segments, play_lines, aspect_breaks, product_breaks}."""
    counts = {"segments": len(profiles), "play_lines": 0, "aspect_breaks": 0, "product_breaks": 0}
    body: list[str] = []
    for seg, p in sorted(profiles.items()):
        facts, stated = p.get("facts") or {}, p.get("name_facts") or {}
        mood = (p.get("relative") or {}).get("attitude")
        body += [f"## Segment {seg}: {p['name']}", "",
                 f"{p['size']:,} customers, {p['n_reviews']:,} reviews; mood: {mood}; product kind: "
                 f"{(facts.get('kind') or {}).get('kind')} ({_pct((facts.get('kind') or {}).get('share'))} of its "
                 f"reviews speak of taste / freshness / ingredients or fit)", "",
                 "| the name states | fact | POS tag | share of the segment's reviews | share elsewhere | rule holds |",
                 "|---|---|---|---:|---:|---|"]
        for r in stated.get("products") or []:
            noun = r.get("source") == "column" or str(r.get("tag", "")).split()[-1:] in (["NN"], ["NNS"], ["NNP"],
                                                                                      ["NNPS"], ["n"], ["nz"], ["nl"],
                                                                                      ["ng"], ["nt"])
            least = 0.25 if r.get("source") == "column" else 0.05
            ok = noun and r["share"] >= least and (r["lift"] is None or r["lift"] >= 1.5)
            counts["product_breaks"] += not ok
            body.append(f"| product | {r['key']} | {r.get('tag') or '(product column)'} | {_pct(r['share'])} | "
                        f"{_pct(r['elsewhere'])} | {'yes' if ok else '**NO**'} |")
        if stated.get("size"):
            r = stated["size"]
            body.append(f"| size group | {r['key']} | – | {_pct(r['share'])} | {_pct(r['elsewhere'])} | "
                        f"{'yes' if r['share'] >= NAME_MIN_SHARE else '**NO**'} |")
        if stated.get("aspect"):
            r = stated["aspect"]
            ok = holds(r)
            counts["aspect_breaks"] += not ok
            body.append(f"| aspect (typed) | {r.get('word', r['key'])} | – | {_pct(r['share'])} | {_pct(r['elsewhere'])} | "
                        f"{'yes' if ok else '**NO**'} |")
            if "mention_share" in r:
                body.append(f"| aspect (any mention) | {r.get('word', r['key'])} | – | {_pct(r['mention_share'])} | "
                            f"{_pct(r['mention_elsewhere'])} | {'yes' if ok else '**NO**'} |")
        if not stated:
            body.append("| (nothing but the mood) | | | | | |")
        body += ["", "Plays (each line, then the facts it names):", ""]
        known = []
        for r in facts.get("products") or []:
            known.append((r["key"], f"product {r['key']} ({r.get('tag') or 'product column'}): "
                                    f"{_pct(r['share'])} here, {_pct(r['elsewhere'])} elsewhere"))
        kinds = {"happy": ("praise", "mentions"), "unhappy": ("complaints", "mentions")}.get(
            mood, ("praise", "complaints", "mentions"))
        for kind in kinds:
            for r in facts.get(kind) or []:
                word = r.get("word", r["key"])
                known.append((word, f"{kind} {word}: {_pct(r['share'])} here, {_pct(r['elsewhere'])} elsewhere"))
        for item in strategies.get(seg, []):
            for line in item["text"].splitlines():
                if not line.strip():
                    continue
                counts["play_lines"] += 1
                cited = list(dict.fromkeys(d for w, d in known if _present(w, line)))
                body.append(f"- `{line.strip()}`" + (f"  \n  ↳ {'; '.join(cited[:6])}" if cited else ""))
        body.append("")
    head = [f"# Words audit: {title}", "",
            f"{counts['segments']} segments, {counts['play_lines']} play lines; names stating an aspect that breaks "
            f"the 25 % rule: {counts['aspect_breaks']}; product words in names that are no noun (or not stated "
            f"in 5 % of the segment's reviews, 25 % for a product column, 1.5 times elsewhere): "
            f"{counts['product_breaks']}.", "",
            "Shares are of the segment's reviews and of the other segments' reviews. An aspect is named only when "
            "at least 25 % of the segment's reviews mention it with the segment's polarity (praise: positive "
            "reviews, complaints: negative ones) and more often than the other segments' reviews, typed and as "
            "any mention (docs/segment-words.md).", ""]
    return head + body, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segcore.bench.words", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {','.join(SETS)}")
    parser.add_argument("--out", default=str(ROOT / "docs" / "audit"), help="folder of the <set>.md files")
    parser.add_argument("--work", default=None, help="folder for the runs (kept; default a temporary folder)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bench-cache", action="store_true",
                        help="a set without a run in --work: segment from the base embeddings `segcore bench --only "
                             "segments` cached, where it has them (the full Women's file in minutes instead of an "
                             "embedding pass)")
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.only.split(",")] if args.only else list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        print(f"segscope: error: unknown set(s) {', '.join(unknown)}; known: {', '.join(SETS)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="segscope-words-")
    work = Path(args.work or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    summary = {}
    try:
        for name in names:
            started = time.time()
            has_run = (work / name / "model" / "segscope.json").exists() or \
                (name.endswith("_product") and (work / name.removesuffix("_product") / "model" / "segscope.json").exists())
            cached = from_bench_cache(name, seed=args.seed) if args.bench_cache and not has_run else None
            if cached is not None:
                profiles, strategies = cached
            else:
                run = ensure_run(name, work, seed=args.seed)
                if run is None:
                    print(f"{name}: file not found, skipped", flush=True)
                    continue
                profiles = {int(k): v for k, v in json.loads((run / "segment_profiles.json").read_text("utf-8")).items()}
                strategies = {int(k): v for k, v in json.loads((run / "strategies.json").read_text("utf-8")).items()}
            files, columns, rows, eval_only = SETS[name]
            given = ", ".join(f"{role} = `{col}`" for role, col in columns.items())
            title = (f"{name} ({sum(p['n_reviews'] for p in profiles.values()):,} reviews"
                     f"{f', a seeded sample of {rows:,}' if rows else ''}; columns given: {given}"
                     f"{'; eval-only data: figures and short phrases only' if eval_only else ''})")
            lines, counts = audit_lines(profiles, strategies, title=title)
            (out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary[name] = {**counts, "seconds": round(time.time() - started, 1)}
            print(json.dumps({"set": name, **summary[name]}), flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0 if all(s["aspect_breaks"] == 0 and s["product_breaks"] == 0 for s in summary.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
