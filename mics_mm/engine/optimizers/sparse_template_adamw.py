"""AdamW that updates BrainMVP's templates only where a step touched them.

The BrainMVP templates (``BrainMVPModalityTemplates``) are one parameter of
8 x 240 x 240 x 155 = 71.4 M voxels on the SRI24 canvas, but a step reads
only its crops (2 x 96^3 per view at batch 2) and the argmin / argmax voxel
of each template in use (the min-max normalisation). Dense AdamW still
reads and writes the whole parameter, its gradient and both moments every
step: seconds on a CPU, more than the encoder's step at small sizes
(docs/benchmarks.md, "BrainMVP 3D step cost").

:class:`BrainMVPSparseTemplateAdamW` runs ``torch.optim.AdamW`` on every other
parameter and, on an attached templates parameter, the same AdamW
arithmetic (torch's single-tensor AdamW: decoupled weight decay, bias
corrections from the parameter's step count, ``amsgrad`` too) restricted to
the voxels the templates module recorded for the step. Inside that region
the update is exactly dense AdamW's. Outside it the voxels had a zero
gradient, and this is where it departs from dense AdamW: dense AdamW keeps
moving such voxels by their momentum (``m`` decays by beta1 a step but
is not zero until the voxel has had no gradient for a long time) and
shrinks them by the weight decay, and it decays their moments; here they
neither move, decay nor age (a *lazy* Adam, as for sparse embeddings).
The step count is the parameter's, as in dense AdamW, so the bias
corrections are the same. The optimizer state has AdamW's layout (``step``,
``exp_avg``, ``exp_avg_sq``), so a checkpoint resumes under either
optimizer.

The gradient of the templates stays a dense tensor (DDP, AMP unscaling
and gradient clipping see an ordinary gradient); :meth:`zero_grad
<BrainMVPSparseTemplateAdamW.zero_grad>` zeroes only the region of the step just
taken and hands the tensor back to the templates module, whose next
backward pass fills it instead of allocating (and page-faulting) 285 MB.

With several processes the recorded regions are merged over the ranks
(their union box per template), because DDP averages the gradients: every
rank updates the same voxels and the templates stay identical.

:class:`BrainMVPTemplateOptimWrapperConstructor` builds it for the BrainMVP
configs (``optim_wrapper.sparse_templates=True``, the default in
``configs/_base_/schedules/brainmvp_adamw-coslr-1500e.py``;
``sparse_templates=False`` gives dense AdamW back).
"""
import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from mics_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

__all__ = ['BrainMVPSparseTemplateAdamW', 'BrainMVPTemplateOptimWrapperConstructor']


def _adamw_(param: torch.Tensor, grad: torch.Tensor, exp_avg: torch.Tensor,
            exp_avg_sq: torch.Tensor, max_exp_avg_sq: Optional[torch.Tensor],
            step: float, lr: float, beta1: float, beta2: float, eps: float,
            weight_decay: float) -> None:
    """torch's single-tensor AdamW arithmetic, in place (views allowed)."""
    if weight_decay != 0:
        param.mul_(1 - lr * weight_decay)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    if max_exp_avg_sq is not None:
        torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = (max_exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    else:
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-step_size)


def merge_over_ranks(record: Optional[dict], num: int,
                     k: int, device) -> Optional[dict]:
    """The union of every rank's touched record (no-op on one process).

    Every rank must call it at the same step (the optimizer step does).
    """
    if not (dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1):
        return record
    if record is None:
        record = dict(
            lo=torch.full((num, k), torch.iinfo(torch.long).max),
            hi=torch.full((num, k), -1, dtype=torch.long),
            extra=torch.full((num, 2), -1, dtype=torch.long))
    lo = record['lo'].to(device)
    hi = record['hi'].to(device)
    extra = record['extra'].to(device)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    # the templates are the same on every rank, so a used template's
    # extremes are too; -1 (unused) loses to any index
    dist.all_reduce(extra, op=dist.ReduceOp.MAX)
    return dict(lo=lo.cpu(), hi=hi.cpu(), extra=extra.cpu())


