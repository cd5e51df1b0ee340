from .brainmvp_segmentor3d import BrainMVPSegmentor3D
from .template_substitution import BrainMVPTemplateSubstitution

__all__ = ['BrainMVPSegmentor3D', 'BrainMVPTemplateSubstitution']
