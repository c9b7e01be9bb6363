"""The strategy report: Markdown with one heading level per level of the story (report title h1,
segment h2, strategy h3) and a summary table of segments; and the same as a standalone HTML
page (Markdown rendered with raw HTML disabled)."""
from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

from .safe_markdown import inert_markdown
from .suggest import segment_facts

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2rem auto;
padding:0 1rem;color:#1f2430;line-height:1.5}h1{color:#4b5bdc}h1+p{color:#555}h2{border-bottom:1px solid #e3e6f3;
padding-bottom:0.2rem;margin-top:2.2rem}blockquote{border-left:3px solid #cfd5f5;margin:0.5rem 0;padding:0.2rem 0.8rem;
color:#444;background:#f6f7fc}table{border-collapse:collapse;font-size:0.92rem}th,td{border:1px solid #e3e6f3;
padding:0.3rem 0.6rem;vertical-align:top}th{background:#f6f7fc}"""

TITLE = "Marketing strategy report"
# The report's own words per language (segment names, keywords and templates bring theirs).
WORDS = {
    "en": {"title": TITLE, "intro": "{n} segments, {customers:,} customers, {reviews:,} reviews.",
           "glance": "Segments at a glance",
           "header": ["#", "Segment", "Customers", "Share", "Reviews", "Positive", "Negative", "Mean rating",
                      "Churn risk", "Strategies"],
           "segment": "Segment {id}: {name}", "facts": "{size:,} customers, {reviews:,} reviews; ",
           "keywords": "; keywords: ", "sep": ", ", "none": "_No template applies to this segment._",
           "examples": "Example reviews:", "html_title": "segscope strategy report", "lang": "en",
           "fix": "What to fix first",
           "fix_intro": "Aspects by the stars the mean rating loses to them (share of reviews x rating drag: the mean "
                        "rating of reviews that mention the aspect minus that of the rest, with its 95 % bootstrap "
                        "interval); a clear drag's interval lies wholly below 0.",
           "fix_intro_neg": "Aspects by how much more often the reviews that mention them are negative (share of "
                            "reviews x drag in points of negative share, 95 % bootstrap interval).",
           "fix_header": ["#", "Aspect", "Share of reviews", "Rating drag", "95 % interval", "Clear"],
           "fix_segment": "What to fix first here: ", "yes": "yes", "no": "no"},
    "zh": {"title": "营销策略报告", "intro": "共 {n} 个客群、{customers:,} 位客户、{reviews:,} 条评论。",
           "glance": "客群一览",
           "header": ["#", "客群", "客户数", "占比", "评论数", "好评", "差评", "平均评分", "流失风险", "营销策略"],
           "segment": "客群 {id}：{name}", "facts": "{size:,} 位客户，{reviews:,} 条评论；",
           "keywords": "；关键词：", "sep": "、", "none": "_没有适用于这个客群的模板。_",
           "examples": "评论示例：", "html_title": "segscope 营销策略报告", "lang": "zh-CN",
           "fix": "最该先改进的方面",
           "fix_intro": "按各方面让平均评分损失的星数排序（提到该方面的评论占比 × 评分拖累：提到它的评论的平均评分"
                        "减去其余评论的平均评分，附 95% 自助法区间）；区间整体低于 0 即为明确的拖累。",
           "fix_intro_neg": "按提到各方面的评论更常是差评的程度排序（评论占比 × 差评占比的差，附 95% 自助法区间）。",
           "fix_header": ["#", "方面", "评论占比", "评分拖累", "95% 区间", "明确"],
           "fix_segment": "这个客群最该先改进：", "yes": "是", "no": "否"},
}


# Sentiment labels made from ratings (ingest.labels), named in the report's language.
LABEL_WORDS = {"zh": {"negative": "差评", "neutral": "中评", "positive": "好评"}}


def _words(language: str) -> dict:
    return WORDS.get(language, WORDS["en"])
_HEADING = re.compile(r"^(#{1,6})(?=\s)", re.MULTILINE)


def _one_line(value) -> str:
    return " ".join(str(value).split())


def _cell(value) -> str:
    """A table cell: one line, a '|' in the data does not end the cell."""
    return _one_line(value).replace("|", "\\|")


def _pct(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def _number(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def shift_headings(text: str, *, top: int = 3) -> str:
    """A template's own headings moved so that its highest one is level `top` (a strategy sits
    under its segment's h2), keeping their order below it; at most level 6."""
    levels = [len(m.group(1)) for m in _HEADING.finditer(text)]
    if not levels:
        return text
    shift = top - min(levels)
    return _HEADING.sub(lambda m: "#" * min(6, len(m.group(1)) + shift), text)


def summary_table(profiles: dict[int, dict], strategies: dict[int, list[dict]], *,
                  language: str = "en") -> list[str]:
    w = _words(language)
    lines = ["| " + " | ".join(w["header"]) + " |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for seg, profile in sorted(profiles.items()):
        f = segment_facts(profile)
        titles = w["sep"].join(_one_line(i["title"]) for i in strategies.get(seg, [])) or "–"
        lines.append(f"| {seg} | {_cell(f['name'])} | {f['size']:,} | {_pct(f['share_of_customers'])} | "
                     f"{f['n_reviews']:,} | {_pct(f['positive_share'])} | {_pct(f['negative_share'])} | "
                     f"{_number(f['mean_rating'], '.2f')} | {_number(f['churn_risk'], '.2f')} | {_cell(titles)} |")
    return lines


def fix_first_lines(fix_first: dict | None, *, language: str = "en", top: int = 6) -> list[str]:
    """## What to fix first: the ranked aspects over all reviews as a table (analysis.facts.fix_first)."""
    rows = (fix_first or {}).get("overall") or []
    if not rows:
        return []
    w = _words(language)
    stars = (fix_first or {}).get("measure") == "rating"
    lines = [f"## {w['fix']}", "", w["fix_intro"] if stars else w["fix_intro_neg"], "",
             "| " + " | ".join(w["fix_header"]) + " |", "|---:|---|---:|---:|---|---|"]
    for i, r in enumerate(rows[:top], start=1):
        drag = f"{r['drag']:+.2f}" if stars else f"{r['drag'] * 100:+.0f}"
        span = f"{r['drag_low']:+.2f} … {r['drag_high']:+.2f}" if stars else \
            f"{r['drag_low'] * 100:+.0f} … {r['drag_high'] * 100:+.0f}"
        lines.append(f"| {i} | {_cell(r['word'])} | {_pct(r['share'])} | {drag} | {span} | "
                     f"{w['yes'] if r['clear'] else w['no']} |")
    return lines + [""]


def _segment_fix(profile: dict, language: str) -> str:
    rows = [r for r in profile.get("fix_first", []) if r["clear"]][:3]
    if not rows:
        return ""
    w = _words(language)
    return w["fix_segment"] + w["sep"].join(f"{r['word']} ({_pct(r['share'])}, {r['drag']:+.2f})" for r in rows)


def report_markdown(profiles: dict[int, dict], strategies: dict[int, list[dict]], *, language: str = "en",
                    fix_first: dict | None = None) -> str:
    """# title, the summary table, what to fix first (`fix_first`: analysis.facts.fix_first over all
    reviews, when given), then per segment: ## segment, its facts, ### each strategy, example
    reviews. `language`: the report's own words ('en' or 'zh')."""
    w = _words(language)
    customers = sum(p["size"] for p in profiles.values())
    reviews = sum(p["n_reviews"] for p in profiles.values())
    lines = [f"# {w['title']}", "", w["intro"].format(n=len(profiles), customers=customers, reviews=reviews), "",
             f"## {w['glance']}", "", *summary_table(profiles, strategies, language=language), "",
             *fix_first_lines(fix_first, language=language)]
    for seg, profile in sorted(profiles.items()):
        f = segment_facts(profile)
        lines += [f"## {w['segment'].format(id=seg, name=_one_line(f['name']))}", "",
                  w["facts"].format(size=f["size"], reviews=f["n_reviews"])
                  + w["sep"].join(f"{LABEL_WORDS.get(language, {}).get(k, k)} {v:.0%}"
                                  for k, v in f["label_shares"].items())
                  + (w["keywords"] + w["sep"].join(f["keywords"][:8]) if f["keywords"] else ""), ""]
        if fix := _segment_fix(profile, language):
            lines += [fix, ""]
        items = strategies.get(seg, [])
        if not items:
            lines += [w["none"], ""]
        for item in items:
            text = item["text"]
            if not _HEADING.match(text):  # a template without a heading still gets its h3
                text = f"### {_one_line(item['title'])}\n\n{text}"
            lines += [shift_headings(text), ""]
        if f["examples"]:
            lines += [w["examples"], ""] + [f"> {_one_line(e)}\n" for e in f["examples"]]
    # templates (anyone's) and data: no image, link or HTML, wherever the report is opened
    return inert_markdown("\n".join(lines))


def report_html(markdown_text: str, *, title: str | None = None, language: str = "en") -> str:
    # html=False: any HTML inside reviews or names is shown as text, never run. No images: a
    # segment name or product such as ![p](http://host/pixel.png) would load a remote tracking
    # pixel when the report is opened; it is shown as text. Tables: the summary of segments.
    # No link either: the Markdown is made inert first (a template could write one), and any
    # link still found is written as text.
    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
    md.validateLink = lambda url: False
    body = md.render(inert_markdown(markdown_text))
    w = _words(language)
    title = w["html_title"] if title is None else title
    return (f"<!doctype html><html lang='{w['lang']}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")
