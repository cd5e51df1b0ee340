"""Data transforms for multimodal samples (registered in mmpretrain's
``TRANSFORMS``)."""
from .cache import CachedCompose
from .formatting import (MissingModalityError, PackMRIInputs,
                         PackMultiModalInputs)
from .gradient import GradientMagnitude, gradient_magnitude
from .loading import ImageLoadError, LoadMultiModalImages
from .modality import (PerModalityTransforms, SharedModalityTransforms,
                       SimulatedNBI, simulate_nbi)
from .mri_canvas import PlaceOnCanvas
from .mri_flip import RandomFlip3D
from .mri_geometry import (CropPad, ForegroundCrop, RandomPatch3D,
                           RandomSlice2D, TakeSlice2D, crop_or_pad,
                           require_whole_grid)
from .mri_intensity import PercentileNormalize
from .mri_loading import LoadMRIStudy, load_nifti, voxel_sizes
from .mri_modalities import ArrangeModalities, SampleModalities
from .mri_resample import ResampleToSpacing
from .select import ModalitiesAsViews, SelectModality

__all__ = [
    'ImageLoadError', 'LoadMultiModalImages', 'SimulatedNBI',
    'simulate_nbi', 'SharedModalityTransforms', 'PerModalityTransforms',
    'MissingModalityError', 'PackMultiModalInputs',
    'SelectModality', 'ModalitiesAsViews', 'load_nifti', 'LoadMRIStudy',
    'PercentileNormalize', 'ForegroundCrop', 'SampleModalities',
    'ArrangeModalities', 'PackMRIInputs', 'crop_or_pad',
    'RandomSlice2D', 'TakeSlice2D', 'CropPad',
    'RandomPatch3D', 'CachedCompose', 'voxel_sizes', 'require_whole_grid',
    'ResampleToSpacing', 'PlaceOnCanvas', 'RandomFlip3D',
    'GradientMagnitude', 'gradient_magnitude'
]
