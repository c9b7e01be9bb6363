"""Text helpers: scripts and language detection, Chinese word segmentation."""
