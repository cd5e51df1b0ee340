"""Learnable per-modality templates on a canonical canvas (BrainMVP MD)."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mics_mm.registry import MODELS

from ...structures import MRI_MODALITIES
from ...utils.checkpoint_io import read_checkpoint

__all__ = [
    'BrainMVPModalityTemplates', 'crop_templates', 'crop_boxes',
    'canvas_positions',
    'load_templates', 'fill_missing_modalities', 'BrainMVPTemplateFiller',
    'check_canvas'
]


class _NormalizedCrop(torch.autograd.Function):
    """Crops of min-max normalised templates, with a one-pass backward.

    Autograd through ``templates[index]`` and ``min`` / ``max`` over whole
    templates builds several canvas-sized zero tensors in the backward pass
    (one per gather, one per reduction); this function builds the
    gradient of the templates once: the crops' gradient scattered at their
    voxels plus the gradient of each template's minimum and maximum at its
    argmin and argmax voxel (what ``min(dim)`` / ``max(dim)`` route it to),
    the same values autograd gives.
    """

    @staticmethod
    def forward(ctx, templates, low, high, arg_low, arg_high, used, inverse,
                valid, spare, *index):
        span = (high - low).clamp_min(1e-6)
        x = templates[index]
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        crops = (x - low[inverse].view(shape)) / span[inverse].view(shape)
        ctx.save_for_backward(x, low, high, arg_low, arg_high, used, inverse,
                              valid, *index)
        ctx.templates_shape = templates.shape
        ctx.spare = spare
        return crops * valid

    @staticmethod
    def backward(ctx, grad_out):
        x, low, high, arg_low, arg_high, used, inverse, valid, *index = \
            ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return (None, ) * (9 + len(index))
        g = grad_out * valid
        # The crop-sized part of the graph again, with autograd: gradient
        # of the crop values and of the used templates' minima and maxima.
        with torch.enable_grad():
            xl = x.detach().requires_grad_()
            lo = low.detach().requires_grad_()
            hi = high.detach().requires_grad_()
            span = (hi - lo).clamp_min(1e-6)
            shape = [x.shape[0]] + [1] * (x.dim() - 1)
            crops = (xl - lo[inverse].view(shape)) / span[inverse].view(shape)
            gx, glo, ghi = torch.autograd.grad(crops, (xl, lo, hi), g)
        # A zero gradient handed back by the optimizer after the last step
        # (BrainMVPSparseTemplateAdamW.zero_grad) saves allocating and
        # page-faulting a canvas-sized tensor every step.
        grad = None
        if ctx.spare is not None:
            grad = ctx.spare.take_spare_grad(ctx.templates_shape, g.dtype,
                                             g.device)
        if grad is None:
            grad = torch.zeros(
                ctx.templates_shape, dtype=g.dtype, device=g.device)
        grad.index_put_(tuple(index), gx, accumulate=True)
        flat = grad.view(grad.shape[0], -1)
        flat.index_put_((used, arg_low), glo, accumulate=True)
        flat.index_put_((used, arg_high), ghi, accumulate=True)
        return (grad, ) + (None, ) * (8 + len(index))


def crop_boxes(modality: torch.Tensor, offset: torch.Tensor,
               size: Sequence[int], canvas: Sequence[int]
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Canvas voxels each crop reads: ``(modality, lo, hi)``.

    Args:
        modality (Tensor): ``(N,)`` template index of each crop.
        offset (Tensor): ``(N, k)`` crop origins.
        size (Sequence[int]): Crop extent ``(k,)``.
        canvas (Sequence[int]): Canvas shape ``(k,)``.

    Returns:
        tuple: ``modality`` and ``lo``, ``hi`` ``(N, k)`` (CPU, long), the
        box ``[lo, hi)`` of each crop clipped to the canvas; a crop wholly
        outside the canvas has ``hi <= lo`` on some axis.
    """
    offset = offset.detach().cpu().long()
    lo = offset.clamp_min(0)
    hi = torch.minimum(offset + torch.tensor(size, dtype=torch.long),
                       torch.tensor(canvas, dtype=torch.long))
    return modality.detach().cpu().long(), lo, hi


