"""Your own aspect categories: a lexicon file (category -> seed terms), checked in one place.

The file is JSON, one object whose keys are category names and whose values are lists of seed
terms, English and Chinese mixed as you like:

    {"sizing": ["runs small", "runs large", "size up", "size down"], "物流": ["快递", "发货", "物流"]}

It replaces the shipped list (segcore/aspects/lexicon.py) as a whole: start from
`shipped_lexicon()` (or the app's Aspects page) to keep the shipped categories. English terms
match whole words (optional plural "s"), Chinese terms as substrings; see lexicon.lexicon_spans.

The app keeps the edited list in its workspace folder (`LEXICON_FILE`); a run saves the list it
used next to its aspect tagger, so `segcore score` with that run tags with it again."""
from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..errors import SegscopeError
from .lexicon import SEED_LEXICON, flat_lexicon

Lexicon = dict[str, tuple[str, ...]]

LEXICON_FILE = "aspect_lexicon.json"  # in the workspace folder and in a run's model/aspects/ (beside its aspects.json)
MAX_NAME = 40  # characters: names are shown in profiles, strategies and the aspects column
MAX_TERM = 60  # characters: a seed term is a word or a short phrase, not a sentence
MAX_TERMS = 300  # per category
MAX_CATEGORIES = 60  # each one is two more labels for the tagger to learn
_BAD_NAME = re.compile(r"[;\n\r\t]")  # ';' separates aspects in the `aspects` column


def shipped_lexicon() -> Lexicon:
    """The shipped categories, English and Chinese terms in one list each."""
    return flat_lexicon(SEED_LEXICON)


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def validate_lexicon(data) -> Lexicon:
    """A checked copy of `data` ({name: [terms]}): names and terms trimmed, repeated terms kept
    once. Raises SegscopeError (one line, naming the category) for an empty, repeated (ignoring
    case), too long or ';'-holding name, a category without terms, a term that is not text or is
    too long, or too many categories / terms."""
    if not isinstance(data, Mapping):
        raise SegscopeError('An aspect list must map each category to its seed terms, e.g. '
                            '{"sizing": ["runs small", "size up"]}.')
    if not data:
        raise SegscopeError("The aspect list has no categories; add one or reset to the shipped list.")
    if len(data) > MAX_CATEGORIES:
        raise SegscopeError(f"The aspect list has {len(data)} categories; at most {MAX_CATEGORIES} are allowed.")
    out: Lexicon = {}
    seen: dict[str, str] = {}
    owner: dict[str, str] = {}  # term -> its category: a term belongs to one category
    for raw_name, raw_terms in data.items():
        name = _clean(raw_name) if isinstance(raw_name, str) else ""
        if not name:
            raise SegscopeError("An aspect category has an empty name; give every category a name.")
        if len(name) > MAX_NAME:
            raise SegscopeError(f"Aspect category name '{name[:MAX_NAME]}…' is too long "
                                f"({len(name)} characters, at most {MAX_NAME}).")
        if _BAD_NAME.search(str(raw_name)):
            raise SegscopeError(f"Aspect category name '{name}' contains ';' or a line break; remove it.")
        if name.casefold() in seen:
            raise SegscopeError(f"Aspect category '{name}' appears twice (as '{seen[name.casefold()]}' too); "
                                "names must differ.")
        seen[name.casefold()] = name
        if isinstance(raw_terms, str) or not isinstance(raw_terms, Iterable):
            raise SegscopeError(f"Aspect category '{name}': the seed terms must be a list of words or phrases.")
        terms: list[str] = []
        for term in raw_terms:
            if not isinstance(term, str):
                raise SegscopeError(f"Aspect category '{name}': seed term {term!r} is not text.")
            term = _clean(term)
            if len(term) > MAX_TERM:
                raise SegscopeError(f"Aspect category '{name}': seed term '{term[:30]}…' is too long "
                                    f"({len(term)} characters, at most {MAX_TERM}).")
            if term and term.casefold() not in {t.casefold() for t in terms}:
                terms.append(term)
        if not terms:
            raise SegscopeError(f"Aspect category '{name}' has no seed terms; add at least one word or phrase.")
        for term in terms:
            if term.casefold() in owner:
                raise SegscopeError(f"Seed term '{term}' is in both '{owner[term.casefold()]}' and '{name}'; "
                                    "keep it in one category.")
            owner[term.casefold()] = name
        if len(terms) > MAX_TERMS:
            raise SegscopeError(f"Aspect category '{name}' has {len(terms)} seed terms; at most {MAX_TERMS}.")
        out[name] = tuple(terms)
    return out


MAX_FILE_BYTES = 1_000_000  # 60 categories of 300 terms of 60 characters fit in about 1.1 MB of JSON; real ones in kB


