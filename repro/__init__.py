"""X-STILTs reproduction package: English intermediate-task training for zero-shot cross-lingual transfer.

Phases follow Phang et al. (2020, arXiv 2005.13013): a pretrained multilingual MLM, English
intermediate-task training, then XTREME target training with zero-shot evaluation.
"""
__version__ = "0.1.0"
