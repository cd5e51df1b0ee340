from .alpha_warmup_hook import MICSAlphaWarmupHook
from .brainmvp_schedule_hook import BrainMVPScheduleHook
from .checkpoint_hook import SafeCheckpointHook
from .knn_monitor_hook import KNNMonitorHook
from .lambda_ramp_hook import MICSLambdaRampHook
from .non_finite_hook import NonFiniteLossHook
from .precise_bn_hook import PreciseBNHook
from .queue_size_hook import MICSQueueSizeHook
from .random_state_hook import RandomStateHook

__all__ = [
    'MICSAlphaWarmupHook', 'BrainMVPScheduleHook', 'MICSLambdaRampHook',
    'NonFiniteLossHook', 'MICSQueueSizeHook', 'RandomStateHook',
    'SafeCheckpointHook', 'KNNMonitorHook', 'PreciseBNHook'
]
