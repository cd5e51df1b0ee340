"""mmsegmentation parts of mics_mm (BrainMVP downstream segmentation).

Imported by the segmentation configs (``custom_imports=dict(imports=
['mics_mm', 'mics_mm.seg'])`` with ``default_scope='mmseg'``). It registers,
in mmsegmentation's registries: the data preprocessor that fills missing
modalities from BrainMVP templates, the MRI slice packer, a UNet-style
decode head and the per-case Dice metric. The MRI datasets and transforms
stay in mmpretrain's registries; the mmseg configs name them with their
scope, ``type='mmpretrain.BrainMRISliceDataset'`` (mmengine looks a
``scope.Name`` up in that scope's registry).

mmsegmentation imports ``mmcv.ops`` at module level; under mmcv-lite (no
compiled ops) this package first installs a pure-PyTorch stand-in
(:mod:`.mmcv_ops_fallback`), and only then. Nothing else of mics_mm does.
"""
from .mmcv_ops_fallback import install_if_needed

install_if_needed()

from .data_preprocessor import MRISegDataPreprocessor  # noqa: E402
from .formatting import PackMRISegInputs  # noqa: E402
from .metrics import VolumeDiceMetric  # noqa: E402
from .unet_head import UNetDecodeHead  # noqa: E402

__all__ = [
    'MRISegDataPreprocessor', 'PackMRISegInputs', 'VolumeDiceMetric',
    'UNetDecodeHead'
]
