from .fusion import MicsFusionNeck

__all__ = ['MicsFusionNeck']
