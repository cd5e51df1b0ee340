from . import (backbones, classifiers, discriminators, heads, necks,  # noqa: F401
               selfsup)
from .data_preprocessor import MicsDataPreprocessor
from .mri_data_preprocessor import MicsMRIDataPreprocessor
from .views_as_batch_preprocessor import MicsViewsAsBatchDataPreprocessor

__all__ = [
    'MicsDataPreprocessor', 'MicsMRIDataPreprocessor',
    'MicsViewsAsBatchDataPreprocessor'
]
