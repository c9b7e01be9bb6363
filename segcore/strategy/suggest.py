"""Marketing strategy suggestions per segment, rendered from editable jinja2 templates.

Each template decides itself whether it applies (an `{% if %}` around its body): an empty
rendering means "not for this segment". Templates run in jinja2's sandbox, so an edited
template cannot reach Python internals."""
from __future__ import annotations

from pathlib import Path

from jinja2 import DictLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import SegscopeError

DEFAULT_TEMPLATE_DIR = Path(__file__).parent / "templates"
SUFFIX = ".md.j2"


def load_templates(directory: str | Path | None = None) -> dict[str, str]:
    """{name: source} from a folder of *.md.j2 files (the shipped defaults when None)."""
    folder = Path(directory) if directory else DEFAULT_TEMPLATE_DIR
    if not folder.is_dir():
        raise SegscopeError(f"Template folder {folder} not found; give a folder of *{SUFFIX} files.")
    found = {p.name[: -len(SUFFIX)]: p.read_text(encoding="utf-8") for p in sorted(folder.glob(f"*{SUFFIX}"))}
    if not found:
        raise SegscopeError(f"No *{SUFFIX} templates in {folder}; add at least one.")
    return found


def segment_facts(profile: dict) -> dict:
    """The flat facts a template sees as `seg`."""
    b = profile.get("behaviour", {})
    shares = profile.get("label_shares", {})
    return {
        "id": profile["segment_id"], "name": profile.get("name", f"Segment {profile['segment_id']}"),
        "size": profile["size"], "n_reviews": profile["n_reviews"],
        "share_of_customers": profile.get("share_of_customers", 0.0),
        "keywords": list(profile.get("keywords", [])),
        "label_shares": dict(shares), "dominant_label": profile.get("dominant_label"),
        "positive_share": shares.get("positive", 0.0), "negative_share": shares.get("negative", 0.0),
        "neutral_share": shares.get("neutral", 0.0),
        "mean_rating": b.get("mean_rating"), "churn_risk": b.get("churn_risk"),
        "median_recency_days": b.get("median_recency_days"), "mean_frequency": b.get("mean_frequency"),
        "mean_monetary": b.get("mean_monetary"), "total_monetary": b.get("total_monetary"),
        "top_products": list(profile.get("top_products", {}).keys()),
        "examples": list(profile.get("examples", [])),
        # Aspects (empty without an aspect tagger): {name: {share, n_reviews, positive, ...}} and the
        # aspects most mentioned in negative reviews, as [{name, negative_mention_share, ...}].
        "aspects": {k: dict(v) for k, v in profile.get("aspects", {}).items()},
        "negative_aspects": [dict(a) for a in profile.get("negative_aspects", [])],
        "top_negative_aspect": (profile.get("negative_aspects") or [{}])[0].get("name"),
        "top_negative_aspect_share": (profile.get("negative_aspects") or [{}])[0].get("negative_mention_share", 0.0),
    }


def _environment(templates: dict[str, str]) -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=DictLoader(templates), undefined=StrictUndefined,
                                trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render_strategies(profiles: dict[int, dict], *, templates: dict[str, str]) -> dict[int, list[dict]]:
    """{segment_id: [{template, title, text}, ...]} for the templates that apply."""
    env = _environment(templates)
    out: dict[int, list[dict]] = {}
    for seg, profile in sorted(profiles.items()):
        facts = segment_facts(profile)
        items = []
        for name in sorted(templates):
            try:
                text = env.get_template(name).render(seg=facts).strip()
            except TemplateError as exc:
                raise SegscopeError(f"Template '{name}' failed for segment {seg}: {exc}; fix or reset it.") from None
            if not text:
                continue
            first = text.splitlines()[0]
            title = first.lstrip("#").strip() if first.startswith("#") else name.replace("_", " ")
            items.append({"template": name, "title": title, "text": text})
        out[int(seg)] = items
    return out


def strategies_markdown(profiles: dict[int, dict], strategies: dict[int, list[dict]]) -> str:
    lines = ["# Marketing strategy report", ""]
    for seg, profile in sorted(profiles.items()):
        f = segment_facts(profile)
        lines += [f"# Segment {seg}: {f['name']}", "",
                  f"{f['size']} customers, {f['n_reviews']} reviews; "
                  + ", ".join(f"{k} {v:.0%}" for k, v in f["label_shares"].items())
                  + (f"; keywords: {', '.join(f['keywords'][:8])}" if f["keywords"] else ""), ""]
        items = strategies.get(seg, [])
        if not items:
            lines += ["_No template applies to this segment._", ""]
        for item in items:
            lines += [item["text"].replace("\n## ", "\n### ").replace("## ", "### ", 1), ""]
        if f["examples"]:
            lines += ["Example reviews:", ""] + [f"> {e}" for e in f["examples"]] + [""]
    return "\n".join(lines)
