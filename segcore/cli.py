"""Command line: `segscope run|score|watch|explain|bench|app` (also `python -m segcore ...`)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__
from .compare.options import CompareConfig
from .config import AspectConfig, RunConfig, ScoreOptions, TrainConfig, default_of, options
from .errors import SegscopeError
from .io.atomic import atomic_folder
from .services.watch import watch
from .threads import configure_process

COLUMN_FLAGS = {"text": "--text-col", "title": "--title-col", "id": "--id-col", "rating": "--rating-col",
                "label": "--label-col", "date": "--date-col", "amount": "--amount-col", "product": "--product-col"}


class _Parser(argparse.ArgumentParser):
    """Usage errors end like every other refusal: one `segscope: error:` line, exit 2."""

    def error(self, message):
        raise SegscopeError(f"{self.prog.removeprefix('python -m ')}: {message}")


# The configs whose options become flags, by the name `config_from_args` files them under.
OWNERS = {"run": RunConfig, "train": TrainConfig, "aspect": AspectConfig, "score": ScoreOptions,
          "compare": CompareConfig}
GROUPS = {
    "run": ("data and segments", None),
    "train": ("model training (experts)",
              "--mlm-epochs, --lora, --adversarial and --augment are training options: each one on is reported "
              "in metrics.json ('options'), including the test macro-F1 of a second fine-tune without it on the "
              "same split and seed, so every option on costs one more training run (--no-compare skips those)."),
    "aspect": ("aspect tagger", None),
    "score": ("scoring engine", None),
    "compare": ("alerts", None),
}


def cli_options(command: str):
    """(owner, field, Option, flag) for every flag of `command` defined on the config classes."""
    for owner, cls in OWNERS.items():
        for f, opt in options(cls):
            if opt.cli is not False and command in opt.commands:
                yield owner, f, opt, opt.cli if isinstance(opt.cli, str) else "--" + f.name.replace("_", "-")


def _dest(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_")


def _shown(value, opt) -> str | None:
    if value is None:
        return opt.none
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _add_options(p: argparse.ArgumentParser, command: str) -> None:
    """Flags, types, help and shown defaults from the configs' Option metadata. Every flag's parsed
    default is None ("not given"), so the dataclass default applies; values are checked by the
    dataclasses (segcore.config.check), which name the setting in the same words as the Python API
    and the app (no argparse `choices`, whose message would differ)."""
    groups = {}
    for owner, f, opt, flag in cli_options(command):
        if owner not in groups:
            title, description = GROUPS[owner]
            groups[owner] = p.add_argument_group(title, description)
        default = default_of(f)
        shown = _shown(default, opt)
        kw = dict(dest=_dest(flag), default=None, help=opt.help + (f" (default: {shown})" if shown else ""))
        kind = opt.type or type(default)
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif opt.choices:
            kw["metavar"] = "{" + ",".join(str(c) for c in opt.choices if c is not None) + "}"
        else:
            kw["type"] = kind
            kw["metavar"] = opt.metavar or {int: "N", float: "F"}.get(kind, "X")
        groups[owner].add_argument(flag, **kw)


def _common(p: argparse.ArgumentParser, command: str) -> None:
    p.add_argument("input", help="reviews file: .csv, .xlsx, .parquet, .json or .jsonl")
    p.add_argument("--out", required=True, help="output folder")
    for role, flag in COLUMN_FLAGS.items():
        p.add_argument(flag, dest=f"col_{role}", metavar="C",
                       help=f"{role} column (auto-detected when omitted; \"\" for none)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    _add_options(p, command)


# The app of the checkout this package is installed from (editable install) or imported from.
CHECKOUT = Path(__file__).resolve().parent.parent
# Paths the app reads from the environment: made absolute before `segscope app` moves into the checkout.
PATH_VARIABLES = ("SEGSCOPE_MODELS_DIR", "SEGSCOPE_MODEL_CACHE", "SEGSCOPE_JIT_CACHE")


def _prog() -> str:
    return "segscope" if Path(sys.argv[0]).name == "segscope" else "python -m segcore"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=_prog(), description="Segment customers from their reviews.")
    parser.add_argument("--version", action="version", version=f"segscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fine-tune on a review file, segment customers, write outputs")
    _common(run, "run")
    score = sub.add_parser("score", help="score a file with a saved model, without training")
    score.add_argument("--model", required=True, help="the model/ folder of a finished run")
    _common(score, "score")
    watch = sub.add_parser("watch", help="score the files of a folder not yet scored into --out, keep a history, "
                                         "compare the newest scoring with the one before")
    watch.add_argument("folder", help="folder that new review files arrive in")
    watch.add_argument("--model", required=True, help="the model/ folder of a finished run")
    watch.add_argument("--out", required=True, help="output folder (history, scores/, compare.json)")
    watch.add_argument("--debug", action="store_true", help="show tracebacks")
    _add_options(watch, "watch")
    from .explain.command import add_explain_parser

    add_explain_parser(sub)
    try:  # the benchmark lives in its own module
        from .bench import add_bench_parser
    except ImportError:
        pass
    else:
        add_bench_parser(sub)
    sub.add_parser("app", help="open the web app (streamlit run app.py in the checkout); further arguments go to "
                               "Streamlit, e.g. --server.port 8502",
                   description="Runs `streamlit run app.py` of the checkout segscope is installed from, in that "
                               "folder, so its .streamlit/ settings and secrets apply. Further arguments go to "
                               "Streamlit (e.g. --server.port 8502 --server.address 0.0.0.0).")
    return parser


def app_command(streamlit_args: list[str], root: Path = CHECKOUT) -> list[str]:
    """The `streamlit run` command line of `segscope app`; refuses an install without the app
    (a plain wheel carries segcore only: the app runs from a checkout)."""
    app = root / "app.py"
    if not (app.is_file() and (root / "pages").is_dir() and (root / "ui").is_dir()):
        raise SegscopeError(f"segscope app needs the source checkout, and {root} has no app.py: install the checkout "
                            "with `pip install -e .` and run it from there.")
    return [sys.executable, "-m", "streamlit", "run", str(app), *streamlit_args]


def _run_app(streamlit_args: list[str]) -> None:
    """Becomes `streamlit run app.py` in the checkout (exec: signals and the exit code are Streamlit's)."""
    command = app_command(streamlit_args)
    for name in PATH_VARIABLES:  # relative to where the command was given, not to the checkout
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).expanduser().resolve())
    os.chdir(CHECKOUT)
    sys.stdout.flush()
    os.execv(sys.executable, command)


