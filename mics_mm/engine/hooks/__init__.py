from .alpha_warmup_hook import MicsAlphaWarmupHook
from .queue_size_hook import MicsQueueSizeHook
from .random_state_hook import MicsRandomStateHook

__all__ = ['MicsAlphaWarmupHook', 'MicsQueueSizeHook', 'MicsRandomStateHook']
