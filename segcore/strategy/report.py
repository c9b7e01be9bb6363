"""The strategy report as a standalone HTML page (Markdown rendered with raw HTML disabled)."""
from __future__ import annotations

import html

from markdown_it import MarkdownIt

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:860px;margin:2rem auto;
padding:0 1rem;color:#1f2430;line-height:1.5}h1{color:#4b5bdc}h1+p{color:#555}blockquote{border-left:3px solid
#cfd5f5;margin:0.5rem 0;padding:0.2rem 0.8rem;color:#444;background:#f6f7fc}"""


def report_html(markdown_text: str, *, title: str = "segscope strategy report") -> str:
    # html=False: any HTML inside reviews or names is shown as text, never run. No images: a
    # segment name or product such as ![p](http://host/pixel.png) would load a remote tracking
    # pixel when the report is opened; it is shown as text.
    body = MarkdownIt("commonmark", {"html": False}).disable("image").render(markdown_text)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")
