from .aligned_head import MicsAlignedHead
from .consistency_head import MicsConsistencyHead
from .dist_shift_head import MicsDistShiftHead

__all__ = ['MicsAlignedHead', 'MicsConsistencyHead', 'MicsDistShiftHead']
