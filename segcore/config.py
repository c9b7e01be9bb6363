"""Every option of a run, defined once: the typed dataclasses the Python API, the CLI and the app share.

No torch here, so the app and light workers can read and validate options cheaply."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .errors import SegscopeError

AUTO_MODEL = "auto"  # by the reviews' language: English -> default, anything else -> multilingual
ADVERSARIAL = (None, "fgm")


@dataclass
class TrainConfig:
    """Fine-tuning options; defaults suit the shipped MiniLM on a 2-core CPU."""

    model: str = AUTO_MODEL  # "auto" (by language), "default", "multilingual", a folder or hub id
    epochs: int = 4
    batch_size: int = 16
    lr: float = 8e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    dropout: float = 0.1  # hidden states and classifier head
    # Attention-probability dropout: 0 because sampling its [batch, heads, len, len] mask took
    # ~40 % of a CPU training step; hidden and head dropout still regularise.
    attention_dropout: float = 0.0
    precision: str = "auto"  # "auto": bf16 mixed precision where the chip does bf16 natively
    # None: "eager" on a CPU, whose bf16 backward ran ~1.7x faster there than SDPA's; the
    # model's default (SDPA) on a GPU. Scoring always uses the default.
    attn_implementation: str | None = None
    max_length: int = 128
    patience: int = 2
    seed: int = 42
    class_weights: bool = True  # used only when classes are imbalanced (max/min > 1.5)
    eval_batch_size: int = 64
    max_steps: int = -1  # > 0 caps training steps (quick checks)
    progress_bar: bool = True
    # Training options (README, "Training options"); each one on also trains once without it on
    # the same split, to report its effect in metrics.json (see segcore.training.options).
    mlm_epochs: int = 0  # > 0: domain-adaptive MLM pretraining on the review texts first
    mlm_lr: float = 5e-5
    lora: bool = False  # LoRA adapters on the attention projections instead of full fine-tuning
    lora_r: int = 8
    lora_alpha: int = 16
    lora_lr: float = 5e-4  # adapters need a larger step than full fine-tuning
    adversarial: str | None = None  # "fgm": adversarial perturbation of the word embeddings
    fgm_epsilon: float = 1.0
    augment: bool = False  # random deletion / swap copies of the training reviews (never val/test)

    def __post_init__(self):
        if self.adversarial not in ADVERSARIAL:
            raise SegscopeError(f"adversarial must be one of {', '.join(map(str, ADVERSARIAL))}, got '{self.adversarial}'.")
        if self.adversarial and self.lora:
            raise SegscopeError("FGM perturbs the word embeddings, which LoRA freezes: use --adversarial fgm "
                                "or --lora, not both.")
        if self.mlm_epochs < 0:
            raise SegscopeError(f"mlm_epochs must be 0 or more, got {self.mlm_epochs}.")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class AspectConfig:
    """Tagger training options; defaults keep the extra CPU time to a few minutes."""

    model: str = "default"
    epochs: int = 2
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 128  # tokens per window; longer reviews are split into overlapping windows
    stride: int = 16
    max_train_reviews: int = 1500  # training cost stays bounded on big files
    heldout_share: float = 0.2
    precision: str = "auto"
    seed: int = 42
    max_steps: int = -1
    n_examples: int = 10
    progress_bar: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunConfig:
    """Options of `segcore run`; `columns` holds the column names given by the user."""

    columns: dict[str, str | None] = field(default_factory=dict)
    sheet: str | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    k: int | None = None
    max_rows: int | None = None
    seed: int = 42
    templates: str | None = None
    predict_batch_size: int = 64
    mask_pii: bool = True  # e-mails, phone and card numbers masked for training and exports
    precision: str = "auto"  # scoring: "auto" = bf16 on a GPU, fp32 on a CPU; "bf16" / "fp32"
    # With a training option on, train once more without it to report its effect (segcore.training.options).
    compare_options: bool = True
    # Aspect tagger (segcore.aspects): trained from the seed lexicon's weak labels; its model,
    # precision and seed follow `train` / `seed`. Off by default: on a CPU it costs about
    # one more fine-tuning (README, Aspects).
    aspects: bool = False
    aspect_config: AspectConfig = field(default_factory=AspectConfig)

    def as_dict(self) -> dict:
        return asdict(self)
