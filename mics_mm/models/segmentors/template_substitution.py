"""BrainMVP's modality templates in downstream 3D training, on the device.

Two uses (docs/methods.md, "BrainMVP: downstream"):

- **missing modalities**: a channel that ``ArrangeModalities`` left at zero
  (listed in ``missing_modalities``) takes the template of its modality,
  kept inside the head (where a present channel is non-zero);
- **channel substitution** (training augmentation, the release's
  ``RandomChannelCutmix(num_mix=3)``): per sample, ``k`` is drawn uniformly
  from ``0 .. max_channels`` (capped at ``C - 1``, so one real channel
  always stays) and ``k`` distinct channels, drawn uniformly, are replaced
  by the template of their modality over the whole patch.

Templates are cropped at the sample's canvas position (``canvas_offset``,
:func:`~mics_mm.models.utils.crop_templates`, min-max normalised to
[0, 1]) and mirrored like the sample when the pipeline flipped it
(``flip_axes`` of ``RandomFlip3D``). They are read once from the
pre-training checkpoint and kept as a non-persistent buffer on the model's
device: no host-to-device copy per batch.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from ...structures import MRI_MODALITIES
from ..utils import canvas_positions, check_canvas, crop_templates
from ..utils import load_templates

__all__ = ['BrainMVPTemplateSubstitution']

_OWNER = 'BrainMVPTemplateSubstitution'


class BrainMVPTemplateSubstitution(nn.Module):
    """Fill missing channels and substitute random channels by templates.

    Args:
        checkpoint (str, optional): BrainMVP pre-training checkpoint holding
            the templates; None: nothing is filled or substituted.
        key (str): State-dict key of the templates. Defaults to
            ``'templates.templates'``.
        vocabulary (Sequence[str], optional): Modality of each template.
            Defaults to None (BrainMVP's ``MRI_MODALITIES``).
        max_channels (int): Most channels substituted per sample (the
            release's ``num_mix``). Defaults to 3.
        mask_missing (bool): Keep a missing-modality template inside the
            head only. Defaults to True.
        mask_substituted (bool): The same for substituted channels (the
            release replaces the whole channel). Defaults to False.
    """

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 key: str = 'templates.templates',
                 vocabulary: Optional[Sequence[str]] = None,
                 max_channels: int = 3,
                 mask_missing: bool = True,
                 mask_substituted: bool = False) -> None:
        super().__init__()
        if max_channels < 0:
            raise ValueError(f'{_OWNER}: max_channels must be >= 0, got '
                             f'{max_channels}.')
        self.checkpoint = checkpoint
        self.key = key
        self.vocabulary = tuple(vocabulary or MRI_MODALITIES)
        self.max_channels = int(max_channels)
        self.mask_missing = bool(mask_missing)
        self.mask_substituted = bool(mask_substituted)
        self.register_buffer('templates', None, persistent=False)

    @property
    def available(self) -> bool:
        """Whether templates are configured."""
        return bool(self.checkpoint) or self.templates is not None

    def load(self, device: torch.device) -> Tensor:
        """The templates ``(M, *canvas)`` on ``device``, read only once."""
        if self.templates is None:
            if not self.checkpoint:
                raise RuntimeError(f'{_OWNER}: no templates checkpoint set.')
            values = load_templates(self.checkpoint, self.key, _OWNER)
            if len(values) > len(self.vocabulary):
                raise ValueError(
                    f'{_OWNER}: {self.checkpoint!r} has {len(values)} '
                    f'templates for a vocabulary of {len(self.vocabulary)}.')
            self.templates = values.to(device)
        elif self.templates.device != device:  # model moved after loading
            self.templates = self.templates.to(device)
        return self.templates

    # ------------------------------------------------------------ helpers
    def _modality_index(self, sample, channel: int) -> int:
        names = list(sample.metainfo.get('modalities') or ())
        if channel >= len(names):
            raise KeyError(
                f'{_OWNER}: sample {sample.metainfo.get("case")!r} names '
                f'{len(names)} modalities ({names}) for channel {channel}; '
                'pack "modalities" into the metainfo (PackMRIInputs).')
        name = names[channel]
        if name not in self.vocabulary:
            raise KeyError(f'{_OWNER}: no template for modality {name!r} '
                           f'(have {self.vocabulary}).')
        return self.vocabulary.index(name)

    def replace(self, inputs: Tensor, data_samples: Sequence,
                rows: Sequence[Tuple[int, int]], mask: bool) -> Tensor:
        """Replace channels ``rows`` = ``[(sample, channel), ...]`` of
        ``inputs`` ``(N, C, D, H, W)`` by template crops.

        Args:
            inputs (Tensor): The batch.
            data_samples (Sequence): Samples with ``modalities``,
                ``canvas_offset`` (and ``flip_axes``) in the metainfo.
            rows (Sequence[tuple[int, int]]): Channels to replace.
            mask (bool): Keep the template only where a channel not in
                ``rows`` is non-zero.

        Returns:
            Tensor: A new tensor (``inputs`` itself when ``rows`` is empty).
        """
        if not rows:
            return inputs
        templates = self.load(inputs.device)
        check_canvas(data_samples, templates.shape[1:], _OWNER)
        offsets, size = canvas_positions(data_samples, inputs.shape[2:])
        index = torch.tensor([i for i, _ in rows])
        mods = torch.tensor(
            [self._modality_index(data_samples[i], c) for i, c in rows])
        crops = crop_templates(templates, mods, offsets[index],
                               size).reshape(len(rows), *inputs.shape[2:])
        crops = crops.to(inputs.dtype)
        out = inputs.clone()
        replaced = set(rows)
        for (i, c), crop in zip(rows, crops):
            axes = data_samples[i].metainfo.get('flip_axes') or ()
            if axes:
                crop = crop.flip(dims=[int(a) for a in axes])
            if mask:
                keep = [
                    k for k in range(inputs.shape[1])
                    if (i, k) not in replaced
                ]
                crop = crop * (inputs[i, keep] > 0).any(dim=0)
            out[i, c] = crop
        return out

    # ------------------------------------------------------------ the uses
    def fill_missing(self, inputs: Tensor, data_samples: Sequence) -> Tensor:
        """Fill every channel listed in a sample's ``missing_modalities``.

        A no-op without templates (the channels stay zero).
        """
        if data_samples is None or not self.available:
            return inputs
        rows = []
        for i, sample in enumerate(data_samples):
            names = list(sample.metainfo.get('modalities') or ())
            for name in sample.metainfo.get('missing_modalities') or ():
                rows.append((i, names.index(name)))
        return self.replace(inputs, data_samples, rows, self.mask_missing)

    def draw(self, num_samples: int, num_channels: int,
             generator: Optional[torch.Generator] = None
             ) -> List[List[int]]:
        """The channels to substitute of each sample (release rule)."""
        chosen = []
        for _ in range(num_samples):
            k = int(torch.randint(0, self.max_channels + 1, (),
                                  generator=generator))
            k = min(k, num_channels - 1)
            perm = torch.randperm(num_channels, generator=generator)
            chosen.append(sorted(perm[:k].tolist()))
        return chosen

    def substitute(self, inputs: Tensor, data_samples: Sequence,
                   generator: Optional[torch.Generator] = None
                   ) -> Tuple[Tensor, List[List[int]]]:
        """Random channel substitution of a batch.

        Returns:
            tuple: the new batch and the substituted channels per sample.
        """
        chosen = self.draw(inputs.shape[0], inputs.shape[1], generator)
        rows = [(i, c) for i, chans in enumerate(chosen) for c in chans]
        return self.replace(inputs, data_samples, rows,
                            self.mask_substituted), chosen
