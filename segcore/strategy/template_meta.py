"""Check and save an edited strategy template: it must render for the run's segments and for made-up
ones covering the other situations before it is saved, and it is saved atomically.

What the editor shows of a template lives beside this: strategy.template_file (metadata, condition,
message), strategy.conditions (the condition as form clauses), strategy.merge_fields (the message
with fact chips)."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from ..errors import SegscopeError
from .suggest import SUFFIX, TemplateError, _environment, _trial_profiles, render_template, segment_facts, with_relative

__all__ = ["TemplateError", "check_for_saving", "check_template", "save_template"]

def check_template(source: str, *, name: str, profiles: dict[int, dict]) -> dict[int, str]:
    """{segment: rendered text} for every segment (empty: does not apply), or the template's
    one-line TemplateError (with `.line`) from the first segment it fails for. Rendered as the
    page shows it (values escaped, no image / link / HTML): `profiles` are the raw ones."""
    env = _environment({name: source}, page=True)
    return {int(s): render_template(env, name, segment_facts(p), where=f" for segment {s}")
            for s, p in sorted(with_relative(profiles).items())}


def check_for_saving(source: str, *, name: str, profiles: dict[int, dict]) -> None:
    """Refuse (TemplateError) a template that fails on the run's segments or on made-up ones
    covering the other situations (no churn data, aspects, ...): a saved copy must not break
    the next run's strategies."""
    check_template(source, name=name, profiles=profiles)
    check_template(source, name=name, profiles=_trial_profiles())


def save_template(folder: str | Path, name: str, source: str) -> Path:
    """Write `name` + SUFFIX into folder atomically: a reader sees the old file or the new one."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}", name):
        raise SegscopeError(f"'{name}' is not a valid template name (letters, digits, _ . -).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}{SUFFIX}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(source)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
