from .alpha_warmup_hook import MicsAlphaWarmupHook
from .random_state_hook import MicsRandomStateHook

__all__ = ['MicsAlphaWarmupHook', 'MicsRandomStateHook']
