"""Data transforms for multimodal samples (registered in mmpretrain's
``TRANSFORMS``)."""
from .cache import CachedCompose
from .formatting import MissingModalityError, PackMultiModalInputs
from .loading import ImageLoadError, LoadMultiModalImages
from .modality import (PerModalityTransforms, SharedModalityTransforms,
                       SimulatedNBI, simulate_nbi)
from .mri import (ArrangeModalities, ForegroundCrop, LoadMRIStudy,
                  PackMRIInputs, PercentileNormalize,
                  SampleModalities, load_nifti)
from .mri_geometry import (CropPad, RandomPatch3D, RandomSlice2D,
                           TakeSlice2D, crop_or_pad)
from .select import ModalitiesAsViews, SelectModality

__all__ = [
    'ImageLoadError', 'LoadMultiModalImages', 'SimulatedNBI',
    'simulate_nbi', 'SharedModalityTransforms', 'PerModalityTransforms',
    'MissingModalityError', 'PackMultiModalInputs',
    'SelectModality', 'ModalitiesAsViews', 'load_nifti', 'LoadMRIStudy',
    'PercentileNormalize', 'ForegroundCrop', 'SampleModalities',
    'ArrangeModalities', 'PackMRIInputs', 'crop_or_pad',
    'RandomSlice2D', 'TakeSlice2D', 'CropPad',
    'RandomPatch3D', 'CachedCompose'
]
