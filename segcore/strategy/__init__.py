"""Stage 4: strategy suggestions from editable templates, and the strategy report."""
