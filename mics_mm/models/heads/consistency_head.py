"""Consistency loss of MICS: cross-modal contrast with a momentum queue."""
import logging
from itertools import permutations
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from mics_mm.registry import MODELS

from ..utils import gather_rows


@MODELS.register_module()
class MICSConsistencyHead(BaseModule):
    r"""Cross-modal contrastive loss with momentum features and a queue.

    MICS' *consistency* loss (docs/methods.md, "MICS: pre-training losses" and
    "MICS decision 5"), the image-text contrastive loss of ALBEF with one modality
    standing in for the text. For an ordered pair of modalities :math:`(a,
    b)`, online features :math:`z^a_i` and momentum features
    :math:`\hat z^b_j` (L2-normalised), the keys are the batch's momentum
    features of :math:`b` followed by the queue :math:`Q^b`:

    .. math::

        s_{ij} = z^a_i \cdot k^b_j / \tau, \quad
        \hat s_{ij} = \hat z^a_i \cdot k^b_j / \tau, \quad
        y_{ij} = \alpha\, \mathrm{softmax}_j(\hat s_{ij})
                 + (1 - \alpha)\, [i = j],

        \mathcal{L}_{a \to b} = -\frac{1}{B} \sum_i \sum_j y_{ij}
                                \log \mathrm{softmax}_j(s_{ij}).

    The loss is the mean over all ordered pairs of modalities, which for
    ``('wli', 'nbi')`` is :math:`(\mathcal{L}_{w \to n} + \mathcal{L}_{n \to
    w}) / 2` as in the public code. The temperature :math:`\tau` is learnable
    (init 0.07) and clamped to ``temperature_range`` (0.001-0.5) before each
    use. :math:`\alpha` is ``alpha * alpha_scale``; ``MICSAlphaWarmupHook``
    ramps ``alpha_scale`` from 0 to 1 over the first epoch as the public code
    does (without the hook ``alpha_scale`` stays 1). The momentum features of
    every rank are then enqueued (first in, first out).

    **Distributed runs.** The batch keys are the momentum features of *all*
    ranks (gathered; they need no gradient), followed by the queue, and the
    positive of query ``i`` is its own key at its rank's offset. So N
    processes with a batch of B compute the loss, gradients and queue of one
    process with a batch of N x B (the public code, like ALBEF, contrasts
    with the local batch only, which makes the loss depend on the number of
    processes). The same gathered keys are enqueued, so every rank holds the
    same queue.

    The enqueue is deferred to :meth:`flush`, which ``MICS.train_step`` calls
    after the optimizer step (and :meth:`loss` calls first if a previous
    batch is still pending): the queue then never changes while the autograd
    graph holds it, so it needs no copy (the public code clones 2 x 64 MB of
    queue per step for that). The queue each step sees is the same as in
    the public code. Keys holding NaN / inf are never enqueued (the batch is
    dropped with a warning), so a step skipped for a non-finite loss
    (``NonFiniteLossHook(policy='skip')``) cannot poison the queue.

    Deviation: the queue is initialised with random unit vectors as in the
    public code, but its size is a config value (default 65,536) and
    :meth:`limit_queue` (called by ``MICSQueueSizeHook``) can use only its
    first slots, so that a small data set is not queued many times over
    (docs/methods.md, "MICS decision 5").

    Args:
        feat_dim (int): Dimension of the projected features. Defaults to 256.
        num_modalities (int): Number of modalities. Defaults to 2.
        queue_size (int): Length of each modality's feature queue; 0 uses the
            batch only. Defaults to 65536.
        temperature (float): Initial temperature. Defaults to 0.07.
        temperature_range (tuple[float, float]): Clamp range of the
            temperature. Defaults to (0.001, 0.5).
        learnable_temperature (bool): Whether the temperature is a learned
            parameter. Defaults to True.
        alpha (float): Weight of the momentum-distilled soft targets.
            Defaults to 0.4.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 feat_dim: int = 256,
                 num_modalities: int = 2,
                 queue_size: int = 65536,
                 temperature: float = 0.07,
                 temperature_range: Tuple[float, float] = (0.001, 0.5),
                 learnable_temperature: bool = True,
                 alpha: float = 0.4,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_modalities < 2:
            raise ValueError('MICSConsistencyHead: needs at least two '
                             f'modalities, got num_modalities={num_modalities}.')
        if queue_size < 0:
            raise ValueError(f'MICSConsistencyHead: queue_size must be >= 0, '
                             f'got {queue_size}.')
        self.num_modalities = num_modalities
        self.queue_size = queue_size
        self.temperature_range = tuple(temperature_range)
        self.alpha = alpha
        self.alpha_scale = 1.0
        temp = torch.tensor(float(temperature))
        if learnable_temperature:
            self.temperature = nn.Parameter(temp)
        else:
            self.register_buffer('temperature', temp)
        queue = F.normalize(
            torch.randn(num_modalities, queue_size, feat_dim), dim=-1)
        self.register_buffer('queue', queue)
        self.register_buffer('queue_ptr', torch.zeros((), dtype=torch.long))
        self.queue_len = queue_size
        self._pending = None

    def limit_queue(self, length: int) -> None:
        """Use only the first ``length`` slots of each queue.

        The buffer keeps its shape (checkpoints stay loadable); the pointer
        wraps within the active part.

        Args:
            length (int): Active length, at most ``queue_size``.
        """
        self.queue_len = max(0, min(int(length), self.queue_size))
        if self.queue_len:
            self.queue_ptr.fill_(int(self.queue_ptr) % self.queue_len)

    def _logits(self, query: torch.Tensor, momentum: torch.Tensor,
                modality: int, temp: torch.Tensor) -> torch.Tensor:
        """Similarities to the batch's momentum features, then the queue."""
        batch = query @ momentum.t()
        if self.queue_len == 0:
            return batch / temp
        queue = self.queue[modality, :self.queue_len]
        return torch.cat([batch, query @ queue.t()], 1) / temp

    def loss(self, feats: Sequence[torch.Tensor],
             momentum_feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Compute the consistency loss and update the queues.

        Args:
            feats (Sequence[Tensor]): Online projections, one ``(B, D)``
                tensor per modality.
            momentum_feats (Sequence[Tensor]): Momentum-encoder projections,
                same layout (no gradient needed).

        Returns:
            Tensor: The scalar loss (unweighted).
        """
        if len(feats) != self.num_modalities or len(momentum_feats) != len(
                feats):
            raise ValueError(
                f'MICSConsistencyHead: expected {self.num_modalities} '
                f'modalities, got {len(feats)} online and '
                f'{len(momentum_feats)} momentum features.')
        self.flush()
        with torch.no_grad():
            if isinstance(self.temperature, nn.Parameter):
                self.temperature.clamp_(*self.temperature_range)
        temp = self.temperature
        alpha = self.alpha * self.alpha_scale
        feats = [F.normalize(f, dim=-1) for f in feats]
        with torch.no_grad():
            local = torch.stack(
                [F.normalize(f.detach(), dim=-1) for f in momentum_feats])
            # (M, B, D) -> keys of every rank (M, B_total, D)
            keys, offset = gather_rows(local.transpose(0, 1))
            keys = keys.transpose(0, 1)
        batch = local.size(1)
        total = 0.
        pairs = list(permutations(range(self.num_modalities), 2))
        for a, b in pairs:
            logits = self._logits(feats[a], keys[b], b, temp)
            with torch.no_grad():
                soft = F.softmax(
                    self._logits(local[a], keys[b], b, temp), 1)
                hard = torch.zeros_like(soft)
                rows = torch.arange(batch, device=soft.device)
                hard[rows, rows + offset] = 1.0
                targets = alpha * soft + (1 - alpha) * hard
            total = total - (F.log_softmax(logits, dim=1) *
                             targets).sum(dim=1).mean()
        self._pending = keys  # (M, B_total, D), the same on every rank
        return total / len(pairs)

    @torch.no_grad()
    def flush(self) -> None:
        """Enqueue the last batch's momentum features of every rank (FIFO).

        Call it once the backward pass of that batch is done. A batch with
        non-finite features is dropped with a warning.
        """
        pending, self._pending = self._pending, None
        if pending is None or self.queue_len == 0:
            return
        if not torch.isfinite(pending).all():
            print_log(
                'MICSConsistencyHead: the momentum features of this batch '
                'are not finite; they are not enqueued.',
                logger='current',
                level=logging.WARNING)
            return
        batch = pending[:, -self.queue_len:]
        n = batch.size(1)
        ptr = int(self.queue_ptr)
        idx = (torch.arange(n, device=batch.device) + ptr) % self.queue_len
        self.queue[:, idx] = batch.to(self.queue.dtype)
        self.queue_ptr.fill_((ptr + n) % self.queue_len)