def crop_templates(templates: torch.Tensor,
                   modality: torch.Tensor,
                   offset: torch.Tensor,
                   size: Sequence[int],
                   return_extremes: bool = False,
                   spare=None):
    """Crop min-max normalised templates at canvas positions.

    Args:
        templates (Tensor): ``(M, *canvas)`` raw templates.
        modality (Tensor): ``(N,)`` template index of each crop.
        offset (Tensor): ``(N, k)`` crop origin on the canvas (may be
            negative or run past the end: zeros there).
        size (Sequence[int]): Crop extent ``(k,)``.
        return_extremes (bool): Also return the used templates and the flat
            canvas index of their minimum and maximum (the voxels, besides
            the crops, that receive gradient). Defaults to False.
        spare (optional): Has ``take_spare_grad(shape, dtype, device)``
            returning an all-zero gradient tensor to fill, or None
            (``BrainMVPModalityTemplates``). Defaults to None.

    Returns:
        Tensor | tuple: ``(N, *size)``; each template scaled to [0, 1] by
        its own minimum and maximum over the whole template (only the
        templates in use are scanned), not detached: as in the release, the
        argmin and argmax voxels receive gradient too. With
        ``return_extremes``, ``(crops, used, arg_low, arg_high)``.
    """
    canvas = templates.shape[1:]
    size = tuple(int(s) for s in size)
    if len(size) != len(canvas) or offset.shape[1] != len(size):
        raise ValueError(
            f'BrainMVPModalityTemplates: crop of {len(size)} axes with offsets '
            f'{tuple(offset.shape)} on a {tuple(canvas)} canvas.')
    device = templates.device
    modality = modality.to(device)
    offset = offset.to(device)
    # Min-max statistics of the templates in use only (one view per
    # template: no copy of the templates).
    used, inverse = torch.unique(modality, return_inverse=True)
    with torch.no_grad():
        stats = []
        for m in used.tolist():
            flat = templates[m].reshape(-1)
            stats.append(flat.min(dim=0) + flat.max(dim=0))
        low = torch.stack([s[0] for s in stats])
        arg_low = torch.stack([s[1] for s in stats])
        high = torch.stack([s[2] for s in stats])
        arg_high = torch.stack([s[3] for s in stats])
    # One gather for all crops (a per-crop slice would make its backward
    # allocate a canvas-sized gradient for every crop).
    n, k = offset.shape
    index, valid = [modality.view(n, *([1] * k))], None
    for axis, (extent, limit) in enumerate(zip(size, canvas)):
        coords = offset[:, axis:axis + 1] + torch.arange(
            extent, device=device)
        inside = (coords >= 0) & (coords < limit)
        shape = [n] + [1] * k
        shape[axis + 1] = extent
        index.append(coords.clamp(0, limit - 1).view(shape))
        inside = inside.view(shape)
        valid = inside if valid is None else valid & inside
    crops = _NormalizedCrop.apply(templates, low, high, arg_low, arg_high,
                                  used, inverse, valid.to(templates.dtype),
                                  spare, *index)
    if return_extremes:
        return crops, used, arg_low, arg_high
    return crops


def canvas_positions(data_samples: Sequence,
                     spatial: Sequence[int]) -> Tuple[torch.Tensor, List[int]]:
    """Canvas origin ``(N, 3)`` and 3D crop extent of 2D / 3D samples.

    A 3D patch's origin is its ``canvas_offset``. A 2D slice is a crop of
    extent 1 along ``canvas_axis`` at ``slice_index`` (docs/methods.md,
    "BrainMVP decision 1"), its in-plane origin the other two ``canvas_offset``
    entries.

    Args:
        data_samples (Sequence): Samples with the MRI transforms' metainfo.
        spatial (Sequence[int]): Spatial shape of the batch (2 or 3 axes).

    Returns:
        tuple: ``(offsets, size)``.
    """
    offsets = []
    size = list(spatial)
    for sample in data_samples:
        offset = list(sample.metainfo.get('canvas_offset', (0, 0, 0)))
        if len(spatial) == 2:
            axis = int(sample.metainfo.get('canvas_axis', 2))
            offset[axis] = int(sample.metainfo['slice_index'])
            size = list(spatial)
            size.insert(axis, 1)
        offsets.append(offset)
    return torch.tensor(offsets, dtype=torch.long), size


