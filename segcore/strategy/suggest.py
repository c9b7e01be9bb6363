"""Marketing strategy suggestions per segment, rendered from editable jinja2 templates.

Each template decides itself whether it applies (an `{% if %}` around its body): an empty
rendering means "not for this segment". Templates run in jinja2's immutable sandbox, so an
edited template cannot reach Python internals, and under limits (`LimitedSandbox`): time, loop
steps and calls, size of any string or list it builds and of its output. Every failure, a
limit included, is one `SegscopeError` line naming the template and line."""
from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from jinja2 import DictLoader, StrictUndefined, UndefinedError

from ..analysis.profiles import add_relative, buyers_phrase
from ..errors import SegscopeError
from .safe_markdown import inert_markdown, md_inline
from .sandbox import MAX_SIZE, MAX_STEPS, TIME_LIMIT_S, LimitedSandbox, TemplateLimit  # noqa: F401 (re-exported)

DEFAULT_TEMPLATE_DIR = Path(__file__).parent / "templates"
# Languages of the shipped templates, segment names and the report; Chinese in templates/zh
# (same file names, same conditions).
OUTPUT_LANGUAGES = ("en", "zh")
SUFFIX = ".md.j2"
MAX_TEMPLATE_BYTES = 100_000  # per file; the shipped ones are under 2 KB


class TemplateError(SegscopeError):
    """A template that failed, as one line; `line` (of the template file, or None) and `reason`
    let an editor point at the place."""

    def __init__(self, message: str, *, template: str, line: int | None, reason: str):
        super().__init__(message)
        self.template, self.line, self.reason = template, line, reason


def output_language(requested: str | None, detected: str | None) -> str:
    """The language of names, strategies and report: `requested` ('en' / 'zh'), or for 'auto' /
    None Chinese for Chinese reviews (segcore.text.language) and English for everything else."""
    if requested in OUTPUT_LANGUAGES:
        return requested
    return "zh" if detected == "zh" else "en"


def template_dir(language: str = "en") -> Path:
    """The shipped templates of a language."""
    return DEFAULT_TEMPLATE_DIR / "zh" if language == "zh" else DEFAULT_TEMPLATE_DIR


def load_templates(directory: str | Path | None = None, *, language: str = "en") -> dict[str, str]:
    """{name: source} from a folder of *.md.j2 files (the shipped ones of `language` when None)."""
    folder = Path(directory) if directory else template_dir(language)
    if not folder.is_dir():
        raise SegscopeError(f"Template folder {folder} not found; give a folder of *{SUFFIX} files.")
    found = {}
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise SegscopeError(f"Template {path.name} is {path.stat().st_size:,} bytes; at most "
                                f"{MAX_TEMPLATE_BYTES:,} are read.")
        try:
            found[path.name[: -len(SUFFIX)]] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SegscopeError(f"Template {path.name} is not UTF-8 text; save it as UTF-8.") from None
    if not found:
        raise SegscopeError(f"No *{SUFFIX} templates in {folder}; add at least one.")
    return found


PLAY_MIN_SHARE = 0.10  # a praise or complaint a play singles out: 10 % of the segment's reviews, above elsewhere
# a product a play names: 5 % of the segment's reviews, 1.5 times elsewhere (as in names, analysis.profiles)
PRODUCT_MIN_SHARE, PRODUCT_MIN_LIFT = 0.05, 1.5


def _typed(rows: list[dict]) -> list[dict]:
    """Praise / complaint facts as templates see them: word, shares and quotable phrases."""
    return [{"word": r.get("word", r["key"]), "aspect": r["key"], "share": r["share"], "elsewhere": r["elsewhere"],
             "evidence": [e["phrase"] for e in r.get("evidence", [])]} for r in rows[:3]]


def _distinct(rows: list[dict]) -> dict | None:
    """The praise / complaint that sets a segment apart: at least PLAY_MIN_SHARE of its reviews and
    above elsewhere, the largest gap; with a phrase to quote when its reviews have one."""
    ok = [r for r in rows if r["share"] >= PLAY_MIN_SHARE and r["share"] > r["elsewhere"]]
    if not ok:
        return None
    best = max(ok, key=lambda r: (bool(r["evidence"]), r["share"] - r["elsewhere"]))
    return {**best, "quote": best["evidence"][0] if best["evidence"] else ""}


