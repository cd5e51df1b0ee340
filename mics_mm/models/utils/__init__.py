from .loss_weights import merge_loss_weights
from .masking import random_patch_mask, upsample_mask
from .modality_templates import MicsModalityTemplates
from .pooling import global_feature

__all__ = [
    'MicsModalityTemplates', 'global_feature', 'merge_loss_weights',
    'random_patch_mask', 'upsample_mask'
]
