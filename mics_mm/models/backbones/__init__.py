from .masked_resnet import MicsMaskedResNet

__all__ = ['MicsMaskedResNet']