def typed_facts(profile: dict) -> dict:
    """The typed facts (analysis.facts) a template sees: products, kind, size group, praise and
    complaints with quotes, what to fix first. Profiles without facts (an earlier run) get empty ones."""
    fx = profile.get("facts") or {}
    products = [r for r in fx.get("products", [])
                if r["share"] >= PRODUCT_MIN_SHARE and (r["lift"] is None or r["lift"] >= PRODUCT_MIN_LIFT)]
    if "facts" not in profile:  # saved before typed facts: the name's interest word stands for them
        word = (profile.get("relative") or {}).get("interest")
        products = [{"key": word}] if word else []
    praise, complaints = _typed(fx.get("praise", [])), _typed(fx.get("complaints", []))
    # saved before typed facts: the name's interest word stands for what the name states
    named = [r for r in (profile.get("name_facts") or {}).get("products") or [] if r] if "facts" in profile \
        else products
    size = (profile.get("name_facts") or {}).get("size")
    return {
        "products": [r["key"] for r in products][:5],  # nouns by the tagger, or the product column
        # who they are by what they buy, as the segment's name states it ("dress buyers", "buyers of
        # jeans"; a plural never sits before "buyers"); None where the name states no product
        "buyers": buyers_phrase("", [named[0]["key"]], named[:1]) if named else None,
        "kind": (fx.get("kind") or {}).get("kind") or "other",  # consumable / apparel / other
        "size_group": size["key"] if size else None,
        "praise": praise, "complaints": complaints,
        "distinct_praise": _distinct(praise), "distinct_complaint": _distinct(complaints),
        "fix_first": [{"word": r["word"], "share": r["share"], "drag": r["drag"], "clear": r["clear"]}
                      for r in profile.get("fix_first", [])[:3]],
    }


def segment_facts(profile: dict) -> dict:
    """The flat facts a template sees as `seg`."""
    b = profile.get("behaviour", {})
    shares = profile.get("label_shares", {})
    rel = profile.get("relative") or {}
    return {
        **typed_facts(profile),
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
        # How the segment differs from all customers (analysis.profiles.add_relative); playbooks
        # choose from these. attitude: happy / unhappy / lukewarm / mixed (observed-first shares);
        # interest: the word its interest cluster uses most over the others; attitude_terms: the
        # aspects it mentions more than the same interest's other segments; *_vs_all: share
        # difference in points, behaviour ratio to all customers (None without the data).
        "attitude": rel.get("attitude"), "interest": rel.get("interest"),
        "attitude_terms": list(rel.get("attitude_terms", [])),
        "overall_positive_share": rel.get("overall_label_shares", {}).get("positive", 0.0),
        "overall_negative_share": rel.get("overall_label_shares", {}).get("negative", 0.0),
        "positive_vs_all": rel.get("share_vs_all", {}).get("positive", 0.0),
        "negative_vs_all": rel.get("share_vs_all", {}).get("negative", 0.0),
        "churn_vs_all": rel.get("churn_vs_all"), "frequency_vs_all": rel.get("frequency_vs_all"),
        "monetary_vs_all": rel.get("monetary_vs_all"), "recency_vs_all": rel.get("recency_vs_all"),
        "size_vs_average": rel.get("size_vs_average", 1.0),
        "n_observed": profile.get("n_observed", 0),
    }


_FACT_NAMES = tuple(segment_facts({"segment_id": 0, "size": 0, "n_reviews": 0}))


def _environment(templates: dict[str, str], *, page: bool = False) -> LimitedSandbox:
    """page: for showing to a reader; each value written is escaped as Markdown text (conditions
    and lookups see the raw values, so `seg.aspects[a]` finds 'after-sales'), and the output is
    made inert (safe_markdown: no image, link or HTML from the template or the data)."""
    return LimitedSandbox(loader=DictLoader(templates), undefined=StrictUndefined, escape=md_inline if page else None,
                          trim_blocks=True, lstrip_blocks=True, autoescape=False)


def _template_line(exc: BaseException) -> int | None:
    line = getattr(exc, "lineno", None)  # syntax errors carry it
    tb = exc.__traceback__
    while tb is not None:  # jinja rewrites tracebacks so template frames have template lines
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "recursion too deep (a macro or include that calls itself?)"
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
    if isinstance(exc, UndefinedError):
        text += _undefined_hint(text)
    return text[:200]


def _undefined_hint(text: str) -> str:
    """'dict object' has no attribute 'nmae' -> the nearest facts a template can use."""
    if m := re.search(r"'dict object' has no attribute '([^']+)'", text):
        near = difflib.get_close_matches(m.group(1), _FACT_NAMES, n=2)
        return f" (did you mean seg.{' or seg.'.join(near)}?)" if near else " (not a segment fact; insert one from the list)"
    if (m := re.search(r"'([^']+)' is undefined", text)) and m.group(1) != "seg":
        name = m.group(1)
        return f" (write seg.{name})" if name in _FACT_NAMES else " (the segment's facts are in seg, e.g. seg.name)"
    return ""


