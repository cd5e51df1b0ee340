from .decoder3d import MicsDecoder3D
from .fusion import MicsFusionNeck
from .linear_decoder import MicsLinearDecoder2D

__all__ = ['MicsFusionNeck', 'MicsDecoder3D', 'MicsLinearDecoder2D']