@MODELS.register_module()
class BrainMVPModalityTemplates(BaseModule):
    """One learnable volume per modality, cropped at a sample's position.

    BrainMVP's modality template distillation (docs/methods.md, "BrainMVP: proxy tasks"): the
    masked blocks of modality ``m`` are filled from a learnable template of
    modality ``m`` on the SRI24 canvas (240 x 240 x 155 by default),
    min-max normalised to [0, 1] before use and cropped at the position the
    sample occupies on that canvas. The templates learn only through the
    reconstruction loss. Positions come from the MRI transforms
    (``canvas_offset``; a 2D slice is a crop of extent 1 along its axis,
    docs/methods.md, "BrainMVP decision 1"). Parts of a crop outside the canvas (padding)
    are 0.

    Touched region: while gradients are on, the module records, per
    template, the box (union of the crops it served) and the argmin /
    argmax voxels of its normalisation since :meth:`clear_touched`; these
    are the only voxels the loss gives a gradient.
    ``BrainMVPSparseTemplateAdamW`` (``mics_mm.engine.optimizers``) reads the record
    to apply AdamW inside it only, instead of over all 71.4 M voxels of the
    default canvas (docs/benchmarks.md, "BrainMVP 3D step cost").

    Args:
        num_modalities (int): Number of templates (the modality vocabulary:
            8 for flair, t1, t1c, t2, mra, pd, dwi, adc).
        canvas (Sequence[int]): Canvas shape. Defaults to (240, 240, 155).
        init_std (float): Std of a random normal initialisation; 0 starts
            every template at zero, as the release does (its authors found
            that zero-initialised templates learn faster and look like
            brains sooner). Defaults to 0.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_modalities: int = 8,
                 canvas: Sequence[int] = (240, 240, 155),
                 init_std: float = 0.0,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.canvas = tuple(int(c) for c in canvas)
        self.init_std = init_std
        self.templates = nn.Parameter(
            torch.zeros(num_modalities, *self.canvas))
        self._touched: Optional[dict] = None
        self._spare_grad: Optional[torch.Tensor] = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state['_spare_grad'] = None  # a zero tensor: not worth copying
        return state

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_std > 0:
            nn.init.normal_(self.templates, std=self.init_std)
        else:
            nn.init.zeros_(self.templates)

    # ------------------------------------------------------ touched region
    def _recording(self) -> bool:
        return torch.is_grad_enabled() and self.templates.requires_grad

    def _record(self, modality: torch.Tensor, lo: torch.Tensor,
                hi: torch.Tensor, extremes=()) -> None:
        """Add boxes ``[lo, hi)`` of templates ``modality`` and extreme
        voxels ``(used, arg_low, arg_high)`` to the touched record."""
        num, k = self.templates.shape[0], self.templates.dim() - 1
        if self._touched is None:
            self._touched = dict(
                lo=torch.full((num, k), torch.iinfo(torch.long).max),
                hi=torch.full((num, k), -1, dtype=torch.long),
                extra=torch.full((num, 2), -1, dtype=torch.long))
        rec = self._touched
        for m, a, b in zip(modality.tolist(), lo, hi):
            if bool((b > a).all()):
                rec['lo'][m] = torch.minimum(rec['lo'][m], a)
                rec['hi'][m] = torch.maximum(rec['hi'][m], b)
        if extremes:
            used, arg_low, arg_high = (t.detach().cpu().long()
                                       for t in extremes)
            canvas = torch.tensor(self.canvas)
            for m, pair in zip(used.tolist(),
                               torch.stack([arg_low, arg_high], 1)):
                for j, flat in enumerate(pair.tolist()):
                    old = int(rec['extra'][m, j])
                    if old < 0 or old == flat:
                        rec['extra'][m, j] = flat
                        continue
                    # a second extreme in one step (the template changed
                    # without a step): widen the box to cover it
                    coords = torch.tensor(
                        [int(c) for c in torch.unravel_index(
                            torch.tensor(flat), self.canvas)])
                    rec['lo'][m] = torch.minimum(rec['lo'][m], coords)
                    rec['hi'][m] = torch.maximum(rec['hi'][m], coords + 1)
                    rec['hi'][m] = torch.minimum(rec['hi'][m], canvas)

    def touched(self) -> Optional[dict]:
        """The voxels the templates served since :meth:`clear_touched`.

        Returns:
            dict | None: ``lo`` and ``hi`` ``(M, k)`` (long, CPU): per
            template the box ``[lo, hi)`` covering every crop served
            (``hi <= lo``: none), and ``extra`` ``(M, 2)``: the flat canvas
            index of the template's argmin and argmax voxel, which the
            min-max normalisation gives a gradient (-1: not used). None
            when nothing was served with gradients on.
        """
        return self._touched

    def clear_touched(self) -> None:
        """Start a new record (the optimizer calls it after its step)."""
        self._touched = None

    def give_spare_grad(self, grad: torch.Tensor) -> None:
        """Keep an **all-zero** gradient tensor for the next backward pass
        (``BrainMVPSparseTemplateAdamW.zero_grad`` zeroes the touched region of the
        old gradient and hands it back)."""
        self._spare_grad = grad

    def take_spare_grad(self, shape, dtype, device) -> Optional[torch.Tensor]:
        """The spare zero gradient if it fits (and forget it), else None."""
        grad, self._spare_grad = self._spare_grad, None
        if grad is None or grad.shape != shape or grad.dtype != dtype or \
                grad.device != torch.device(device):
            return None
        return grad

    def normalized(self) -> torch.Tensor:
        """Every template min-max normalised to [0, 1] (differentiable;
        records the whole canvas as touched)."""
        if self._recording():
            num = self.templates.shape[0]
            self._record(
                torch.arange(num), torch.zeros(num, len(self.canvas),
                                               dtype=torch.long),
                torch.tensor([self.canvas] * num, dtype=torch.long))
        flat = self.templates.flatten(1)
        low = flat.min(dim=1).values.view(-1, *([1] * len(self.canvas)))
        high = flat.max(dim=1).values.view(-1, *([1] * len(self.canvas)))
        return (self.templates - low) / (high - low).clamp_min(1e-6)

    def crop(self, modality: torch.Tensor, offset: torch.Tensor,
             size: Sequence[int]) -> torch.Tensor:
        """Crop each sample's template at its canvas position.

        Args:
            modality (Tensor): ``(N,)`` template index of each sample.
            offset (Tensor): ``(N, k)`` position of the crop origin on the
                canvas (may be negative or run past the end: zeros there).
            size (Sequence[int]): Crop extent ``(k,)``.

        Returns:
            Tensor: ``(N, *size)`` crops of the normalised templates.
        """
        if not self._recording():
            return crop_templates(self.templates, modality, offset, size)
        crops, *extremes = crop_templates(
            self.templates, modality, offset, size, return_extremes=True,
            spare=self)
        self._record(*crop_boxes(modality, offset, size, self.canvas),
                     extremes=extremes)
        return crops


def load_templates(checkpoint: str,
                   key: str = 'templates.templates',
                   owner: str = 'load_templates') -> torch.Tensor:
    """The raw BrainMVP templates ``(M, *canvas)`` of a checkpoint.

    Args:
        checkpoint (str): A BrainMVP pre-training checkpoint (trusted: it
            is unpickled).
        key (str): State-dict key of the templates. Defaults to
            ``'templates.templates'``.
        owner (str): Name used in error messages.

    Returns:
        Tensor: float32 templates (detached, on the CPU).

    Raises:
        FileNotFoundError / KeyError / ValueError: naming the checkpoint and
        what to do.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'{owner}: BrainMVP checkpoint {checkpoint!r} not found; '
            'pre-train first (tools/train.py configs/brainmvp/...) or set '
            'templates=None to fill missing modalities with zeros.')
    ckpt = read_checkpoint(checkpoint)
    state = ckpt.get('state_dict', ckpt)
    if key not in state:
        raise KeyError(
            f'{owner}: {checkpoint!r} has no {key!r}; is it a BrainMVP '
            'checkpoint with templates (model.templates not None)?')
    templates = state[key].detach().float().cpu()
    if templates.dim() != 4:
        raise ValueError(f'{owner}: {key!r} in {checkpoint!r} has shape '
                         f'{tuple(templates.shape)}, expected (M, X, Y, Z).')
    return templates


