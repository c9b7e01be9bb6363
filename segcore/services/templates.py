"""Where edited strategy templates live and who may change them.

A person's templates are theirs: saved into their own folder (models/.data/<owner key>/templates/,
Chinese ones in templates/zh/) and used only for what they see. Team templates
(models/.data/templates/) apply to everybody and only an admin saves them. What a person sees is
the shipped set, each template replaced by the team's copy, then by their own copy, when there is one.
Templates run sandboxed (strategy.sandbox) and render inert (strategy.safe_markdown) anyway; keeping
them personal means one person's edit never changes what another reads."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import SegscopeError
from ..strategy.suggest import SUFFIX, load_templates
from ..strategy.template_meta import save_template
from .owners import Owner

TEAM_DIR = "templates"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,100}")  # as template_meta.save_template checks


class TemplateStore:
    def __init__(self, data_root: str | Path):
        self.root = Path(data_root)  # models/.data

    @staticmethod
    def _language(folder: Path, language: str) -> Path:
        return folder if language == "en" else folder / language

    def team_folder(self, language: str = "en") -> Path:
        return self._language(self.root / TEAM_DIR, language)

    def own_folder(self, owner: Owner, language: str = "en") -> Path:
        return self._language(self.root / owner.key / TEAM_DIR, language)

    def folder(self, owner: Owner, language: str = "en", *, team: bool = False) -> Path:
        """Where `owner` saves: their own folder; the team's only for an admin."""
        if team and not owner.admin:
            raise SegscopeError("Only an admin saves templates for the whole team; save it as your own.")
        return self.team_folder(language) if team else self.own_folder(owner, language)

    @staticmethod
    def _saved(folder: Path) -> dict[str, str]:
        return load_templates(folder) if folder.is_dir() and any(folder.glob(f"*{SUFFIX}")) else {}

    def team(self, language: str = "en") -> dict[str, str]:
        return self._saved(self.team_folder(language))

    def own(self, owner: Owner, language: str = "en") -> dict[str, str]:
        return self._saved(self.own_folder(owner, language))

    def effective(self, owner: Owner, language: str = "en") -> dict[str, str]:
        """The templates `owner` sees and their runs use: shipped, then the team's, then their own."""
        return {**load_templates(language=language), **self.team(language), **self.own(owner, language)}

    def save(self, owner: Owner, name: str, source: str, *, language: str = "en", team: bool = False) -> Path:
        return save_template(self.folder(owner, language, team=team), name, source)

    def reset(self, owner: Owner, name: str, *, language: str = "en", team: bool = False) -> None:
        if not _NAME.fullmatch(name):
            raise SegscopeError(f"'{name}' is not a valid template name.")
        (self.folder(owner, language, team=team) / f"{name}{SUFFIX}").unlink(missing_ok=True)
