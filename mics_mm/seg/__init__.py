"""mmsegmentation parts of mics_mm (BrainMVP downstream segmentation).

Importing this package (``custom_imports=dict(imports=['mics_mm',
'mics_mm.seg'])`` in a config with ``default_scope='mmseg'``) registers, in
mmsegmentation's registries: the data preprocessor that fills missing
modalities from BrainMVP templates, the MRI slice packer, a UNet-style
decode head and the per-case Dice metric; and it makes the MRI datasets
and transforms of :mod:`mics_mm.datasets` (registered in mmpretrain's
registries) available under the same names to mmseg configs.
"""
import mics_mm  # noqa: F401  (compat fixes: mmcv.ops fallback before mmseg)
from mmpretrain.registry import DATASETS as CLS_DATASETS
from mmpretrain.registry import TRANSFORMS as CLS_TRANSFORMS
from mmseg.registry import DATASETS, TRANSFORMS

from .data_preprocessor import MRISegDataPreprocessor
from .formatting import PackMRISegInputs
from .metrics import VolumeDiceMetric
from .unet_head import UNetDecodeHead

__all__ = [
    'MRISegDataPreprocessor', 'PackMRISegInputs',
    'VolumeDiceMetric', 'UNetDecodeHead', 'SHARED_DATASETS',
    'SHARED_TRANSFORMS'
]

#: mics_mm datasets also registered in mmseg's ``DATASETS``.
SHARED_DATASETS = ('BrainMRIDataset', 'BrainMRISliceDataset')
#: mics_mm transforms also registered in mmseg's ``TRANSFORMS``.
SHARED_TRANSFORMS = ('LoadMRIStudy', 'PercentileNormalize',
                     'ForegroundCrop', 'SampleModalities',
                     'ArrangeModalities', 'RandomSlice2D',
                     'TakeSlice2D', 'CropPad', 'RandomPatch3D',
                     'CachedCompose')

for _name in SHARED_DATASETS:
    if DATASETS.get(_name) is None:
        DATASETS.register_module(module=CLS_DATASETS.get(_name))
for _name in SHARED_TRANSFORMS:
    if TRANSFORMS.get(_name) is None:
        TRANSFORMS.register_module(module=CLS_TRANSFORMS.get(_name))
