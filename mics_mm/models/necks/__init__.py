from .decoder3d import MicsDecoder2D, MicsDecoder3D
from .fusion import MicsFusionNeck
from .linear_decoder import MicsLinearDecoder2D

__all__ = [
    'MicsFusionNeck', 'MicsDecoder3D', 'MicsDecoder2D', 'MicsLinearDecoder2D'
]
