"""Random block masks shared by the masked-image models (2D and 3D)."""
from typing import Sequence, Union

import torch


def random_patch_mask(batch: int, grid: Sequence[int], ratio: float,
                      device: Union[str, torch.device]) -> torch.Tensor:
    """Draw a 0/1 mask over a block grid with exactly ``ratio`` masked.

    Every sample gets ``int(prod(grid) * ratio)`` masked blocks at
    positions drawn uniformly without replacement (as MAE's
    ``random_masking``). The grid may have any number of dimensions: 2 for
    images, 3 for volumes (BrainMVP's block masking).

    Args:
        batch (int): Number of samples.
        grid (Sequence[int]): Block grid, e.g. ``(h, w)`` or ``(d, h, w)``.
        ratio (float): Fraction of blocks to mask, in [0, 1).
        device (str | torch.device): Device of the mask.

    Returns:
        torch.Tensor: Float mask of shape ``(batch, *grid)``, 1 = masked.
    """
    num = 1
    for g in grid:
        num *= int(g)
    num_masked = int(num * ratio)
    order = torch.rand(batch, num, device=device).argsort(dim=1)
    mask = torch.zeros(batch, num, device=device)
    mask.scatter_(1, order[:, :num_masked], 1.0)
    return mask.view(batch, *grid)


def upsample_mask(mask: torch.Tensor, block: int) -> torch.Tensor:
    """Repeat every block of a ``(N, *grid)`` mask ``block`` times per axis.

    Args:
        mask (Tensor): Block mask ``(N, g1, ..., gk)``.
        block (int): Block side in pixels / voxels.

    Returns:
        Tensor: Pixel / voxel mask ``(N, g1 * block, ..., gk * block)``.
    """
    for axis in range(1, mask.dim()):
        mask = mask.repeat_interleave(block, axis)
    return mask
