from .aligned_head import MicsAlignedHead
from .consistency_head import MicsConsistencyHead
from .dist_shift_head import MicsDistShiftHead
from .infonce_head import MicsInfoNCEHead

__all__ = [
    'MicsAlignedHead', 'MicsConsistencyHead', 'MicsDistShiftHead',
    'MicsInfoNCEHead'
]
