"""A review as HTML with its words shaded by their attribution (for st.html / st.markdown).

Every piece of review text is HTML-escaped: a review is data from a file, never markup."""
from __future__ import annotations

import html

POSITIVE = "34, 139, 34"  # pushed towards the label: green
NEGATIVE = "200, 40, 40"  # pushed away from it: red


def highlight_html(explanation, *, strongest: float | None = None) -> str:
    """`<span>`s over the review's words, opacity by |weight| relative to the strongest word;
    the text between words is kept (escaped) so the review reads as written."""
    text = explanation.text
    weights = [abs(w.weight) for w in explanation.words if w.weight is not None]
    scale = strongest or (max(weights) if weights else 0.0) or 1.0
    parts, last = [], 0
    for w in explanation.words:
        parts.append(html.escape(text[last:w.start]))
        word = html.escape(text[w.start:w.end])
        if w.weight is None:
            parts.append(f'<span style="color:#999" title="not read (beyond the model\'s length)">{word}</span>')
        elif w.weight == 0:
            parts.append(word)
        else:
            colour = POSITIVE if w.weight > 0 else NEGATIVE
            alpha = min(1.0, abs(w.weight) / scale) * 0.6
            parts.append(f'<span style="background: rgba({colour}, {alpha:.2f}); border-radius: 3px" '
                         f'title="{w.weight:+.4f}">{word}</span>')
        last = w.end
    parts.append(html.escape(text[last:]))
    return f'<div style="line-height: 1.8">{"".join(parts)}</div>'
