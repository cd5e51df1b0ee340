from .multi_optim_constructor import PartwiseOptimWrapperConstructor
from .sparse_template_adamw import (BrainMVPSparseTemplateAdamW,
                                    BrainMVPTemplateOptimWrapperConstructor)

__all__ = [
    'PartwiseOptimWrapperConstructor', 'BrainMVPSparseTemplateAdamW',
    'BrainMVPTemplateOptimWrapperConstructor'
]