@OPTIMIZERS.register_module()
class BrainMVPSparseTemplateAdamW(torch.optim.AdamW):
    """``torch.optim.AdamW`` with lazy updates of attached template
    parameters (see the module docstring).

    Parameters attached with :meth:`attach` (the constructor attaches every
    ``BrainMVPModalityTemplates`` of the model) are updated by AdamW inside
    the region their source recorded for the step, and the record is
    cleared after the step; every other parameter is updated by
    ``torch.optim.AdamW`` itself (``foreach`` / ``fused`` as configured).
    An attached parameter whose source recorded nothing while it has a
    gradient is updated densely (nothing is lost if something else used the
    templates).

    Args: as ``torch.optim.AdamW``; ``maximize``, ``capturable`` and
    ``differentiable`` are refused for attached parameters.
    """

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._sparse: List[Tuple[nn.Parameter, object]] = []
        # per attached parameter (by id): the regions of the last step,
        # which hold every non-zero of its gradient until zero_grad
        self._stepped: Dict[int, dict] = {}

    def attach(self, param: nn.Parameter, source) -> None:
        """Update ``param`` only where ``source.touched()`` says.

        Args:
            param (Parameter): ``(M, *canvas)`` templates, in one of the
                optimizer's parameter groups.
            source: Has ``touched()`` (None or a dict ``lo``, ``hi``
                ``(M, k)``, ``extra`` ``(M, 2)``: see
                ``BrainMVPModalityTemplates.touched``) and
                ``clear_touched()``.
        """
        if not any(param is p for g in self.param_groups
                   for p in g['params']):
            raise ValueError('BrainMVPSparseTemplateAdamW.attach: the parameter is '
                             'not in this optimizer.')
        self._sparse.append((param, source))

    @property
    def attached(self) -> List[nn.Parameter]:
        return [p for p, _ in self._sparse]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # Dense AdamW on the rest: hide the attached parameters' gradients
        # (AdamW skips a parameter without one).
        hidden = []
        for param, source in self._sparse:
            if param.grad is not None:
                hidden.append((param, source, param.grad))
                param.grad = None
        try:
            super().step()
        finally:
            for param, _, grad in hidden:
                param.grad = grad
        for param, source, grad in hidden:
            regions = self._sparse_step(param, grad, source)
            if regions is not None:
                self._stepped[id(param)] = regions
        for _, source in self._sparse:
            source.clear_touched()
        return loss

    def _group_of(self, param: nn.Parameter) -> dict:
        for group in self.param_groups:
            if any(param is p for p in group['params']):
                return group
        raise ValueError('BrainMVPSparseTemplateAdamW: an attached parameter left '
                         'the optimizer.')

    def _sparse_step(self, param: nn.Parameter, grad: torch.Tensor,
                     source) -> None:
        group = self._group_of(param)
        for key in ('maximize', 'capturable', 'differentiable'):
            if group.get(key):
                raise ValueError(f'BrainMVPSparseTemplateAdamW: {key}=True is not '
                                 'supported for the templates; use AdamW '
                                 '(optim_wrapper.sparse_templates=False).')
        if grad.is_sparse:
            raise ValueError('BrainMVPSparseTemplateAdamW: sparse gradients are not '
                             'supported.')
        state = self.state[param]
        if len(state) == 0:
            state['step'] = torch.tensor(0.0, dtype=torch.float32)
            state['exp_avg'] = torch.zeros_like(
                param, memory_format=torch.preserve_format)
            state['exp_avg_sq'] = torch.zeros_like(
                param, memory_format=torch.preserve_format)
            if group['amsgrad']:
                state['max_exp_avg_sq'] = torch.zeros_like(
                    param, memory_format=torch.preserve_format)
        state['step'] += 1
        beta1, beta2 = group['betas']
        hyper = dict(
            step=float(state['step']),
            lr=float(group['lr']),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group['eps']),
            weight_decay=float(group['weight_decay']))
        tensors = [param, grad, state['exp_avg'], state['exp_avg_sq']]
        max_sq = state.get('max_exp_avg_sq') if group['amsgrad'] else None
        record = merge_over_ranks(source.touched(), param.shape[0],
                                  param.dim() - 1, param.device)
        if record is None:
            # nothing recorded but a gradient: be safe, update densely
            _adamw_(*tensors, max_sq, **hyper)
            return None
        regions = self.regions(record, param.shape[1:])
        for m, box in regions.items():
            lo, hi, extra = box
            if lo is not None:
                index = (m, ) + tuple(
                    slice(a, b) for a, b in zip(lo, hi))
                _adamw_(*(t[index] for t in tensors),
                        None if max_sq is None else max_sq[index], **hyper)
            if extra:
                # the argmin / argmax voxels outside the box
                offset = m * math.prod(param.shape[1:])
                flat = torch.tensor([offset + i for i in extra],
                                    device=param.device)
                views = [t.view(-1) for t in tensors]
                picked = [v[flat] for v in views]
                mx = None if max_sq is None else max_sq.view(-1)[flat]
                _adamw_(*picked, mx, **hyper)
                for v, p in zip(views, picked):
                    v[flat] = p
                if mx is not None:
                    max_sq.view(-1)[flat] = mx
        return regions

    def zero_grad(self, set_to_none: bool = True) -> None:
        """As ``Optimizer.zero_grad``; an attached parameter's gradient,
        non-zero only in the regions of the step just taken, is zeroed
        there alone and (``set_to_none``) handed back to its templates
        module for the next backward pass. Without a step since the last
        backward pass (e.g. AMP skipped it) it is zeroed whole."""
        hidden = []
        for param, source in self._sparse:
            grad = param.grad
            if grad is None:
                continue
            regions = self._stepped.pop(id(param), None)
            if regions is None or grad.is_sparse or \
                    not grad.is_contiguous() or grad.grad_fn is not None:
                continue  # the default below
            with torch.no_grad():
                flat = grad.view(-1)
                size = math.prod(param.shape[1:])
                for m, (lo, hi, extra) in regions.items():
                    if lo is not None:
                        grad[(m, ) + tuple(
                            slice(a, b) for a, b in zip(lo, hi))].zero_()
                    for i in extra:
                        flat[m * size + i] = 0
            if set_to_none:
                param.grad = None
                give = getattr(source, 'give_spare_grad', None)
                if give is not None:
                    give(grad)
            else:
                hidden.append((param, grad))
                param.grad = None
        try:
            super().zero_grad(set_to_none=set_to_none)
        finally:
            for param, grad in hidden:
                param.grad = grad

    @staticmethod
    def regions(record: dict, canvas) -> Dict[int, tuple]:
        """Per template the box ``(lo, hi)`` (None: empty) and the extreme
        voxels outside it (flat indices, no duplicates)."""
        out = {}
        canvas = tuple(int(c) for c in canvas)
        for m in range(record['lo'].shape[0]):
            lo = [int(v) for v in record['lo'][m]]
            hi = [int(v) for v in record['hi'][m]]
            has_box = all(b > a for a, b in zip(lo, hi))
            extra = []
            for flat in sorted({int(v) for v in record['extra'][m]}):
                if flat < 0:
                    continue
                coords = [
                    int(c) for c in torch.unravel_index(
                        torch.tensor(flat), canvas)
                ]
                inside = has_box and all(
                    a <= c < b for c, a, b in zip(coords, lo, hi))
                if not inside:
                    extra.append(flat)
            if has_box or extra:
                out[m] = ((lo, hi) if has_box else (None, None)) + (extra, )
        return out


