"""`python -m segcore explain --model RUN/model (--text "..." | INPUT)`: label and word weights."""
from __future__ import annotations

import argparse
import json
import unicodedata

from ..errors import SegscopeError
from ..ingest.clean import clean_text
from ..ingest.columns import detect_columns
from ..ingest.load import read_table
from .attribution import Explainer, explain

MAX_STEPS = 256  # integration steps: each one more forward and backward pass per review (20,000: MemoryError)


def add_explain_parser(sub) -> None:
    p = sub.add_parser("explain", help="show which words made a saved model give a review its label")
    p.add_argument("input", nargs="?", help="reviews file (.csv, .xlsx, .parquet, .json, .jsonl); or use --text")
    p.add_argument("--model", required=True, help="the model/ folder of a finished run")
    p.add_argument("--text", action="append", help="a review to explain (repeatable)")
    p.add_argument("--text-col", metavar="C", help="text column of INPUT (auto-detected when omitted)")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="explain the first N reviews of INPUT (default: 20; each costs a few model passes)")
    p.add_argument("--top", type=int, default=8, metavar="K", help="words shown per review (default: 8)")
    p.add_argument("--steps", type=int, default=32, metavar="N",
                   help=f"integration steps (default: 32, at most {MAX_STEPS})")
    p.add_argument("--json", action="store_true", help="one JSON object per review (every word and weight)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _texts(args: argparse.Namespace) -> list[str]:
    if bool(args.text) == bool(args.input):
        raise SegscopeError("give either --text \"...\" or an INPUT file to explain.")
    if args.text:
        texts = args.text
    else:
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


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(text) -> str:
    """Text from a review or a model folder as the terminal should show it: control characters
    (ANSI escapes that could move the cursor, recolour or hide the real output line), bidi and
    other format characters, line and paragraph separators written as escapes (tabs and new lines
    too: one review, one line)."""
    return "".join(_escaped(c) if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else c
                   for c in str(text))


def _json_line(record: dict) -> str:
    """One JSON object per line; the characters json leaves raw (DEL, C1 controls, bidi / format
    characters) escaped as JSON \\u escapes too, so the line is safe on a terminal and still valid JSON."""
    text = json.dumps(record, ensure_ascii=False)
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
                   else c for c in text)


def run_explain(args: argparse.Namespace) -> int:
    if args.top < 1 or not 2 <= args.steps <= MAX_STEPS:
        raise SegscopeError(f"--top must be at least 1 and --steps between 2 and {MAX_STEPS}, got {args.steps}.")
    texts = _texts(args)
    explainer = Explainer.load(args.model)
    if explainer.note and not args.json:
        print(f"note: {shown(explainer.note)}")
    for i, e in enumerate(explain(explainer, texts, n_steps=args.steps)):
        if args.json:
            print(_json_line({"review": i, "text": e.text, **e.as_dict()}))
            continue
        preview = e.text if len(e.text) <= 100 else e.text[:97] + "..."
        print(f"[{i}] {shown(e.label)} ({e.probability:.2f})"
              f"{' (long review: the end was not read)' if e.truncated else ''}  {shown(preview)}")
        for w in sorted((w for w in e.words if w.weight), key=lambda w: -abs(w.weight))[: args.top]:
            print(f"    {w.weight:+.3f}  {shown(w.text)}")
    return 0
