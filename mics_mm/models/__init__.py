from . import (backbones, classifiers, discriminators, heads, necks,  # noqa: F401
               selfsup)
from .data_preprocessor import MicsDataPreprocessor

__all__ = ['MicsDataPreprocessor']
