from .decoder3d import BrainMVPConvDecoder2D, BrainMVPConvDecoder3D
from .fusion import MICSFusionNeck
from .linear_decoder import BrainMVPLinearDecoder2D
from .linear_decoder3d import BrainMVPLinearDecoder3D
from .unetr_decoder3d import UNETRDecoder3D

__all__ = [
    'MICSFusionNeck', 'BrainMVPConvDecoder3D', 'BrainMVPConvDecoder2D',
    'BrainMVPLinearDecoder2D', 'BrainMVPLinearDecoder3D', 'UNETRDecoder3D'
]
