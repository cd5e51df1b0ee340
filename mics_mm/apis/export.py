"""Extract a pre-trained encoder from a training checkpoint
(``tools/model_converters/extract_backbone.py``).

A training checkpoint holds the whole model: the encoder and everything only
pre-training needs (heads, decoders, the discriminator, a momentum copy, the
templates, a queue). Downstream code wants the encoder alone, with keys as
the backbone itself spells them, so that ``backbone.load_state_dict(w,
strict=True)`` or ``init_cfg=dict(type='Pretrained', checkpoint=OUT)`` works.
This module finds the encoders a checkpoint holds (its *parts*), copies one
out with its prefix removed, and writes
``{'state_dict': weights, 'meta': {...}}`` atomically, never over an
existing file unless asked (as mmselfsup's ``extract_backbone_weights.py``,
with the checks of :mod:`mics_mm.utils.checkpoint_io`).

Parts (key prefix in the checkpoint's ``state_dict``):

- ``backbone``: ``backbone.``, the trained (online) encoder of MICS,
  BrainMVP, SimCLR, BYOL, MoCo v3, MAE, and of mmpretrain / mmseg
  classifiers and segmentors;
- ``momentum``: ``momentum_encoder.module.0.`` (MICS, MoCo v3) or
  ``target_net.module.0.`` (BYOL), the EMA copy of the encoder;
- one part per modality of a fine-tuned ``MICSMultiModalClassifier``:
  ``backbones.<modality>.``, e.g. ``wli`` and ``nbi``.

The default part is ``backbone``, or the only part there is; a checkpoint
with several encoders and no ``backbone`` (a fine-tuned multimodal
classifier) needs the part named.

Pre-training-only tensors of an encoder are left out
(:data:`PRETRAIN_ONLY_KEYS`: ``MaskedResNet``'s ``mask_token``), so a MICS
ResNet encoder loads strictly into mmpretrain's ``ResNet``. MICS'
``MAEViT`` has the same keys as mmpretrain's ``VisionTransformer``
(``pos_embed`` included, the mask token lives in MAE's decoder).
"""
import io
import os.path as osp
from typing import Any, Dict, Optional, Tuple

import torch

from ..utils.atomic import atomic_write
from ..utils.checkpoint_io import non_finite_tensors, read_checkpoint
from ..version import __version__

__all__ = [
    'BackboneExportError', 'PRETRAIN_ONLY_KEYS', 'backbone_parts',
    'extract_backbone', 'export_backbone', 'mmpretrain_to_timm',
    'check_timm'
]

#: Fixed part name -> candidate key prefixes, in the order they are tried.
FIXED_PARTS: Dict[str, Tuple[str, ...]] = {
    'backbone': ('backbone.', ),
    'momentum': ('momentum_encoder.module.0.', 'target_net.module.0.'),
}
#: Per-modality encoders of ``MICSMultiModalClassifier``.
MODALITY_PREFIX = 'backbones.'
#: Encoder tensors only pre-training uses, left out of an export.
PRETRAIN_ONLY_KEYS = ('mask_token', )
#: ``meta['format']`` of a file this module writes.
FORMAT = 'mics_mm.backbone'


class BackboneExportError(ValueError):
    """The checkpoint has no such encoder, or the export cannot be done."""