def fill_missing_modalities(inputs: torch.Tensor,
                            data_samples: Sequence,
                            templates: Optional[torch.Tensor],
                            vocabulary: Sequence[str],
                            mask_background: bool = True) -> torch.Tensor:
    """Fill the channels of missing modalities from templates.

    ``ArrangeModalities`` leaves a zero channel for each modality a
    study lacks and lists them in ``missing_modalities``. Here each such
    channel takes the template of its modality cropped at the sample's
    canvas position (:func:`canvas_positions`), which is how BrainMVP's
    templates substitute missing modalities at fine-tuning (docs/methods.md, "BrainMVP").
    With ``mask_background`` the template is kept only where some present
    modality is non-zero: the images are 0 outside the head after
    percentile normalisation, a template is not.

    Args:
        inputs (Tensor): ``(N, C, *spatial)`` (2D or 3D).
        data_samples (Sequence): With ``modalities`` (the C channel names)
            and ``missing_modalities`` in the metainfo.
        templates (Tensor, optional): ``(M, *canvas)``, indexed by
            ``vocabulary``; None leaves the zero channels.
        vocabulary (Sequence[str]): Modality of each template.
        mask_background (bool): Zero the template outside the head.
            Defaults to True.

    Returns:
        Tensor: ``inputs`` with the missing channels filled (a new tensor
        when anything is filled).
    """
    if templates is None:
        return inputs
    rows, mods = [], []
    for i, sample in enumerate(data_samples):
        channels = list(sample.metainfo.get('modalities') or ())
        for name in sample.metainfo.get('missing_modalities') or ():
            if name not in vocabulary:
                raise KeyError(f'fill_missing_modalities: no template for '
                               f'modality {name!r} (have {tuple(vocabulary)})')
            rows.append((i, channels.index(name)))
            mods.append(list(vocabulary).index(name))
    if not rows:
        return inputs
    offsets, size = canvas_positions(data_samples, inputs.shape[2:])
    index = torch.tensor([i for i, _ in rows])
    crops = crop_templates(
        templates.to(inputs.device), torch.tensor(mods), offsets[index],
        size).reshape(len(rows), *inputs.shape[2:]).to(inputs.dtype)
    out = inputs.clone()
    for (i, c), crop in zip(rows, crops):
        if mask_background:
            present = [
                k for k in range(inputs.shape[1]) if (i, k) not in rows
            ]
            head = (inputs[i, present] > 0).any(dim=0)
            crop = crop * head
        out[i, c] = crop
    return out


