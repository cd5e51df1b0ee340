"""Modality names shared by datasets, transforms, models and tools.

The lowest layer of the package: it imports nothing from :mod:`mics_mm`.
"""
from typing import Dict, Tuple

__all__ = [
    'ENDOSCOPY_MODALITIES', 'MRI_MODALITIES', 'MODALITY_ALIASES',
    'canonical_modality'
]

#: The two gastroscopy modalities of MICS, in input order: white-light
#: (WLI) and narrow-band (NBI) imaging. Datasets and models take any list
#: of N >= 2 names; this is the default (docs/methods.md, "MICS: data").
ENDOSCOPY_MODALITIES: Tuple[str, ...] = ('wli', 'nbi')

#: The modality vocabulary of BrainMVP, in the order channels are stacked.
MRI_MODALITIES: Tuple[str, ...] = ('flair', 't1', 't1c', 't2', 'mra', 'pd',
                                   'dwi', 'adc')

#: Other spellings found in public datasets (lower-case) -> vocabulary name.
MODALITY_ALIASES: Dict[str, str] = {
    # T1 with contrast (gadolinium)
    't1ce': 't1c', 't1gd': 't1c', 't1-ce': 't1c', 't1_ce': 't1c',
    't1-gd': 't1c', 't1_gd': 't1c', 't1c+': 't1c', 't1post': 't1c',
    't1-post': 't1c', 't1wce': 't1c', 't1w-ce': 't1c',
    # FLAIR
    't2f': 'flair', 't2-flair': 'flair', 't2_flair': 'flair',
    't2flair': 'flair', 'fl': 'flair',
    # native T1 / T2
    't1n': 't1', 't1w': 't1', 't1-native': 't1', 't1pre': 't1',
    't2w': 't2', 't2n': 't2',
    # others
    'tof': 'mra', 'tof-mra': 'mra', 'mra-tof': 'mra', 'pdw': 'pd',
    'dwi-b1000': 'dwi', 'dti': 'dwi', 'adc-map': 'adc',
}


def canonical_modality(name: str) -> str:
    """Map a modality name or alias to the vocabulary (case-insensitive).

    Args:
        name (str): E.g. ``'T1ce'``, ``'t2-FLAIR'``, ``'flair'``.

    Returns:
        str: A name of :data:`MRI_MODALITIES`.

    Raises:
        ValueError: If the name is neither in the vocabulary nor an alias.
    """
    key = str(name).strip().lower()
    key = MODALITY_ALIASES.get(key, key)
    if key not in MRI_MODALITIES:
        raise ValueError(
            f'unknown MRI modality {name!r}; the vocabulary is '
            f'{MRI_MODALITIES} (aliases: {sorted(MODALITY_ALIASES)}).')
    return key