def config_from_args(args: argparse.Namespace) -> tuple[RunConfig, ScoreOptions]:
    """The run's config (and `score`'s engine options) from parsed flags: the flags given, the
    dataclass defaults for the rest; bad values raise SegscopeError from the dataclasses."""
    given: dict[str, dict] = {owner: {} for owner in OWNERS}
    for owner, f, _, flag in cli_options(args.command):
        value = getattr(args, _dest(flag))
        if value is not None:
            given[owner][f.name] = value
    score = ScoreOptions(**given["score"])
    batch = given["run"].get("predict_batch_size") or given["train"].get("batch_size")
    if batch and score.engine == "local":  # --batch-size is the scoring batch too, at least 16
        given["run"]["predict_batch_size"] = max(batch, 16)
    elif score.engine == "ray":  # there it is reviews per actor call: score_ray takes it as is
        given["run"].pop("predict_batch_size", None)
    columns = {role: getattr(args, f"col_{role}") for role in COLUMN_FLAGS}
    config = RunConfig(columns=columns, train=TrainConfig(**given["train"]),
                       aspect_config=AspectConfig(**given["aspect"]), **given["run"])
    return config, score


def _outputs(args, *inside: str):
    """The folder to write into: swapped in as --out when the command succeeds (io.atomic), so a
    failed or killed run leaves the old outputs or none. Refuses an --out that holds the input or
    the model being read."""
    out = Path(args.out).resolve()
    for given in inside:
        path = Path(given).resolve()
        if path == out or out in path.parents:
            raise SegscopeError(f"--out {args.out} holds {given}, which the command reads; choose another output folder.")
    return atomic_folder(out)


