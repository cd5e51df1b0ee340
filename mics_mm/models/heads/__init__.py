from .aligned_head import MICSAlignedHead
from .consistency_head import MICSConsistencyHead
from .dist_shift_head import MICSDistShiftHead
from .infonce_head import InfoNCEHead

__all__ = [
    'MICSAlignedHead', 'MICSConsistencyHead', 'MICSDistShiftHead',
    'InfoNCEHead'
]
