from .decoder3d import BrainMVPConvDecoder2D, BrainMVPConvDecoder3D
from .fusion import MICSFusionNeck
from .linear_decoder import BrainMVPLinearDecoder2D

__all__ = [
    'MICSFusionNeck', 'BrainMVPConvDecoder3D', 'BrainMVPConvDecoder2D', 'BrainMVPLinearDecoder2D'
]
