"""Symmetric InfoNCE between two views (BrainMVP's modality-aware CL)."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mics_mm.registry import MODELS

from ..utils import gather_rows


@MODELS.register_module()
class InfoNCEHead(BaseModule):
    r"""Symmetric InfoNCE: view 1 and view 2 of a sample are positives.

    BrainMVP's modality-aware contrastive loss (docs/methods.md, "BrainMVP"): with
    L2-normalised features :math:`u_i, v_i` of the two views of sample
    :math:`i`, :math:`s_{ij} = u_i \cdot v_j / \tau` and
    :math:`\mathcal{L} = \frac{1}{2}[\mathrm{CE}(s, I) + \mathrm{CE}(s^\top,
    I)]`, the other samples of the batch being the negatives.

    **Distributed runs.** The negatives are the samples of *all* ranks: both
    views are gathered with their gradient (:func:`gather_rows`), each rank
    computes the loss of its own samples against every rank's, and the
    gradient reaches the rank that owns each feature. N processes with a
    batch of B therefore train as one process with a batch of N x B (with
    per-rank negatives the loss would depend on the number of processes).

    Args:
        temperature (float): :math:`\tau`. Defaults to 0.1 (this project's
            choice for normalised pooled features; the public code uses 1.0
            on flattened features, docs/methods.md, "BrainMVP decision 3").
        normalize (bool): L2-normalise the features first. Defaults to True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 normalize: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError('InfoNCEHead: temperature must be > 0, got '
                             f'{temperature}.')
        self.temperature = temperature
        self.normalize = normalize

    def loss(self, view1: torch.Tensor, view2: torch.Tensor) -> torch.Tensor:
        """Loss for ``(N, D)`` features of the two views."""
        if self.normalize:
            view1, view2 = F.normalize(view1, dim=1), F.normalize(view2, dim=1)
        all1, offset = gather_rows(view1, with_grad=True)
        all2, _ = gather_rows(view2, with_grad=True)
        target = torch.arange(
            view1.size(0), device=view1.device) + offset
        return (F.cross_entropy(view1 @ all2.t() / self.temperature, target)
                + F.cross_entropy(view2 @ all1.t() / self.temperature,
                                  target)) / 2
