"""Markdown that cannot make a browser fetch anything: for text a template or a data file wrote
and someone else reads (the Strategies page, the Markdown and HTML reports).

`md_escape` turns a value into literal text (every Markdown character escaped). `inert_markdown`
keeps a template's formatting (headings, lists, bold, tables) but turns everything that becomes
an image, a link or HTML into text: `[`, `]` and `<` are escaped where they are not already, and
the `://`, `www.` and `@` of bare addresses (GitHub-flavoured Markdown links them) too. The result
is checked with markdown-it: should anything still parse as an image, a link or HTML, every line
is escaped whole."""
from __future__ import annotations

import re

from markdown_it import MarkdownIt

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")
# An existing escape (kept as it is, so `\[` never becomes `\\[`, which would free the bracket),
# or a character that starts a link, an image, an autolink or HTML, or a bare address.
_ACTIVE = re.compile(r"\\[!-/:-@\[-`{-~]|[\[\]<@]|:(?=//)|(?<![\w.])(?i:www)\.")
_PARSER = MarkdownIt("commonmark").enable("table")
_UNSAFE = {"image", "link_open", "html_inline", "html_block"}


def md_escape(value) -> str:
    """Data shown inside Markdown as text: `![p](http://host/pixel.png)` must not load an image,
    `**x**` must not turn bold, `:red[x]` must not colour (whitespace folded to one line)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def md_inline(value) -> str:
    """A value a template writes on the page: Markdown characters escaped, line breaks made spaces
    (data cannot start a heading or a list), every other space kept (", " between two items stays)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _LINE_BREAK.sub(" ", str(value)))


def _inert(match: re.Match) -> str:
    text = match.group()
    if text.startswith("\\"):
        return text
    if text[0] in "[]<@:":
        return "\\" + text
    return text[:-1] + "\\."  # www.


def _unsafe_tokens(text: str) -> bool:
    stack = list(_PARSER.parse(text))
    while stack:
        token = stack.pop()
        if token.type in _UNSAFE:
            return True
        stack.extend(token.children or ())
    return False


def inert_markdown(text: str) -> str:
    """`text` with its formatting, but no image, link or HTML left (see the module doc)."""
    out = _ACTIVE.sub(_inert, text)
    if _unsafe_tokens(out):  # not expected: a last line of defence if the rules above miss a form
        out = "\n".join(md_escape(line) for line in text.splitlines())
    return out
