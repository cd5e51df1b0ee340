from .alpha_warmup_hook import MicsAlphaWarmupHook

__all__ = ['MicsAlphaWarmupHook']
