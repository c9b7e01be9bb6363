"""Typed facts per segment: what its customers buy, their size group, what they praise and
complain about (with the phrases they use), the product kind, and what to fix first.

Every fact carries the share of the segment's reviews that state it, the same share in the
other segments' reviews (`elsewhere`) and their ratio (`lift`), so a name or a play that uses a
fact can say how far it holds (docs/segment-words.md)."""
from .aspects import aspect_facts, evidence_phrases, product_kind
from .fixfirst import fix_first
from .rules import NAME_MIN_SHARE, holds
from .terms import mention_matrix, product_facts, size_facts

__all__ = ["NAME_MIN_SHARE", "aspect_facts", "evidence_phrases", "fix_first", "holds",
           "mention_matrix", "product_facts", "product_kind", "size_facts"]
