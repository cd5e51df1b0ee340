from . import (backbones, classifiers, discriminators, heads, necks,  # noqa: F401
               segmentors, selfsup)
from .data_preprocessor import PerModalityDataPreprocessor
from .mri_data_preprocessor import MRIDataPreprocessor
from .views_as_batch_preprocessor import ViewsAsBatchDataPreprocessor

__all__ = [
    'PerModalityDataPreprocessor', 'MRIDataPreprocessor',
    'ViewsAsBatchDataPreprocessor'
]
