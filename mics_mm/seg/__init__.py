"""mmsegmentation parts of mics_mm (BrainMVP downstream segmentation).

Imported by the segmentation configs (``custom_imports=dict(imports=
['mics_mm', 'mics_mm.seg'])`` with ``default_scope='mmseg'``). It registers,
in mmsegmentation's registries, the parts mmseg itself builds: the data
preprocessor that fills missing modalities from BrainMVP templates, a
UNet-style decode head and the per-case Dice metric. The MRI datasets, their
transforms and the slice packer (``PackMRISegInputs``) live in mics_mm's
registries; the mmseg configs build the datasets in that scope with
``_scope_='mics_mm'``, so nothing is registered twice.

mmsegmentation imports ``mmcv.ops`` at module level; under mmcv-lite (no
compiled ops) this package first installs a pure-PyTorch stand-in
(:mod:`.mmcv_ops_fallback`), and only then. Nothing else of mics_mm does.
"""
from .mmcv_ops_fallback import install_if_needed

install_if_needed()

from .data_preprocessor import MRISegDataPreprocessor  # noqa: E402
from .formatting import PackMRISegInputs  # noqa: E402  (mics_mm scope)
from .metrics import VolumeDiceMetric  # noqa: E402
from .unet_head import UNetDecodeHead  # noqa: E402

__all__ = [
    'MRISegDataPreprocessor', 'PackMRISegInputs', 'VolumeDiceMetric',
    'UNetDecodeHead'
]
