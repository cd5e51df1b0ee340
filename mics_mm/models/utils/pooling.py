"""Global features from backbone outputs of any layout."""
import torch


def global_feature(feat: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` feature: the class token of a ViT, the GAP of a CNN map.

    Args:
        feat (Tensor): ``(N, C, H, W)`` or ``(N, C, D, H, W)`` map, ``(N, L,
            C)`` tokens (class token first) or a pooled ``(N, C)`` feature.

    Returns:
        Tensor: ``(N, C)``.
    """
    if feat.dim() >= 4:
        return feat.flatten(2).mean(dim=2)
    if feat.dim() == 3:
        return feat[:, 0]
    return feat