def parse_lexicon(data: bytes | str, name: str) -> Lexicon:
    """The checked lexicon in JSON text or bytes (an uploaded or saved file called `name`); any
    failure is one line naming the file: not JSON, nested too deeply (`[` x 100,000 raised a
    RecursionError with the server's paths), too big, or not a valid aspect list."""
    if len(data) > MAX_FILE_BYTES:
        raise SegscopeError(f"Aspect list {name} is {len(data):,} bytes; an aspect list is at most "
                            f"{MAX_FILE_BYTES:,}.")
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        parsed = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SegscopeError(f"Aspect list {name} is not a JSON object of category -> terms "
                            f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]}).") from None
    except RecursionError:
        raise SegscopeError(f"Aspect list {name} is nested too deeply to be an aspect list; it must be one "
                            'object of category -> terms, e.g. {"sizing": ["runs small"]}.') from None
    try:
        return validate_lexicon(parsed)
    except SegscopeError as exc:
        raise SegscopeError(f"{name}: {exc}") from None


def load_lexicon(path: str | Path) -> Lexicon:
    """The checked lexicon in a JSON file (see the module doc)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SegscopeError(f"Aspect list {path} does not exist.") from None
    return parse_lexicon(data, path.name)


def save_lexicon(lexicon: Mapping, path: str | Path) -> Path:
    """Check and write `lexicon` as JSON (replacing the file in one step)."""
    checked = validate_lexicon(lexicon)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".aspects-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(lexicon_json(checked))
    os.replace(tmp, path)
    return path


def lexicon_json(lexicon: Mapping) -> str:
    """The file's text: one category per line, so it reads and diffs well."""
    lines = [f" {json.dumps(k, ensure_ascii=False)}: {json.dumps(list(v), ensure_ascii=False)}"
             for k, v in lexicon.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def parse_terms(text: str) -> list[str]:
    """Seed terms typed in a box: separated by commas (also ， and 、), semicolons or new lines."""
    return [t for t in (_clean(p) for p in re.split(r"[,，、;；\n]", text or "")) if t]


# Edits: each returns a new, checked lexicon and leaves `lexicon` as it was. Terms given to a
# category move there from any other category (a term tags one aspect); a category left without
# terms is dropped (`moved_terms` tells what moved).

def _take(lexicon: Mapping, name: str, terms: list[str]) -> dict:
    wanted = {_clean(t).casefold() for t in terms}
    out = {}
    for k, v in lexicon.items():
        kept = list(v) if k == name else [t for t in v if t.casefold() not in wanted]
        if kept or k == name:
            out[k] = kept
    return out


def moved_terms(before: Mapping, after: Mapping) -> dict[str, list[str]]:
    """{category: the terms it lost} from `before` to `after` (all of them for a dropped category)."""
    return {k: lost for k, v in before.items() if (lost := [t for t in v if t not in after.get(k, ())])}


def add_category(lexicon: Mapping, name: str, terms: Iterable[str]) -> Lexicon:
    terms = list(terms)
    clash = next((k for k in lexicon if k.casefold() == _clean(name).casefold()), None)
    if clash is not None:  # checked before any term moves out of it
        raise SegscopeError(f"Aspect category '{_clean(name)}' appears twice (as '{clash}' too); names must differ.")
    return validate_lexicon({**_take(lexicon, "", terms), name: terms})


def rename_category(lexicon: Mapping, old: str, new: str) -> Lexicon:
    if old not in lexicon:
        raise SegscopeError(f"There is no aspect category '{old}'.")
    if _clean(new) == old:
        return validate_lexicon(lexicon)
    return validate_lexicon({(new if k == old else k): v for k, v in lexicon.items()})


def set_terms(lexicon: Mapping, name: str, terms: Iterable[str]) -> Lexicon:
    if name not in lexicon:
        raise SegscopeError(f"There is no aspect category '{name}'.")
    terms = list(terms)
    return validate_lexicon({k: (terms if k == name else v) for k, v in _take(lexicon, name, terms).items()})


def remove_category(lexicon: Mapping, name: str) -> Lexicon:
    if name not in lexicon:
        raise SegscopeError(f"There is no aspect category '{name}'.")
    if len(lexicon) == 1:
        raise SegscopeError("The last aspect category cannot be removed; reset to the shipped list instead.")
    return validate_lexicon({k: v for k, v in lexicon.items() if k != name})


# The app's copy, kept in its workspace folder.

def workspace_lexicon(root: str | Path) -> Lexicon | None:
    """The edited list in the workspace folder `root`, or None when it holds none (shipped list)."""
    path = Path(root) / LEXICON_FILE
    return load_lexicon(path) if path.exists() else None


def save_workspace_lexicon(root: str | Path, lexicon: Mapping) -> Path:
    return save_lexicon(lexicon, Path(root) / LEXICON_FILE)


def reset_workspace_lexicon(root: str | Path) -> None:
    """Back to the shipped list."""
    (Path(root) / LEXICON_FILE).unlink(missing_ok=True)