def render_template(env: LimitedSandbox, name: str, facts: dict, *, where: str = "") -> str:
    """One template rendered under the limits; any failure is one SegscopeError line."""
    try:
        # the render budget starts again after compiling (constant folding runs under the limits
        # too): on a machine at load 10 the first compile alone took over the 1 s budget
        env.start()
        template = env.get_template(name)
        env.start()
        out, size = [], 0
        for chunk in template.generate(seg=facts):
            size += len(chunk)
            if size > MAX_SIZE:
                raise TemplateLimit(f"output longer than {MAX_SIZE:,} characters")
            env.tick(0)
            out.append(chunk)
        text = "".join(out).strip()
        return text if env.escape is None else inert_markdown(text)
    except Exception as exc:  # noqa: BLE001 - an edited template can fail in any way; say where, in one line
        line = _template_line(exc)
        at = f" (line {line})" if line else ""
        reason = _one_line(exc)
        raise TemplateError(f"Template '{name}' failed{where}{at}: {reason}; fix or reset it.",
                            template=name, line=line, reason=reason) from None


def with_relative(profiles: dict[int, dict]) -> dict[int, dict]:
    """Profiles with `relative` (how each differs from all customers), added when saved without."""
    if all("relative" in p for p in profiles.values()):
        return profiles
    profiles = {s: dict(p) for s, p in profiles.items()}
    add_relative(profiles)
    return profiles


def render_strategies(profiles: dict[int, dict], *, templates: dict[str, str], page: bool = False,
                      errors: list | None = None) -> dict[int, list[dict]]:
    """{segment_id: [{template, title, text}, ...]} for the templates that apply.

    page: rendered for a reader (see `_environment`). errors: when a list, a failing template is
    left out where it fails and its TemplateError added (once per template), so one broken
    template never takes the others with it; without it the first failure is raised."""
    env = _environment(templates, page=page)
    failed: set[str] = set()
    out: dict[int, list[dict]] = {}
    for seg, profile in sorted(with_relative(profiles).items()):
        facts = segment_facts(profile)
        items = []
        for name in sorted(templates):
            try:
                text = render_template(env, name, facts, where=f" for segment {seg}")
            except TemplateError as exc:
                if errors is None:
                    raise
                if name not in failed:
                    failed.add(name)
                    errors.append(exc)
                continue
            if not text:
                continue
            first = text.splitlines()[0]
            title = first.lstrip("#").strip() if first.startswith("#") else name.replace("_", " ")
            items.append({"template": name, "title": title, "text": text})
        out[int(seg)] = items
    return out


def _trial_profiles() -> dict[int, dict]:
    """Made-up segments covering the situations templates test for (happy / unhappy, products,
    money, aspects), so that a trial render takes most branches."""
    def profile(seg, pos, neg, churn, aspects, mood, freq):
        return {"segment_id": seg, "name": f"Segment {seg}", "size": 120, "n_reviews": 150,
                "share_of_customers": 0.3, "keywords": ["taste", "price", "delivery"],
                "label_shares": {"negative": neg, "neutral": round(1 - pos - neg, 2), "positive": pos},
                "dominant_label": "positive" if pos > neg else "negative",
                "behaviour": {"mean_rating": 1 + 4 * pos, "churn_risk": churn, "median_recency_days": 40.0,
                              "mean_frequency": 1.8, "mean_monetary": 35.5, "total_monetary": 4260.0},
                "top_products": {"B0001": 12, "B0002": 7}, "examples": ["Great taste.", "Arrived late."],
                "aspects": {"delivery": {"share": 0.4, "n_reviews": 60, "positive": 0.2, "negative": 0.7}} if aspects else {},
                "negative_aspects": [{"name": "delivery", "negative_mention_share": 0.5, "n_reviews": 60}] if aspects else [],
                "facts": {"products": [{"key": "coffee", "share": 0.3, "elsewhere": 0.05, "lift": 6.0}],
                          "kind": {"kind": ("consumable", "apparel", "other")[seg % 3]},
                          "praise": [{"key": "taste", "word": "taste", "share": 0.4 * pos, "elsewhere": 0.1,
                                      "evidence": [{"phrase": "rich flavour"}] if seg % 2 else []}],
                          "complaints": [{"key": a, "word": a, "share": 0.5 * neg, "elsewhere": 0.05,
                                          "evidence": [{"phrase": "arrived late"}]}
                                         for a in ("delivery", "size", "price")[: 1 + seg % 3]]},
                "fix_first": [{"word": "delivery", "share": 0.2, "drag": -1.1, "clear": True}],
                "name_facts": {"size": {"key": "petite"}} if seg == 3 else {},
                "relative": {"attitude": mood, "interest": "coffee", "attitude_terms": ["price", "delivery"],
                             "overall_label_shares": {"negative": 0.3, "neutral": 0.2, "positive": 0.5},
                             "share_vs_all": {"negative": round(neg - 0.3, 2), "positive": round(pos - 0.5, 2)},
                             "churn_vs_all": churn / 0.45, "frequency_vs_all": freq, "monetary_vs_all": freq,
                             "recency_vs_all": 1 / freq, "size_vs_average": 0.9}}
    return {0: profile(0, 0.9, 0.05, 0.1, False, "happy", 1.5), 1: profile(1, 0.15, 0.75, 0.8, True, "unhappy", 0.8),
            2: profile(2, 0.45, 0.3, 0.5, True, "mixed", 1.0), 3: profile(3, 0.92, 0.02, 0.2, False, "happy", 0.7),
            4: profile(4, 0.2, 0.1, 0.3, False, "lukewarm", 1.0)}


