"""Whole-image / whole-volume reconstruction loss of BrainMVP."""
from typing import Optional

import torch
from mmengine.model import BaseModule

from mics_mm.registry import MODELS

__all__ = ['BrainMVPReconHead']


@MODELS.register_module()
class BrainMVPReconHead(BaseModule):
    """Reconstruction loss of BrainMVP's MD and CMR proxy tasks.

    BrainMVP (docs/methods.md, "BrainMVP") reconstructs the *full* original input from a
    masked view: the loss covers every voxel of every channel, not only the
    masked blocks (unlike MAE / SimMIM heads). With the default loss this is
    the mean squared error over the whole 2D slice ``(N, K, H, W)`` or 3D
    patch ``(N, K, D, H, W)``, as in the public code.

    Args:
        loss (dict): Config of the pixel loss, called as
            ``loss(pred, target)`` without a mask. Defaults to
            ``dict(type='PixelReconstructionLoss', criterion='L2')`` (MSE).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 loss: dict = dict(
                     type='PixelReconstructionLoss', criterion='L2'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss)

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Reconstruction loss over all voxels.

        Args:
            pred (Tensor): Decoder output, ``(N, K, *spatial)``.
            target (Tensor): The original input, same shape.

        Returns:
            Tensor: Scalar loss (unweighted).

        Raises:
            ValueError: ``pred`` and ``target`` differ in shape (a decoder
                that does not return to the input's channels / size).
        """
        if pred.shape != target.shape:
            raise ValueError(
                f'BrainMVPReconHead: prediction {tuple(pred.shape)} and '
                f'target {tuple(target.shape)} differ; the decoder '
                '(recon_neck) must output the input channels at the input '
                'resolution.')
        return self.loss_module(pred, target)
