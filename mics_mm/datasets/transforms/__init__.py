"""Data transforms for multimodal samples (registered in mmpretrain's
``TRANSFORMS``)."""
from .formatting import MicsMissingModalityError, MicsPackMultiModalInputs
from .loading import MicsImageLoadError, MicsLoadMultiModalImages
from .modality import (MicsPerModalityTransforms, MicsSharedTransforms,
                       MicsSimulatedNBI, simulate_nbi)
from .select import MicsSelectModality

__all__ = [
    'MicsImageLoadError', 'MicsLoadMultiModalImages', 'MicsSimulatedNBI',
    'simulate_nbi', 'MicsSharedTransforms', 'MicsPerModalityTransforms',
    'MicsMissingModalityError', 'MicsPackMultiModalInputs',
    'MicsSelectModality'
]
