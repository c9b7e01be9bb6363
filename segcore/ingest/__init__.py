"""Stage 1: read a review table, pick its columns, derive labels, clean and mask it, report its quality."""
