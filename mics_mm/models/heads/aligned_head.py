"""Aligned (adversarial) loss of MICS."""
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mics_mm.registry import MODELS


@MODELS.register_module()
class MICSAlignedHead(BaseModule):
    r"""Adversarial modality-alignment loss (docs/methods.md, "MICS decision 7").

    A discriminator :math:`D` sees the encoder's token representation of a
    sample of modality :math:`m` and outputs one logit per modality. With
    :math:`M` modalities the losses are cross-entropies; for the default two
    modalities this is exactly the binary cross-entropy of the paper on the
    logit difference.

    - Discriminator: :math:`\mathcal{L}_D = \mathrm{CE}(D(\mathrm{sg}(f_m)),
      m)`, learning to tell the modalities apart; it is minimised by the
      discriminator's own optimizer (``optim_wrapper.discriminator``).
    - Encoder (generator): ``gen_target='flip'`` (default, non-saturating
      GAN): :math:`\mathcal{L}_G = \mathrm{CE}(D(f_m), (m + 1) \bmod M)`,
      i.e. the labels swapped for two modalities; ``'uniform'``: cross-entropy
      to the uniform distribution, i.e. the encoder makes the discriminator
      maximally unsure. Either way the gradient flows through :math:`D` into
      the encoder (the released code computed this term on detached tensors,
      so it trained nothing; that bug is not reproduced).

    Args:
        gen_target (str): ``'flip'`` or ``'uniform'``. Defaults to 'flip'.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, gen_target: str = 'flip', init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if gen_target not in ('flip', 'uniform'):
            raise ValueError("MICSAlignedHead: gen_target must be 'flip' or "
                             f"'uniform', got {gen_target!r}.")
        self.gen_target = gen_target

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Generator (encoder) loss.

        Args:
            logits (Tensor): ``(N, M)`` discriminator logits of the online
                (non-detached) representations.
            labels (Tensor): ``(N,)`` true modality index of each row.

        Returns:
            Tensor: Scalar loss (unweighted).
        """
        num = logits.size(1)
        if self.gen_target == 'flip':
            return F.cross_entropy(logits, (labels + 1) % num)
        return -(F.log_softmax(logits, dim=1).mean(dim=1)).mean()

    def disc_loss(self, logits: torch.Tensor,
                  labels: torch.Tensor) -> torch.Tensor:
        """Discriminator loss on detached representations.

        Args:
            logits (Tensor): ``(N, M)`` logits.
            labels (Tensor): ``(N,)`` true modality index.

        Returns:
            Tensor: Scalar loss.
        """
        return F.cross_entropy(logits, labels)
