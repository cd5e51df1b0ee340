from .l2_attention import MICSL2AttnDiscriminator

__all__ = ['MICSL2AttnDiscriminator']