def _state_dict(ckpt: Any, source: str) -> Dict[str, torch.Tensor]:
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not any(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise BackboneExportError(
            f'{source!r} is a PyTorch file but holds no state dict (a dict of '
            'tensors, or a checkpoint with one under "state_dict"); give a '
            'checkpoint that tools/train.py wrote (<work_dir>/epoch_N.pth or '
            'iter_N.pth).')
    if all(k.startswith('module.') for k in state):  # a DDP-wrapped model
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def backbone_parts(state_dict: Dict[str, torch.Tensor]) -> Dict[str, str]:
    """The encoders a model state dict holds.

    Args:
        state_dict (dict[str, Tensor]): A model's state dict.

    Returns:
        dict[str, str]: Part name -> key prefix, e.g.
        ``{'backbone': 'backbone.', 'momentum':
        'momentum_encoder.module.0.'}``.
    """
    parts = {}
    for name, prefixes in FIXED_PARTS.items():
        for prefix in prefixes:
            if any(k.startswith(prefix) for k in state_dict):
                parts[name] = prefix
                break
    for key in state_dict:
        if key.startswith(MODALITY_PREFIX):
            modality = key[len(MODALITY_PREFIX):].split('.', 1)[0]
            parts.setdefault(modality, f'{MODALITY_PREFIX}{modality}.')
    return parts


def _describe(parts: Dict[str, str]) -> str:
    return ', '.join(f'{name} ({prefix}*)' for name, prefix in parts.items())


def _top_groups(state_dict: Dict[str, torch.Tensor]) -> str:
    groups = sorted({k.split('.', 1)[0] for k in state_dict})
    return ', '.join(groups[:12]) + (' ...' if len(groups) > 12 else '')


def extract_backbone(
        checkpoint: str,
        part: Optional[str] = None
) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """One encoder of a checkpoint, keys relative to the encoder.

    Args:
        checkpoint (str): Training checkpoint, read with
            ``weights_only=True``.
        part (str, optional): Which encoder (:func:`backbone_parts`). None:
            ``backbone`` if there is one, else the only part.

    Returns:
        tuple[dict, dict]: The weights and the ``meta`` to save with them
        (``source``, ``part``, ``prefix``, ``parts``, ``dropped``, the
        source's ``epoch`` / ``iter`` when known, ...).

    Raises:
        FileNotFoundError: No such file.
        CheckpointReadError: Not a readable checkpoint (names the file).
        BackboneExportError: No such part (the available ones are named),
            several parts and none chosen, no encoder at all, an
            already-extracted file, or NaN / inf weights.
    """
    ckpt = read_checkpoint(checkpoint)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if isinstance(meta, dict) and meta.get('format') == FORMAT:
        raise BackboneExportError(
            f'{checkpoint!r} is already an extracted encoder (part '
            f'{meta.get("part")!r} of {meta.get("source")!r}); load it '
            'directly, e.g. init_cfg=dict(type="Pretrained", '
            f'checkpoint={checkpoint!r}).')
    state = _state_dict(ckpt, checkpoint)
    parts = backbone_parts(state)
    if not parts:
        raise BackboneExportError(
            f'{checkpoint!r} holds no encoder: none of its keys starts with '
            f'backbone., momentum_encoder.module.0., target_net.module.0. or '
            f'backbones.<modality>. (its key groups: {_top_groups(state)}).')
    if part is None:
        if 'backbone' in parts:
            part = 'backbone'
        elif len(parts) == 1:
            part = next(iter(parts))
        else:
            raise BackboneExportError(
                f'{checkpoint!r} holds several encoders and no shared '
                f'"backbone": {_describe(parts)}; choose one with --part '
                f'(e.g. --part {next(iter(parts))}).')
    if part not in parts:
        raise BackboneExportError(
            f'{checkpoint!r} has no part {part!r}; available parts: '
            f'{_describe(parts)}.')
    prefix = parts[part]
    weights = {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }
    dropped = [k for k in PRETRAIN_ONLY_KEYS if k in weights]
    for key in dropped:
        del weights[key]
    bad = non_finite_tensors({'state_dict': weights})
    if bad:
        raise BackboneExportError(
            f'{checkpoint!r}: part {part!r} holds NaN / inf weights '
            f'({", ".join(bad[:3])}); the run diverged before it was saved. '
            'Export an earlier checkpoint.')
    out_meta: Dict[str, Any] = dict(
        format=FORMAT,
        source=osp.abspath(osp.expanduser(str(checkpoint))),
        part=part,
        prefix=prefix,
        parts=list(parts),
        num_tensors=len(weights),
        dropped=dropped,
        mics_mm_version=__version__)
    if isinstance(meta, dict):
        for key in ('epoch', 'iter', 'experiment_name'):
            if isinstance(meta.get(key), (int, str)):
                out_meta[f'source_{key}'] = meta[key]
    return weights, out_meta


# --------------------------------------------------------------- timm
def _vit_key_to_timm(key: str) -> str:
    """mmpretrain ``VisionTransformer`` key -> timm ``VisionTransformer``."""
    if key.startswith('patch_embed.projection.'):
        return 'patch_embed.proj.' + key.split('.', 2)[2]
    if key.startswith('ln1.'):  # the final norm
        return 'norm.' + key[len('ln1.'):]
    if key.startswith('pre_norm.'):
        return 'norm_pre.' + key[len('pre_norm.'):]
    if key.startswith('layers.'):
        _, idx, rest = key.split('.', 2)
        for old, new in (('ln1.', 'norm1.'), ('ln2.', 'norm2.'),
                         ('attn.qkv.', 'attn.qkv.'),
                         ('attn.proj.', 'attn.proj.'),
                         ('ffn.layers.0.0.', 'mlp.fc1.'),
                         ('ffn.layers.1.', 'mlp.fc2.'),
                         ('attn.gamma1.weight', 'ls1.gamma'),
                         ('ffn.gamma2.weight', 'ls2.gamma')):
            if rest.startswith(old):
                return f'blocks.{idx}.{new}{rest[len(old):]}'
    if key in ('cls_token', 'pos_embed'):
        return key
    raise BackboneExportError(
        f'no timm name for the ViT weight {key!r}; only mmpretrain '
        'VisionTransformer / MAEViT encoders of the standard layout convert.')


def mmpretrain_to_timm(
        weights: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor],
                                                     Dict[str, Any]]:
    """Rename an mmpretrain encoder's weights to timm's layout.

    mmpretrain's ``ResNet`` already spells its keys as timm's ``resnet*``
    (``conv1``, ``bn1``, ``layerN.i.convK`` / ``bnK``, ``downsample.0/1``);
    a ``VisionTransformer`` (or ``MAEViT``) is renamed key by key
    (``patch_embed.projection`` -> ``patch_embed.proj``, ``layers.i`` ->
    ``blocks.i``, ``ln1`` / ``ln2`` -> ``norm1`` / ``norm2``, ``ffn`` ->
    ``mlp.fc1`` / ``mlp.fc2``, the final ``ln1`` -> ``norm``). Needs no
    timm; :func:`check_timm` proves the result loads.

    Args:
        weights (dict[str, Tensor]): An extracted encoder.

    Returns:
        tuple[dict, dict]: The renamed weights and the ``timm.create_model``
        keyword arguments the file implies (``in_chans``; for a ViT
        ``img_size`` and ``patch_size``).

    Raises:
        BackboneExportError: Another encoder (ResNetV1c / V1d stems,
            UniFormer3D, ...): timm has no such model.
    """
    if 'patch_embed.projection.weight' in weights:
        proj = weights['patch_embed.projection.weight']
        num_tokens = weights['pos_embed'].shape[1] - (
            1 if 'cls_token' in weights else 0)
        side = int(round(num_tokens**0.5))
        kwargs = dict(
            in_chans=int(proj.shape[1]),
            patch_size=int(proj.shape[-1]),
            img_size=side * int(proj.shape[-1]))
        return {_vit_key_to_timm(k): v for k, v in weights.items()}, kwargs
    if 'conv1.weight' in weights and 'layer1.0.conv1.weight' in weights \
            and weights['conv1.weight'].dim() == 4:
        return dict(weights), dict(
            in_chans=int(weights['conv1.weight'].shape[1]))
    raise BackboneExportError(
        'timm conversion covers mmpretrain ResNet and VisionTransformer '
        '(MAEViT) encoders; this one is neither (e.g. a 3D UniFormer3D, or '
        'a ResNetV1c / V1d deep stem). Export without --timm.')


