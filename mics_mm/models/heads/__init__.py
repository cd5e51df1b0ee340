from .aligned_head import MICSAlignedHead
from .brainmvp_recon_head import BrainMVPReconHead
from .brats_region_head import BraTSRegionHead
from .consistency_head import MICSConsistencyHead
from .dist_shift_head import MICSDistShiftHead
from .infonce_head import InfoNCEHead

__all__ = [
    'MICSAlignedHead', 'MICSConsistencyHead', 'MICSDistShiftHead',
    'InfoNCEHead', 'BrainMVPReconHead', 'BraTSRegionHead'
]
