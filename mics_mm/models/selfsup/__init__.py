from .mics import MICS

__all__ = ['MICS']
