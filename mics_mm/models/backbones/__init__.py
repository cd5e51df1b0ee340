from .masked_resnet import MaskedResNet
from .uniformer3d import UniFormer3D

__all__ = ['MaskedResNet', 'UniFormer3D']
