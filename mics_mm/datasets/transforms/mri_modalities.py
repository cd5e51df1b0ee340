"""Choose and order the modality channels of an MRI study."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS

from ...structures import canonical_modality

__all__ = ['SampleModalities', 'ArrangeModalities']


@TRANSFORMS.register_module()
class SampleModalities(BaseTransform):
    """Choose ``num`` channels of the study at random.

    With at least ``num`` channels, ``num`` distinct ones are drawn without
    replacement. With fewer, every channel is kept and the missing ones are
    duplicates drawn at random with replacement (as BrainMVP's public code),
    in shuffled order.

    **Required Keys:**

    - img (np.ndarray): ``(C, ...)``.
    - modalities (tuple[str])

    **Modified Keys:**

    - img: ``(num, ...)``.
    - modalities: the names of the chosen channels (may repeat).

    Args:
        num (int): Channels to output. Defaults to 4.
    """

    def __init__(self, num: int = 4) -> None:
        if num < 1:
            raise ValueError(f'SampleModalities: num must be >= 1, got '
                             f'{num}')
        self.num = int(num)

    def transform(self, results: dict) -> dict:
        """Sample the channels."""
        img = results['img']
        n = img.shape[0]
        if n >= self.num:
            idx = np.random.choice(n, self.num, replace=False)
        else:
            extra = np.random.choice(n, self.num - n, replace=True)
            idx = np.random.permutation(np.concatenate([np.arange(n),
                                                        extra]))
        mods = tuple(results.get('modalities') or range(n))
        results['img'] = np.ascontiguousarray(img[idx])
        results['modalities'] = tuple(mods[i] for i in idx)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num={self.num})'


@TRANSFORMS.register_module()
class ArrangeModalities(BaseTransform):
    """Put a study's channels in a fixed modality order for a downstream
    model; a modality the study lacks becomes a zero channel.

    Downstream models take fixed input channels (e.g. flair, t1, t1c, t2);
    BrainMVP's templates then substitute the missing ones
    (``MRISegDataPreprocessor`` / ``MRIDataPreprocessor`` fill the
    zero channels listed in ``missing_modalities``; docs/methods.md,
    "BrainMVP decision 6": templates substitute missing modalities at
    fine-tuning). Channels of
    modalities not in ``modalities`` are dropped. Use with
    ``BrainMRIDataset(modalities=..., allow_missing=True)``.

    **Required Keys:**

    - img (np.ndarray): ``(C, ...)``.
    - modalities (tuple[str]): names of the C channels (aliases allowed).

    **Modified Keys:**

    - img: ``(len(modalities), ...)``.
    - modalities: ``modalities`` (canonical names).

    **Added Keys:**

    - missing_modalities (tuple[str]): the zero channels.

    Args:
        modalities (Sequence[str]): Output channel order.
        allow_missing (bool): False raises when a modality is missing.
            Defaults to True.
    """

    def __init__(self, modalities: Sequence[str],
                 allow_missing: bool = True) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        self.modalities = tuple(canonical_modality(m) for m in modalities)
        if not self.modalities or len(set(self.modalities)) != len(
                self.modalities):
            raise ValueError('ArrangeModalities: modalities must be '
                             f'distinct names, got {modalities}')
        self.allow_missing = allow_missing

    def transform(self, results: dict) -> dict:
        """Reorder / zero-fill the channels."""
        img = results['img']
        have = [canonical_modality(m) for m in results['modalities']]
        missing = tuple(m for m in self.modalities if m not in have)
        where = results.get('case') or results.get('img_path')
        if len(missing) == len(self.modalities):
            raise ValueError(
                f'ArrangeModalities: study {where!r} has none of '
                f'{self.modalities} (it has {tuple(have)}).')
        if missing and not self.allow_missing:
            raise ValueError(
                f'ArrangeModalities: study {where!r} lacks {missing}; '
                'set allow_missing=True to let templates (or zeros) stand in.')
        out = np.zeros((len(self.modalities), *img.shape[1:]), np.float32)
        for c, mod in enumerate(self.modalities):
            if mod in have:
                out[c] = img[have.index(mod)]
        results['img'] = out
        results['modalities'] = self.modalities
        results['missing_modalities'] = missing
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'allow_missing={self.allow_missing})')
