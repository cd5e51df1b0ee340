from .masking import random_patch_mask
from .pooling import global_feature

__all__ = ['global_feature', 'random_patch_mask']
