"""mics_mm: multimodal self-supervised pre-training for medical images.

Importing the package applies the compatibility fixes of
:mod:`mics_mm.compat` first, then registers every module into mmpretrain's
registries (``default_scope='mmpretrain'``), so configs name them directly.
"""
from . import compat  # noqa: F401  (must come first: patches mmengine/mmcv)
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
