from .alpha_warmup_hook import MicsAlphaWarmupHook
from .brainmvp_schedule_hook import MicsBrainMVPScheduleHook
from .lambda_ramp_hook import MicsLambdaRampHook
from .non_finite_hook import MicsNonFiniteLossHook
from .queue_size_hook import MicsQueueSizeHook
from .random_state_hook import MicsRandomStateHook

__all__ = [
    'MicsAlphaWarmupHook', 'MicsBrainMVPScheduleHook', 'MicsLambdaRampHook',
    'MicsNonFiniteLossHook', 'MicsQueueSizeHook', 'MicsRandomStateHook'
]
