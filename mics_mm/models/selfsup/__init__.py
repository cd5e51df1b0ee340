from .brainmvp import BrainMVP
from .mics import MICS

__all__ = ['BrainMVP', 'MICS']
