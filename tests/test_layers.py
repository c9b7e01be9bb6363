"""The layers (docs/design.md "Layers"): the import-linter contract in pyproject.toml holds on the
tree and breaks, naming the import, when a stage imports upward; no module uses another package's
private (`_name`) names."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ROOT

# The real linter, as .ci/run runs it (`lint-imports`); run from the module so that no PATH is needed.
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache"]
FIRST_PARTY = ("segcore", "ui", "pages")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    # lint-imports puts its working directory first on sys.path: the packages under `cwd` are linted
    return subprocess.run(LINT, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_contract_is_in_the_repo_and_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]["contracts"]
    assert {c["type"] for c in contracts} == {"layers", "forbidden", "acyclic_siblings"}
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    for name in ("segcore", "ui"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    load = tmp_path / "segcore" / "ingest" / "load.py"
    load.write_text(load.read_text("utf-8") + "\nfrom segcore.services import jobs  # noqa: E402,F401\n", "utf-8")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "Contracts: 1 kept, 2 broken." in out
    assert "segcore.ingest is not allowed to import segcore.services:" in out
    assert "- segcore.ingest.load -> segcore.services.jobs (l." in out
    assert "No cycles are allowed in segcore." in out  # services imports ingest: now a loop too


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    """Where a module belongs: segcore's sub-package (or top-level module), ui, pages."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "segcore" else parts[0]


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _source(module: str, node: ast.ImportFrom, package: bool) -> str | None:
    if node.level == 0:
        return node.module
    base = module.split(".") if package else module.split(".")[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def private_crossings(path: Path, module: str) -> list[str]:
    """`from X import _name` and `X._name` in `path` (the module `module`) where X belongs to
    another package; each as 'module:line what'."""
    mine = _package(module)
    tree = ast.parse(path.read_text("utf-8"))
    modules: dict[str, str] = {}  # local name -> another package's module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _source(module, node, path.name == "__init__.py")
            if not source or source.split(".")[0] not in FIRST_PARTY:
                continue
            for alias in node.names:
                if _is_module(f"{source}.{alias.name}"):
                    if _package(f"{source}.{alias.name}") != mine:
                        modules[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif _private(alias.name) and _package(source) != mine:
                    found.append(f"{module}:{node.lineno} from {source} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in FIRST_PARTY:
                    continue
                if alias.asname:  # import a.b as c: c is a.b
                    modules[alias.asname] = alias.name
                else:  # import a.b: a is bound, a.b._x is reached through it
                    modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [], node.value
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in modules:
                owner = ".".join([modules[value.id], *chain])
                if _package(owner) != mine:
                    found.append(f"{module}:{node.lineno} {owner}.{node.attr}")
    return found


def _sources() -> list[Path]:
    return [p for d in FIRST_PARTY for p in sorted((ROOT / d).rglob("*.py"))] + [ROOT / "app.py"]


def test_no_private_names_across_packages():
    found = [line for path in _sources() for line in private_crossings(path, _module(path))]
    assert found == []


def test_the_private_name_check_sees_both_spellings(tmp_path):
    # a module of segcore.compare: another package's private names are caught whether imported or
    # reached through a module; its own package's private names and dunders are not
    probe = tmp_path / "probe.py"
    probe.write_text("from ..analysis.keywords import _term_stats\nfrom ..encoders import models\n"
                     "from .phrases import _vectorizer\nimport segcore.strategy.suggest\n"
                     "models._private_thing()\nsegcore.strategy.suggest._environment({})\nmodels.__name__\n"
                     "segcore.compare.phrases._vectorizer\n", "utf-8")
    assert private_crossings(probe, "segcore.compare.probe") == [
        "segcore.compare.probe:1 from segcore.analysis.keywords import _term_stats",
        "segcore.compare.probe:5 segcore.encoders.models._private_thing",
        "segcore.compare.probe:6 segcore.strategy.suggest._environment"]
