"""Data transforms for multimodal samples (registered in mmpretrain's
``TRANSFORMS``)."""
from .cache import MicsCachedCompose
from .formatting import MicsMissingModalityError, MicsPackMultiModalInputs
from .loading import MicsImageLoadError, MicsLoadMultiModalImages
from .modality import (MicsPerModalityTransforms, MicsSharedTransforms,
                       MicsSimulatedNBI, simulate_nbi)
from .mri import (MicsArrangeModalities, MicsForegroundCrop, MicsLoadMRIStudy,
                  MicsPackMRIInputs, MicsPercentileNormalize,
                  MicsSampleModalities, load_nifti)
from .mri_geometry import (MicsCropPad, MicsRandomPatch3D, MicsRandomSlice2D,
                           MicsTakeSlice2D, crop_or_pad)
from .select import MicsModalitiesAsViews, MicsSelectModality

__all__ = [
    'MicsImageLoadError', 'MicsLoadMultiModalImages', 'MicsSimulatedNBI',
    'simulate_nbi', 'MicsSharedTransforms', 'MicsPerModalityTransforms',
    'MicsMissingModalityError', 'MicsPackMultiModalInputs',
    'MicsSelectModality', 'MicsModalitiesAsViews', 'load_nifti', 'MicsLoadMRIStudy',
    'MicsPercentileNormalize', 'MicsForegroundCrop', 'MicsSampleModalities',
    'MicsArrangeModalities', 'MicsPackMRIInputs', 'crop_or_pad',
    'MicsRandomSlice2D', 'MicsTakeSlice2D', 'MicsCropPad',
    'MicsRandomPatch3D', 'MicsCachedCompose'
]
