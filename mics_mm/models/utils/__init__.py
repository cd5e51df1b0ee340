from .distributed import gather_rows
from .inflated_pretrained import InflatedPretrained, inflate_input_channels
from .loss_weights import merge_loss_weights
from .masking import random_patch_mask, upsample_mask
from .modality_templates import (BrainMVPModalityTemplates, BrainMVPTemplateFiller,
                                 canvas_positions, check_canvas,
                                 crop_templates,
                                 fill_missing_modalities, load_templates)
from .pooling import global_feature
from .state_dict import load_matching_weights

__all__ = [
    'BrainMVPModalityTemplates', 'BrainMVPTemplateFiller', 'canvas_positions',
    'check_canvas', 'crop_templates',
    'fill_missing_modalities', 'load_templates', 'gather_rows',
    'InflatedPretrained', 'inflate_input_channels',
    'global_feature', 'load_matching_weights',
    'merge_loss_weights', 'random_patch_mask', 'upsample_mask'
]
