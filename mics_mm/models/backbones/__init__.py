from .masked_resnet import MicsMaskedResNet
from .uniformer3d import MicsUniFormer3D

__all__ = ['MicsMaskedResNet', 'MicsUniFormer3D']
