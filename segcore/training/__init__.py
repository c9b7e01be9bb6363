"""Stage 2: fine-tune the classifier (split, Trainer recipe and options, baseline, metrics)."""
