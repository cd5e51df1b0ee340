"""Shared vocabulary (modality names, class lists): the package's lowest
layer, imported by every other one and importing none of them."""
from .classes import KVASIR_CLASSES, TISSUE_CLASSES
from .modalities import (ENDOSCOPY_MODALITIES, MODALITY_ALIASES,
                         MRI_MODALITIES, canonical_modality)

__all__ = [
    'ENDOSCOPY_MODALITIES', 'KVASIR_CLASSES', 'MODALITY_ALIASES',
    'MRI_MODALITIES', 'TISSUE_CLASSES', 'canonical_modality'
]