def validate_templates(directory: str | Path | None, *, language: str = "en") -> dict[str, str]:
    """Load a --templates folder and render each template on made-up segments under the limits,
    before any training: the templates, or one SegscopeError line naming the bad one."""
    templates = load_templates(directory, language=language)
    render_strategies(_trial_profiles(), templates=templates)
    return templates


# Plays that reward a happy customer: never for a customer whose own reviews are complaints.
REWARD_PLAY = re.compile(r"loyal|vip|advoca|referr|lookalike|targeted ads|忠诚|会员|口碑|相似人群", re.IGNORECASE)
RECOVERY_PLAY = re.compile(r"complaint|recovery|投诉|挽回|补救", re.IGNORECASE)
WIN_OVER_PLAY = re.compile(r"undecided|摇摆", re.IGNORECASE)


# A customer's own action when their segment has no fitting play, and the reason, per language.
ACTION_WORDS = {
    "en": {"recovery": "Complaint recovery", "follow_up": "Personal follow-up",
           "win_over": "Win over undecided buyers: ask what would make it five stars", "monitor": "Monitor",
           "r_negative": "own reviews mostly negative", "r_no_reward": "has a negative review: no reward play",
           "r_lukewarm": "own reviews mostly lukewarm: no reward play", "r_segment": "segment play"},
    "zh": {"recovery": "投诉挽回", "follow_up": "一对一回访", "win_over": "争取态度摇摆的买家：问问怎样才能打五星",
           "monitor": "持续观察", "r_negative": "本人的评论多为差评", "r_no_reward": "有过差评：不给奖励类策略",
           "r_lukewarm": "本人的评论多为中评：不给奖励类策略", "r_segment": "客群策略"},
}


def customer_actions(customers: pd.DataFrame, strategies: dict[int, list[dict]], *,
                     negative: str = "negative", neutral: str = "neutral", language: str = "en") -> pd.DataFrame:
    """Per customer: `action` (one play title) and `action_reason`, consistent with the
    customer's own reviews (observed first, `share_*`), not only with their segment:

    - a customer whose reviews are mostly negative gets complaint recovery (their segment's,
      with its aspect, when it has one), even in a happy segment;
    - a customer with any negative review never gets a reward play (loyalty, VIP, advocacy,
      lookalike ads): the segment's next play, else a personal follow-up;
    - a customer whose reviews are mostly lukewarm (they sit in their interest's happy segment)
      gets the segment's win-over play, else a five-star question; no reward play either;
    - everybody else gets the segment's first play."""
    zero = pd.Series(0.0, index=customers.index)
    share_neg = customers.get(f"share_{negative}", zero).fillna(0.0)
    share_neu = customers.get(f"share_{neutral}", zero).fillna(0.0)
    low_rating = customers.get("mean_rating", pd.Series(np.nan, index=customers.index)) <= 2
    w = ACTION_WORDS.get(language, ACTION_WORDS["en"])
    actions, reasons = [], []
    for seg, neg, neu, low in zip(customers["segment_id"], share_neg, share_neu, low_rating.fillna(False)):
        titles = [a["title"] for a in strategies.get(int(seg), [])]
        if neg >= 0.5 or low:
            actions.append(next((t for t in titles if RECOVERY_PLAY.search(t)), w["recovery"]))
            reasons.append(w["r_negative"])
        elif neg > 0:
            actions.append(next((t for t in titles if not REWARD_PLAY.search(t)), w["follow_up"]))
            reasons.append(w["r_no_reward"])
        elif neu >= 0.5:
            actions.append(next((t for t in titles if WIN_OVER_PLAY.search(t)), w["win_over"]))
            reasons.append(w["r_lukewarm"])
        else:
            actions.append(titles[0] if titles else w["monitor"])
            reasons.append(w["r_segment"])
    return pd.DataFrame({"action": actions, "action_reason": reasons}, index=customers.index)
