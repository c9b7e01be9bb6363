"""Why a review got its label (word attributions), which labels look wrong (label issues) and
which unlabelled reviews to label next."""
from .attribution import (
    Explainer,
    Explanation,
    Word,
    deletion_check,
    explain,
    merge_to_units,
    units,
    without_words,
)

__all__ = ["Explainer", "Explanation", "Word", "deletion_check", "explain", "merge_to_units", "units", "without_words"]