def _import_timm():
    try:
        import timm
    except ImportError as err:
        raise ImportError(
            '--timm needs the timm package, which is not installed here '
            '(pip install timm); the export without --timm loads into '
            'mmpretrain / mmseg backbones.') from err
    return timm


def check_timm(weights: Dict[str, torch.Tensor], model_name: str,
               **kwargs) -> None:
    """Build ``timm.create_model(model_name, pretrained=False,
    num_classes=0, **kwargs)`` and load ``weights`` into it strictly.

    Raises:
        ImportError: timm is not installed (the message says so).
        BackboneExportError: The weights do not fit that timm model (the
            first missing / unexpected / mismatched keys are named).
    """
    timm = _import_timm()
    try:
        model = timm.create_model(
            model_name, pretrained=False, num_classes=0, **kwargs)
    except Exception as err:  # noqa: BLE001 (unknown name, bad kwargs)
        raise BackboneExportError(
            f'timm cannot build {model_name!r} with {kwargs}: {err}') from err
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    wrong = [
        k for k in own if k in weights and weights[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        raise BackboneExportError(
            f'the encoder does not fit timm {model_name!r}: missing '
            f'{missing[:5]}, unexpected {unexpected[:5]}, shape mismatch '
            f'{wrong[:5]}; choose the timm model of the same architecture '
            '(e.g. resnet18 for ResNet-18, vit_tiny_patch16_224 for '
            'ViT-tiny).')
    model.load_state_dict(weights, strict=True)


# --------------------------------------------------------------- export
def export_backbone(checkpoint: str,
                    out: str,
                    part: Optional[str] = None,
                    force: bool = False,
                    timm_model: Optional[str] = None) -> Dict[str, Any]:
    """Write one encoder of ``checkpoint`` to ``out``.

    ``out`` gets ``{'state_dict': weights, 'meta': meta}`` (tensors and
    plain values only: it loads with ``weights_only=True``), written
    atomically: ``out`` never holds a half-written file.

    Args:
        checkpoint (str): Training checkpoint.
        out (str): Output file.
        part (str, optional): See :func:`extract_backbone`.
        force (bool): Replace an existing ``out``. Defaults to False.
        timm_model (str, optional): Rename the weights to timm's layout and
            check they load strictly into ``timm.create_model(timm_model)``
            (needs timm). Defaults to None.

    Returns:
        dict: The ``meta`` written.

    Raises:
        FileExistsError: ``out`` exists and ``force`` is False, or ``out``
            is ``checkpoint``.
        ImportError: ``timm_model`` given and timm is not installed.
        BackboneExportError, CheckpointReadError, FileNotFoundError: See
            :func:`extract_backbone`.
    """
    out_path = osp.abspath(osp.expanduser(str(out)))
    if osp.exists(checkpoint) and osp.exists(out_path) and osp.samefile(
            checkpoint, out_path):
        raise FileExistsError(
            f'{out!r} is the source checkpoint; write the encoder to another '
            'file (the source is never modified).')
    if osp.exists(out_path) and not force:
        raise FileExistsError(
            f'{out!r} exists; add --force to replace it.')
    if osp.isdir(out_path):
        raise FileExistsError(f'{out!r} is a folder; give a file name.')
    if timm_model:
        _import_timm()  # fail before the work if timm is missing
    weights, meta = extract_backbone(checkpoint, part)
    if timm_model:
        weights, kwargs = mmpretrain_to_timm(weights)
        check_timm(weights, timm_model, **kwargs)
        meta.update(layout='timm', timm_model=timm_model, timm_kwargs=kwargs)
    else:
        meta.update(layout='native')
    with io.BytesIO() as buffer:
        torch.save({'state_dict': weights, 'meta': meta}, buffer)
        atomic_write(out_path, buffer.getvalue())
    return meta
