"""Data preprocessor for inputs packed as a dict keyed by modality."""
from numbers import Number
from typing import Dict, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor

from mics_mm.registry import MODELS

MeanStd = Union[Sequence[Number], Dict[str, Sequence[Number]]]


@MODELS.register_module()
class PerModalityDataPreprocessor(BaseDataPreprocessor):
    """Stack, cast and normalise each modality with its own mean and std.

    ``PackMultiModalInputs`` packs ``inputs`` as ``{modality: uint8 CxHxW
    tensor}``; after collation a batch is ``{'inputs': {modality: [tensor,
    ...]}, 'data_samples': [...]}``. This preprocessor turns every modality
    into a float ``(N, C, H, W)`` tensor on the model's device, flips BGR to
    RGB when ``to_rgb`` and normalises it with that modality's statistics.

    A batch of ``SemiSupervisedDataset`` also carries ``'unlabeled':
    {'weak': {modality: (mu, C, H, W) per sample}, 'strong': {...}}``; each
    view is flattened to ``(N * mu, C, H, W)`` and normalised the same way.

    Args:
        mean (Sequence[Number] | dict): Per-channel mean (0-255 scale), either
            one sequence shared by every modality or a dict ``{modality:
            sequence}``. Defaults to None (no normalisation).
        std (Sequence[Number] | dict): Per-channel std, same form as ``mean``.
            Defaults to None.
        to_rgb (bool): Whether to flip the channel order (images are loaded
            as BGR by OpenCV). Defaults to True.
        modalities (Sequence[str], optional): The modalities expected in every
            batch, in order. When given, a batch missing one raises an error
            naming it; when None, whatever the batch holds is processed.
            Defaults to None.
        non_blocking (bool): Whether to copy to the device asynchronously.
            Defaults to False.
    """

    def __init__(self,
                 mean: Optional[MeanStd] = None,
                 std: Optional[MeanStd] = None,
                 to_rgb: bool = True,
                 modalities: Optional[Sequence[str]] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if (mean is None) != (std is None):
            raise ValueError('PerModalityDataPreprocessor: give both `mean` and '
                             '`std`, or neither.')
        self.to_rgb = to_rgb
        self.modalities = tuple(modalities) if modalities else None
        self._stats: set = set()
        self._shared = not isinstance(mean, dict)
        if mean is None:
            return
        if self._shared:
            self._register('_shared', mean, std)
        else:
            if not isinstance(std, dict) or set(mean) != set(std):
                raise ValueError(
                    'PerModalityDataPreprocessor: per-modality `mean` and `std` '
                    f'must name the same modalities, got {sorted(mean)} and '
                    f'{sorted(std) if isinstance(std, dict) else std}.')
            for name in mean:
                self._register(name, mean[name], std[name])

    def _register(self, name: str, mean: Sequence[Number],
                  std: Sequence[Number]) -> None:
        """Keep ``mean``/``std`` of one modality as non-persistent buffers."""
        self.register_buffer(f'mean_{name}',
                             torch.tensor(mean, dtype=torch.float32).view(
                                 -1, 1, 1), False)
        self.register_buffer(f'std_{name}',
                             torch.tensor(std, dtype=torch.float32).view(
                                 -1, 1, 1), False)
        self._stats.add(name)

    def _normalize(self, name: str, x: torch.Tensor) -> torch.Tensor:
        key = '_shared' if self._shared else name
        if key not in self._stats:
            if self._stats:
                raise KeyError(
                    f'PerModalityDataPreprocessor: no mean/std for modality '
                    f'{name!r}; add it to the `mean` and `std` dicts '
                    f'(have {sorted(self._stats)}).')
            return x
        return (x - getattr(self, f'mean_{key}')) / getattr(self, f'std_{key}')

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess one collated batch.

        Args:
            data (dict): ``{'inputs': {modality: list | Tensor},
                'data_samples': list}``.
            training (bool): Unused; kept for the mmengine interface.

        Returns:
            dict: The same structure with float ``(N, C, H, W)`` tensors.
        """
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            raise TypeError(
                'PerModalityDataPreprocessor expects `inputs` packed as a dict keyed '
                'by modality (use PackMultiModalInputs in the pipeline), '
                f'got {type(inputs).__name__}.')
        out = {'inputs': self._modalities(inputs)}
        samples = data.get('data_samples', None)
        out['data_samples'] = self.cast_data(
            samples) if samples is not None else None
        if data.get('unlabeled') is not None:
            out['unlabeled'] = {
                view: self._modalities(images)
                for view, images in data['unlabeled'].items()
            }
        return out

    def _modalities(self, inputs: dict) -> Dict[str, 'torch.Tensor']:
        """Stack, cast and normalise every modality of one view."""
        names = self.modalities or tuple(inputs)
        missing = [m for m in names if m not in inputs]
        if missing:
            raise KeyError(f'PerModalityDataPreprocessor: batch lacks modalities '
                           f'{missing} (has {sorted(inputs)}).')
        out = {}
        for name in names:
            batch = inputs[name]
            if isinstance(batch, (list, tuple)):
                batch = torch.stack(list(batch))
            if batch.dim() == 5:  # (N, mu, C, H, W) unlabelled views
                batch = batch.flatten(0, 1)
            batch = self.cast_data(batch).float()
            if self.to_rgb and batch.size(1) == 3:
                batch = batch.flip(1)
            out[name] = self._normalize(name, batch)
        return out