def _is_adamw(optimizer_type) -> bool:
    if isinstance(optimizer_type, str):
        return optimizer_type in ('AdamW', 'BrainMVPSparseTemplateAdamW',
                                  'torch.optim.AdamW')
    return isinstance(optimizer_type, type) and issubclass(
        optimizer_type, torch.optim.AdamW)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BrainMVPTemplateOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, with the BrainMVP templates updated
    lazily by :class:`BrainMVPSparseTemplateAdamW`.

    Config form (``configs/_base_/schedules/brainmvp_adamw-coslr-1500e.py``)::

        optim_wrapper = dict(
            type='OptimWrapper',
            constructor='BrainMVPTemplateOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-5),
            sparse_templates=True)

    With ``sparse_templates=True`` an ``AdamW`` optimizer becomes
    ``BrainMVPSparseTemplateAdamW`` and every ``BrainMVPModalityTemplates`` of the
    model is attached to it; ``sparse_templates=False`` (or a model without
    templates) builds exactly what the default constructor builds. Any
    other optimizer type with ``sparse_templates=True`` is an error (the
    lazy update is AdamW's). ``paramwise_cfg`` and the wrapper type
    (``AmpOptimWrapper``, ``clip_grad``) work as usual.

    Args:
        optim_wrapper_cfg (dict): The wrapper config, with the optional
            ``sparse_templates`` key (default True).
        paramwise_cfg (dict, optional): As for the default constructor.
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        optim_wrapper_cfg = optim_wrapper_cfg.copy()
        self.sparse_templates = bool(
            optim_wrapper_cfg.pop('sparse_templates', True))
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def __call__(self, model: nn.Module):
        from mics_mm.models.utils.modality_templates import \
            BrainMVPModalityTemplates
        inner = model.module if hasattr(model, 'module') else model
        sources = [
            m for m in inner.modules()
            if isinstance(m, BrainMVPModalityTemplates)
            and m.templates.requires_grad
        ]
        if not (self.sparse_templates and sources):
            return super().__call__(model)
        if not _is_adamw(self.optimizer_cfg.get('type')):
            raise ValueError(
                'BrainMVPTemplateOptimWrapperConstructor: sparse_templates=True '
                'needs an AdamW optimizer, got '
                f'{self.optimizer_cfg.get("type")!r}; set '
                'optim_wrapper.sparse_templates=False for other optimizers.')
        self.optimizer_cfg = self.optimizer_cfg.copy()
        self.optimizer_cfg['type'] = 'BrainMVPSparseTemplateAdamW'
        optim_wrapper = super().__call__(model)
        optimizer = optim_wrapper.optimizer
        for source in sources:
            optimizer.attach(source.templates, source)
        print_log(
            f'BrainMVPSparseTemplateAdamW: {len(sources)} template parameter(s) '
            'updated only where a step touched them '
            '(optim_wrapper.sparse_templates=False: dense AdamW).',
            logger='current')
        return optim_wrapper