class BrainMVPTemplateFiller(nn.Module):
    """Frozen BrainMVP templates that fill missing modality channels.

    Used by the downstream data preprocessors
    (``MRIDataPreprocessor`` for mmpretrain classifiers,
    ``MRISegDataPreprocessor`` for mmsegmentation segmentors): the
    templates are read from a BrainMVP pre-training checkpoint at the first
    batch that needs them (so configs build without the file; a missing
    file fails at the first step, naming it) and kept as a non-persistent
    buffer: they belong to the pre-trained model, not to the fine-tuned one,
    and the config names the checkpoint for training and testing alike. See
    :func:`fill_missing_modalities`.

    Args:
        templates (str, optional): BrainMVP checkpoint; None fills missing
            modalities with zeros (training from scratch).
        key (str): State-dict key of the templates. Defaults to
            ``'templates.templates'``.
        vocabulary (Sequence[str], optional): Modality of each template;
            defaults to BrainMVP's vocabulary ``MRI_MODALITIES``.
        mask_background (bool): Keep the template only inside the head.
            Defaults to True.
        owner (str): Name used in error messages.
    """

    def __init__(self,
                 templates: Optional[str] = None,
                 key: str = 'templates.templates',
                 vocabulary: Optional[Sequence[str]] = None,
                 mask_background: bool = True,
                 owner: str = 'BrainMVPTemplateFiller') -> None:
        super().__init__()
        if vocabulary is None:
            vocabulary = MRI_MODALITIES
        self.vocabulary = tuple(vocabulary)
        self.source = templates
        self.key = key
        self.owner = owner
        self.mask_background = mask_background
        self.register_buffer('templates', None, persistent=False)

    def load(self) -> Optional[torch.Tensor]:
        """Read the templates (once); None without a source."""
        if self.templates is None and self.source:
            values = load_templates(self.source, self.key, self.owner)
            if len(values) > len(self.vocabulary):
                raise ValueError(
                    f'{self.owner}: {self.source!r} has {len(values)} '
                    f'templates for a vocabulary of {len(self.vocabulary)} '
                    'modalities.')
            self.templates = values
        return self.templates

    def forward(self, inputs: torch.Tensor,
                data_samples: Sequence) -> torch.Tensor:
        """Fill the missing channels of a batch (no-op without templates)."""
        if data_samples is None or not self.source:
            return inputs
        templates = self.load()
        check_canvas(data_samples, templates.shape[1:], self.owner)
        return fill_missing_modalities(inputs, data_samples,
                                       templates.to(inputs.device),
                                       self.vocabulary, self.mask_background)


def check_canvas(data_samples: Sequence, canvas: Sequence[int],
                 owner: str) -> None:
    """Raise if a sample's canvas (``canvas_shape``) is not the templates'.

    Templates are indexed by position on one canvas; a study on another
    grid would get crops of the wrong anatomy without any error.
    """
    canvas = tuple(int(c) for c in canvas)
    for sample in data_samples:
        shape = sample.metainfo.get('canvas_shape')
        if shape is not None and tuple(int(s) for s in shape) != canvas:
            raise ValueError(
                f'{owner}: study {sample.metainfo.get("case")!r} lies on a '
                f'{tuple(shape)} canvas but the templates on {canvas}; '
                'register the studies to the template space (BrainMVP: '
                'SRI24, 240 x 240 x 155) or set the templates canvas to '
                'the data\'s.')
