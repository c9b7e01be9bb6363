"""`python -m segcore explain --model RUN/model (--text "..." | INPUT)`: label and word weights."""
from __future__ import annotations

import argparse
import json

from ..errors import SegscopeError


def add_explain_parser(sub) -> None:
    p = sub.add_parser("explain", help="show which words made a saved model give a review its label")
    p.add_argument("input", nargs="?", help="reviews file (.csv, .xlsx, .parquet, .json, .jsonl); or use --text")
    p.add_argument("--model", required=True, help="the model/ folder of a finished run")
    p.add_argument("--text", action="append", help="a review to explain (repeatable)")
    p.add_argument("--text-col", metavar="C", help="text column of INPUT (auto-detected when omitted)")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="explain the first N reviews of INPUT (default: 20; each costs a few model passes)")
    p.add_argument("--top", type=int, default=8, metavar="K", help="words shown per review (default: 8)")
    p.add_argument("--steps", type=int, default=32, metavar="N", help="integration steps (default: 32)")
    p.add_argument("--json", action="store_true", help="one JSON object per review (every word and weight)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _texts(args: argparse.Namespace) -> list[str]:
    if bool(args.text) == bool(args.input):
        raise SegscopeError("give either --text \"...\" or an INPUT file to explain.")
    if args.text:
        texts = args.text
    else:
        from ..ingest.clean import clean_text
        from ..ingest.columns import detect_columns
        from ..ingest.load import read_table

        if args.limit < 1:
            raise SegscopeError(f"--limit must be at least 1, got {args.limit}.")
        frame = read_table(args.input)
        column = detect_columns(frame, text=args.text_col).text
        if column is None:
            raise SegscopeError(f"No text column found in {args.input}; name it with --text-col.")
        texts = [t for t in (clean_text(v) for v in frame[column].head(args.limit * 2)) if t][: args.limit]
    texts = [t for t in (s.strip() for s in texts) if t]
    if not texts:
        raise SegscopeError("Nothing to explain: the text is empty.")
    return texts


def run_explain(args: argparse.Namespace) -> int:
    from .attribution import Explainer, explain

    if args.top < 1 or args.steps < 2:
        raise SegscopeError("--top must be at least 1 and --steps at least 2.")
    texts = _texts(args)
    explainer = Explainer.load(args.model)
    if explainer.note and not args.json:
        print(f"note: {explainer.note}")
    for i, e in enumerate(explain(explainer, texts, n_steps=args.steps)):
        if args.json:
            print(json.dumps({"review": i, "text": e.text, **e.as_dict()}, ensure_ascii=False))
            continue
        preview = e.text if len(e.text) <= 100 else e.text[:97] + "..."
        print(f"[{i}] {e.label} ({e.probability:.2f}){' (long review: the end was not read)' if e.truncated else ''}"
              f"  {preview}")
        for w in sorted((w for w in e.words if w.weight), key=lambda w: -abs(w.weight))[: args.top]:
            print(f"    {w.weight:+.3f}  {w.text}")
    return 0
