"""Data transforms for multimodal samples (registered in mmpretrain's
``TRANSFORMS``)."""
from .formatting import MicsMissingModalityError, MicsPackMultiModalInputs
from .loading import MicsImageLoadError, MicsLoadMultiModalImages
from .modality import (MicsPerModalityTransforms, MicsSharedTransforms,
                       MicsSimulatedNBI, simulate_nbi)
from .mri import (MicsForegroundCrop, MicsLoadMRIStudy, MicsPackMRIInputs,
                  MicsPercentileNormalize, MicsRandomPatch3D,
                  MicsRandomSlice2D, MicsSampleModalities)
from .select import MicsSelectModality

__all__ = [
    'MicsImageLoadError', 'MicsLoadMultiModalImages', 'MicsSimulatedNBI',
    'simulate_nbi', 'MicsSharedTransforms', 'MicsPerModalityTransforms',
    'MicsMissingModalityError', 'MicsPackMultiModalInputs',
    'MicsSelectModality', 'MicsLoadMRIStudy', 'MicsPercentileNormalize',
    'MicsForegroundCrop', 'MicsSampleModalities', 'MicsRandomSlice2D',
    'MicsRandomPatch3D', 'MicsPackMRIInputs'
]
