"""One definition per option (segcore.config): the Python API, the CLI and the Train page take
their defaults, bounds and messages from it; one seed and one precision per run; one
TrainingArguments recipe for fine-tuning, MLM and the aspect tagger."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest
from transformers import TrainerCallback

from segcore.cli import build_parser, cli_options, config_from_args, main
from segcore.config import AspectConfig, RunConfig, ScoreOptions, TrainConfig, default_of
from segcore.training.recipe import LR_SMALL_ENCODER
from segcore.errors import SegscopeError

# (Python API call, CLI flags, Train page widget key and value or None, expected message)
BAD = [
    (lambda: TrainConfig(epochs=0), ["--epochs", "0"], ("epochs", 0), "epochs must be at least 1, got 0."),
    (lambda: TrainConfig(lr=-1e-5), ["--lr=-1e-5"], ("lr", -1e-5), "lr must be at least 1e-07, got -1e-05."),
    (lambda: RunConfig(k=1), ["--k", "1"], ("k", 1), "k must be at least 2, got 1."),
    (lambda: RunConfig(precision="fp8"), ["--precision", "fp8"], None,
     "precision must be one of auto, bf16, fp32, got 'fp8'."),
    (lambda: TrainConfig(lora=True, adversarial="fgm"), ["--lora", "--adversarial", "fgm"], ("checks", None),
     "FGM perturbs the word embeddings, which LoRA freezes: use adversarial 'fgm' or lora, not both."),
    (lambda: AspectConfig(epochs=0), ["--aspect-epochs", "0"], ("aspect_epochs", 0),
     "aspect_config.epochs must be at least 1, got 0."),
]


@pytest.fixture
def train_page(models_dir, small_csv):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.file_uploader[0].set_value(("small_reviews.csv", small_csv.read_bytes(), "text/csv"))
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("api,flags,page,message", BAD, ids=[b[3][:22] for b in BAD])
def test_bad_values_refused_with_one_message_everywhere(api, flags, page, message, capsys, tmp_path,
                                                        train_page, models_dir):
    capsys.readouterr()  # what the fixtures' setup logged
    with pytest.raises(SegscopeError) as refused:
        api()
    assert str(refused.value) == message
    # The CLI, in this process: exit 2, one line, the same words (before the input is even read).
    assert main(["run", str(tmp_path / "reviews.csv"), "--out", str(tmp_path / "o"), *flags]) == 2
    assert capsys.readouterr().err.splitlines() == [f"segscope: error: {message}"]
    if page is None:  # precision is not a page control
        assert not [w for w in train_page.selectbox if w.key == "precision"]
        return
    at = train_page
    key, value = page
    if key == "checks":  # both boxes ticked: refused with the same line, nothing starts
        at.checkbox(key="lora").set_value(True)
        at.checkbox(key="fgm").set_value(True)
        at.button[0].click()
        at.run()
        assert [e.value for e in at.error] == [message]
        assert not models_dir.exists() or not [p for p in models_dir.iterdir() if not p.name.startswith(".")]
        return
    # The control's bound is the dataclass's: the value is out of its range, and Streamlit
    # does not take it (the control keeps an in-range value).
    widget = at.number_input(key=key)
    assert widget.proto.has_min and value < widget.proto.min
    widget.set_value(value)
    at.run()
    kept = at.number_input(key=key).value
    assert kept != value and (kept is None or kept >= widget.proto.min)

def _option_fields():
    owners = {"run": RunConfig, "train": TrainConfig, "aspect": AspectConfig, "score": ScoreOptions}
    return owners


@pytest.mark.parametrize("command", ["run", "score"])
def test_cli_defaults_and_help_come_from_the_dataclasses(command, tmp_path):
    parser = build_parser()
    base = [command, "in.csv", "--out", "o"] + (["--model", "m"] if command == "score" else [])
    args = parser.parse_args(base)
    config, score = config_from_args(args)
    # Nothing given: the built configs are exactly the dataclass defaults.
    assert config == RunConfig(columns={role: None for role in config.columns})
    assert score == ScoreOptions()
    sub = parser._subparsers._group_actions[0].choices[command]
    helps = {flag: a.help for a in sub._actions for flag in a.option_strings}
    owners = _option_fields()
    flags = list(cli_options(command))
    assert len({flag for *_, flag in flags}) == len(flags)  # one flag, one option
    for owner, f, opt, flag in flags:
        assert opt.help in helps[flag]
        default = default_of(f)
        shown = {True: "on", False: "off", None: opt.none}.get(default, None) if isinstance(default, (bool, type(None))) \
            else (f"{default:g}" if isinstance(default, float) else str(default))
        if shown:
            assert helps[flag].endswith(f"(default: {shown})"), (flag, helps[flag])
        assert getattr(owners[owner](), f.name) == default
    readme = (ROOT / "README.md").read_text()
    usage = readme[readme.index("## Command line"):readme.index("`INPUT` is")]
    listed = set(re.findall(r"--[a-z][a-z0-9-]+", usage))
    for flag in listed:  # every flag the README lists still parses
        assert any(flag in a.option_strings or flag == "--" + a.dest.replace("_", "-")
                   for p in parser._subparsers._group_actions[0].choices.values() for a in p._actions), flag


def test_cli_values_reach_the_configs():
    args = build_parser().parse_args(
        ["run", "in.csv", "--out", "o", "--epochs", "2", "--lr", "1e-4", "--batch-size", "8", "--k", "4",
         "--seed", "7", "--precision", "fp32", "--no-mask-pii", "--no-compare", "--aspects", "--aspect-epochs", "3",
         "--mlm-epochs", "1", "--augment", "--max-rows", "300", "--text-col", "Text", "--dropout", "0.2"])
    config, _ = config_from_args(args)
    t = config.train
    assert (t.epochs, t.lr, t.batch_size, t.mlm_epochs, t.augment, t.dropout) == (2, 1e-4, 8, 1, True, 0.2)
    assert (config.k, config.seed, config.precision, config.mask_pii, config.compare_options) == (4, 7, "fp32", False,
                                                                                               False)
    assert config.aspects and config.aspect_config.epochs == 3 and config.max_rows == 300
    assert config.columns["text"] == "Text" and config.predict_batch_size == 16  # --batch-size 8, at least 16
    # One seed and one precision: the nested configs carry the run's.
    assert (t.seed, t.precision, config.aspect_config.seed, config.aspect_config.precision) == (7, "fp32", 7, "fp32")


def test_one_seed_and_precision_per_run():
    config = RunConfig(seed=7, precision="bf16")
    assert config.train.seed == config.aspect_config.seed == 7
    assert config.train.precision == config.aspect_config.precision == "bf16"
    config.seed = 9  # the run's value is THE value: nested configs follow
    assert config.train.seed == config.aspect_config.seed == 9
    config.train = TrainConfig(epochs=2)
    assert config.train.seed == 9 and config.train.epochs == 2
    assert replace(config, seed=3).train.seed == 3
    with pytest.raises(SegscopeError, match=r"train.seed is 3 but the run's seed is 7: a run has one seed"):
        RunConfig(seed=7, train=TrainConfig(seed=3))
    with pytest.raises(SegscopeError, match="aspect_config.precision is 'fp32' but the run's precision is 'auto'"):
        RunConfig(aspect_config=AspectConfig(precision="fp32"))
    with pytest.raises(SegscopeError, match="epochs must be at least 1, got 0"):
        config.train.epochs = 0  # later assignments are checked too
    alone = TrainConfig()
    assert alone.seed is None and alone.run_seed == RunConfig().seed and alone.run_precision == RunConfig().precision


class _Args(TrainerCallback):
    def on_train_begin(self, args, state, control, **kw):
        self.args = args


@pytest.fixture(scope="module")
def texts(sample_frame):
    from segcore.ingest.labels import labels_from_rating

    frame = sample_frame.head(60)
    y = labels_from_rating(frame["Score"].astype(float)).tolist()
    return frame["Text"].tolist(), y


def test_run_seed_reaches_the_trainer(tiny_model, texts):
    from segcore.training.train import fine_tune

    x, y = texts
    config = RunConfig(seed=7, precision="fp32",
                       train=TrainConfig(model=str(tiny_model), epochs=1, max_steps=2, max_length=32,
                                         progress_bar=False))
    seen = _Args()
    fine_tune(x[:40], y[:40], x[40:], y[40:], labels=["negative", "neutral", "positive"], config=config.train,
              callbacks=[seen])
    args = seen.args
    assert args.seed == args.data_seed == 7 and args.bf16 is False  # the run's seed and precision
    # Fine-tuning's recipe, as before the builder: fused AdamW, warm-up share, best-epoch selection.
    assert args.optim == "adamw_torch_fused" and args.warmup_steps == config.train.warmup_ratio
    assert args.load_best_model_at_end and args.metric_for_best_model == "macro_f1"
    # lr None: by encoder (the tiny test encoder is a 2-layer BERT: the small-encoder rate)
    assert args.learning_rate == LR_SMALL_ENCODER and args.weight_decay == config.train.weight_decay
    assert args.average_tokens_across_devices is False


def test_three_trainers_share_one_builder(tiny_model, texts, tmp_path, monkeypatch):
    """Fine-tuning, MLM and the aspect tagger build their TrainingArguments with
    segcore.training.args.training_arguments (a recording wrapper around the real one)."""
    import segcore.aspects.model as aspect_model
    import segcore.training.mlm as mlm
    import segcore.training.train as train
    from segcore.training import args as builder

    for module in (train, mlm, aspect_model):
        source = Path(module.__file__).read_text()
        assert "TrainingArguments(" not in source and "training_arguments(" in source, module.__name__
    built = []

    def recording(**kw):
        built.append(builder.training_arguments(**kw))
        return built[-1]

    for module in (train, mlm, aspect_model):
        monkeypatch.setattr(module, "training_arguments", recording)
    x, y = texts
    run = RunConfig(seed=11, train=TrainConfig(model=str(tiny_model), epochs=1, max_steps=1, max_length=32,
                                                progress_bar=False),
                    aspect_config=AspectConfig(model=str(tiny_model), max_steps=1, max_length=32, progress_bar=False))
    train.fine_tune(x[:40], y[:40], x[40:], y[40:], labels=["negative", "neutral", "positive"], config=run.train)
    tc = run.train
    mlm.domain_adapt(x, model=str(tiny_model), epochs=1, out_dir=tmp_path / "mlm", seed=tc.seed, max_steps=1,
                     max_length=32, warmup_ratio=tc.warmup_ratio, weight_decay=tc.weight_decay, precision=tc.precision)
    aspect_model.train_tagger(x[:20], run.aspect_config)
    assert len(built) == 3
    for args in built:
        assert args.seed == 11 and args.optim == "adamw_torch_fused" and args.warmup_steps == 0.1
        assert args.train_sampling_strategy == "group_by_length" and args.report_to == []
    assert built[0].load_best_model_at_end and not built[1].load_best_model_at_end
    assert built[1].learning_rate == tc.mlm_lr and built[1].average_tokens_across_devices is True


def test_train_page_controls_come_from_the_definitions(train_page):
    """Every page control's default, bounds and help are the Option's; no hand-copied values."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_page_defs", ROOT / "pages" / "train.py")
    source = spec.loader.get_data(str(ROOT / "pages" / "train.py")).decode()
    assert not re.search(r"number_input\([^)]*\d", source.split("def control")[0])  # no literal bounds
    from segcore.config import DATA, EXPERT, options

    seen = 0
    for cls in (RunConfig, TrainConfig, AspectConfig):
        for f, opt in options(cls):
            if opt.group not in (DATA, EXPERT) and f.name != "aspects":
                continue
            key = opt.key or f.name
            default = default_of(f)
            widgets = [w for w in train_page.checkbox if w.key == key]
            boxes = [w for w in train_page.selectbox if w.key == key]
            if widgets:
                (w,) = widgets
                assert w.value == (default if isinstance(default, bool) else default is not None)
            elif boxes:
                (w,) = boxes
                assert w.value == default and list(w.options) == [str(c) for c in opt.choices]
            else:
                w = train_page.number_input(key=key)
                assert w.value == default
                assert (w.proto.has_min, w.proto.min if w.proto.has_min else None) == (
                    opt.min is not None, opt.min)
                assert (w.proto.has_max, w.proto.max if w.proto.has_max else None) == (
                    opt.max is not None, opt.max)
            assert opt.help[1:] in w.proto.help
            seen += 1
    assert seen >= 18
