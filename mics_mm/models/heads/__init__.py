from .aligned_head import MicsAlignedHead
from .consistency_head import MicsConsistencyHead

__all__ = ['MicsAlignedHead', 'MicsConsistencyHead']
