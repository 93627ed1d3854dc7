"""Text path: segmentation and grapheme-to-phoneme conversion. Knows nothing of Wyoming."""
