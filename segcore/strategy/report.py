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
           "examples": "Example reviews:", "html_title": "segscope strategy report", "lang": "en"},
    "zh": {"title": "营销策略报告", "intro": "共 {n} 个客群、{customers:,} 位客户、{reviews:,} 条评论。",
           "glance": "客群一览",
           "header": ["#", "客群", "客户数", "占比", "评论数", "好评", "差评", "平均评分", "流失风险", "营销策略"],
           "segment": "客群 {id}：{name}", "facts": "{size:,} 位客户，{reviews:,} 条评论；",
           "keywords": "；关键词：", "sep": "、", "none": "_没有适用于这个客群的模板。_",
           "examples": "评论示例：", "html_title": "segscope 营销策略报告", "lang": "zh-CN"},
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


def report_markdown(profiles: dict[int, dict], strategies: dict[int, list[dict]], *, language: str = "en") -> str:
    """# title, the summary table, then per segment: ## segment, its facts, ### each strategy,
    example reviews. `language`: the report's own words ('en' or 'zh')."""
    w = _words(language)
    customers = sum(p["size"] for p in profiles.values())
    reviews = sum(p["n_reviews"] for p in profiles.values())
    lines = [f"# {w['title']}", "", w["intro"].format(n=len(profiles), customers=customers, reviews=reviews), "",
             f"## {w['glance']}", "", *summary_table(profiles, strategies, language=language), ""]
    for seg, profile in sorted(profiles.items()):
        f = segment_facts(profile)
        lines += [f"## {w['segment'].format(id=seg, name=_one_line(f['name']))}", "",
                  w["facts"].format(size=f["size"], reviews=f["n_reviews"])
                  + w["sep"].join(f"{LABEL_WORDS.get(language, {}).get(k, k)} {v:.0%}"
                                  for k, v in f["label_shares"].items())
                  + (w["keywords"] + w["sep"].join(f["keywords"][:8]) if f["keywords"] else ""), ""]
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
