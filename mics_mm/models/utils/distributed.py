"""Concatenate per-rank batches over all ranks (with or without gradient).

One implementation serves the heads whose result depends on the whole
batch (contrastive keys, class statistics), so that N processes with a
batch of B each compute what one process with a batch of N x B would.
"""
from typing import List, Tuple

import torch
from mmengine.dist import all_gather, all_reduce, get_rank, get_world_size

__all__ = ['gather_rows']


def _sizes(n: int, device: torch.device) -> List[int]:
    """The first dimension of the tensor each rank contributes."""
    return [
        int(s) for s in all_gather(torch.tensor([n], device=device))
    ]


def _gather_padded(x: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """``all_gather`` of tensors whose first dimension differs by rank."""
    pad = x.new_zeros((max(sizes) - x.size(0), ) + tuple(x.shape[1:]))
    parts = all_gather(torch.cat([x, pad]).contiguous())
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


class _GatherRowsWithGrad(torch.autograd.Function):
    """Forward: rows of every rank, in rank order. Backward: the gradient
    of the gathered tensor is summed over ranks (each rank's loss may use
    every rank's rows) and this rank's rows are returned."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: Tuple[int, ...],
                offset: int) -> torch.Tensor:
        ctx.rows = (offset, x.size(0))
        return _gather_padded(x, list(sizes))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        all_reduce(grad, op='sum')
        start, n = ctx.rows
        return grad[start:start + n], None, None


def gather_rows(x: torch.Tensor,
                with_grad: bool = False) -> Tuple[torch.Tensor, int]:
    """Concatenate ``x`` (N, ...) over ranks along the first dimension.

    N may differ between ranks. In a single process ``x`` itself is
    returned.

    Args:
        x (Tensor): This rank's rows.
        with_grad (bool): Let the gradient flow back to every rank's rows
            (the sum over ranks of each rank's loss gradient, so that with
            DDP's gradient averaging N processes train as one process with
            the concatenated batch). Otherwise the result is detached.
            Defaults to False.

    Returns:
        tuple[Tensor, int]: The rows of all ranks (rank order) and the index
        of this rank's first row in them.
    """
    if get_world_size() == 1:
        return (x if with_grad else x.detach()), 0
    sizes = _sizes(x.size(0), x.device)
    offset = sum(sizes[:get_rank()])
    if with_grad and x.requires_grad:
        return _GatherRowsWithGrad.apply(x, tuple(sizes), offset), offset
    with torch.no_grad():
        return _gather_padded(x.detach(), sizes), offset
