from .l2_attention import MicsL2AttnDiscriminator

__all__ = ['MicsL2AttnDiscriminator']
