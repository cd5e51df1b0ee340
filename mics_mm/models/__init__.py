from . import backbones, discriminators, heads, necks, selfsup  # noqa: F401
from .data_preprocessor import MicsDataPreprocessor

__all__ = ['MicsDataPreprocessor']
