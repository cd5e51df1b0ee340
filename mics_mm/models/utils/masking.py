"""Random patch masks shared by the masked-image models."""
from typing import Tuple

import torch


def random_patch_mask(batch: int, grid: Tuple[int, int], ratio: float,
                      device: torch.device) -> torch.Tensor:
    """Draw a 0/1 mask over a patch grid with exactly ``ratio`` masked.

    Every sample gets ``int(h * w * ratio)`` masked patches at positions
    drawn uniformly without replacement (as MAE's ``random_masking``).

    Args:
        batch (int): Number of samples.
        grid (tuple[int, int]): Patch grid ``(h, w)``.
        ratio (float): Fraction of patches to mask, in [0, 1).
        device (torch.device): Device of the mask.

    Returns:
        torch.Tensor: Float mask of shape ``(batch, h, w)``, 1 = masked.
    """
    h, w = grid
    num = h * w
    num_masked = int(num * ratio)
    order = torch.rand(batch, num, device=device).argsort(dim=1)
    mask = torch.zeros(batch, num, device=device)
    mask.scatter_(1, order[:, :num_masked], 1.0)
    return mask.view(batch, h, w)