def _score_ray(args, config, out: Path) -> dict:
    if args.chunk_rows:
        raise SegscopeError("--chunk-rows is for --engine local; Ray streams the input in batches (--batch-size).")
    try:
        from .engines.ray import score_ray
    except ImportError as exc:
        if not (exc.name or "").startswith("ray"):
            raise
        raise SegscopeError("--engine ray needs Ray Data: install the ray extra, e.g. pip install -e '.[ray]' "
                            "in the checkout.") from None
    return score_ray(args.input, args.model, out, config, address=args.address,
                     num_gpus_per_worker=args.num_gpus_per_worker, batch_size=args.batch_size, workers=args.workers)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra and args.command != "app":  # only `app` passes arguments on (to Streamlit)
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SegscopeError as exc:
        print(f"segscope: error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "app":
            _run_app(extra)
        # Bad option values are refused before logging is set up or anything heavy is imported.
        config, score = config_from_args(args) if args.command in ("run", "score") else (None, None)
        logging.basicConfig(level=logging.INFO, format="segscope: %(message)s", stream=sys.stderr)
        for noisy in ("httpx", "urllib3", "numba", "transformers.modeling_utils"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if args.command in ("run", "score"):
            configure_process()  # one inter-op pool thread: the work is intra-op (segcore.threads)
        if args.command == "bench":
            import transformers

            transformers.logging.set_verbosity_error()
            from .bench import run_bench

            return run_bench(args)
        if args.command == "explain":
            import transformers

            transformers.logging.set_verbosity_error()
            from .explain.command import run_explain

            return run_explain(args)
        import transformers

        transformers.logging.set_verbosity_error()  # keep the Trainer's progress bar, drop load reports
        from .pipeline import process_rank
        from .run import SegscopeRun

        if args.command == "watch":
            thresholds = CompareConfig(**{f.name: getattr(args, _dest(flag)) for owner, f, _, flag
                                          in cli_options("watch") if getattr(args, _dest(flag)) is not None})
            from .services.scoring import scoring_config

            # the run's own seed, PII masking, precision and language (services.scoring.SCORING_KEEPS)
            added = watch(args.folder, args.model, args.out, config=scoring_config(args.model),
                          compare_config=thresholds, chunk_rows=args.chunk_rows)
            if added:
                print(f"  {added[-1]['top_alert'] or 'no comparison'} -> {Path(args.out) / 'compare.json'}")
            else:
                print(f"nothing new in {args.folder}")
            return 0
        if args.command == "run":
            if process_rank() != 0:  # a non-zero torchrun rank: it trains, rank 0 writes
                SegscopeRun.fit(args.input, config, out_dir=args.out)
                return 0
            with _outputs(args, args.input) as work:
                result = SegscopeRun.fit(args.input, config, out_dir=work).result
            m = result.metrics
            aspects = m.get("aspects", {})
            extra = (f", aspect span F1 {aspects['heldout']['span']['f1']:.3f} vs lexicon"
                     if aspects.get("enabled") else "")
            print(f"done in {m['seconds']:.0f}s ({m['language']}, model {m['model']['chosen']}): test macro-F1 "
                  f"{m['test']['macro_f1']:.3f} (baseline {m['baseline']['macro_f1']:.3f}), {m['k']} segments"
                  f"{extra} -> {Path(args.out)}")
            print(f"  {m['selection']['message']}")
            for name, effect in m.get("options", {}).items():
                if effect.get("macro_f1_without") is not None:
                    print(f"  {name}: test macro-F1 {effect['macro_f1_with']:.3f} with, "
                          f"{effect['macro_f1_without']:.3f} without")
        elif score.engine == "ray":
            with _outputs(args, args.input, args.model) as work:
                summary = _score_ray(args, config, work)
            print(f"scored {summary['n_reviews']} reviews ({summary['n_dropped']} rows in errors/) on Ray "
                  f"in {summary['seconds']:.0f}s, {summary['reviews_per_s']:.0f} reviews/s -> {Path(args.out)}")
        else:
            for flag in ("address", "num_gpus_per_worker", "workers"):
                if getattr(args, flag) is not None:
                    raise SegscopeError(f"--{flag.replace('_', '-')} is for --engine ray.")
            with _outputs(args, args.input, args.model) as work:
                result = SegscopeRun.load(args.model, config).score(args.input, work, chunk_rows=score.chunk_rows)
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
        if getattr(args, "debug", False):
            raise
        msg = " ".join(str(exc).split())[:300]
        print(f"segscope: error: unexpected {type(exc).__name__}: {msg} (rerun with --debug for details)",
              file=sys.stderr)
        return 1
