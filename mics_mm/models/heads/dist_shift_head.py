"""Distribution-shift head of MICS: implicit semantic data augmentation."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import gather_rows

__all__ = ['MICSDistShiftHead']


@MODELS.register_module()
class MICSDistShiftHead(ClsHead):
    r"""Linear classifier trained with implicit semantic data augmentation.

    MICS' *distribution shift* of the fused feature (docs/methods.md,
    "MICS: fine-tuning" and "MICS decision 8") is implemented as ISDA (Wang et al.,
    NeurIPS 2019 / TPAMI 2021): a feature :math:`a` of class :math:`y` is
    shifted along directions drawn from its class-conditional feature
    distribution, :math:`\tilde a \sim \mathcal{N}(a, \lambda \Sigma_y)`.

    **Online statistics.** The buffers ``class_mean`` (K, D), ``class_cov``
    (K, D, D) and ``class_count`` (K,) are updated in every training
    :meth:`loss` call, before the loss, with the batch's detached features
    (gathered from all ranks in distributed runs, so every rank holds the
    same estimate; rows holding NaN / inf are left out, so a step skipped
    for a non-finite loss does not poison the estimate). For class :math:`k`
    with :math:`n_b > 0` samples in the batch, batch mean :math:`m_b`,
    biased batch covariance :math:`S_b`, :math:`N` samples seen before and
    :math:`w = n_b / (N + n_b)`:

    .. math::

        \Sigma \leftarrow (1 - w)\Sigma + w S_b
            + w (1 - w)(\mu - m_b)(\mu - m_b)^\top, \quad
        \mu \leftarrow (1 - w)\mu + w m_b, \quad N \leftarrow N + n_b.

    There is no momentum: ``class_cov`` is exactly the biased covariance of
    all features of class :math:`k` seen so far (ISDA's running estimate).

    **Closed form** (``mode='closed_form'``, ISDA's surrogate loss). With
    logits :math:`z = W a + b` and :math:`\Delta w_j = w_j - w_y` (rows of
    ``fc.weight``), the expected cross-entropy over the shifted feature is

    .. math::

        \mathbb{E}_{\tilde a}\Big[\log \sum_j
            e^{z_j - z_y + \Delta w_j^\top \delta}\Big]
        \le \log \sum_j e^{z_j - z_y}\,
            \mathbb{E}\big[e^{\Delta w_j^\top \delta}\big]
        = \log \sum_j e^{z_j - z_y
            + \frac{\lambda}{2} \Delta w_j^\top \Sigma_y \Delta w_j}

    (Jensen's inequality for the concave log, then the moment generating
    function of the Gaussian :math:`\Delta w_j^\top \delta`). The head
    therefore computes the configured loss on the augmented logits

    .. math::

        z'_j = z_j + \frac{\lambda}{2}
            (w_j - w_y)^\top \Sigma_y (w_j - w_y),

    bias unchanged (:math:`z'_y = z_y`). The bound is tight as
    :math:`\lambda \to 0`.

    **Sampling** (``mode='sampling'``). ``num_samples`` shifts
    :math:`\delta = \sqrt{\lambda}\, L_y \epsilon`, :math:`\epsilon \sim
    \mathcal{N}(0, I)`, are drawn per sample, where :math:`L_y L_y^\top =
    \Sigma_y` comes from an eigendecomposition (in float64, of
    :math:`\Sigma_y + 10^{-6} I` for stability, the shift then removed from
    the eigenvalues and negative ones clamped to zero); the loss is the
    mean over the draws of the configured loss on :math:`W(a + \delta) +
    b`, an unbiased Monte-Carlo estimate of the expectation bounded above.

    The strength is :math:`\lambda = \lambda_0 \cdot` ``lambda_scale``;
    ``MICSLambdaRampHook`` ramps ``lambda_scale`` from 0 to 1 (ISDA's
    :math:`\lambda_0 t / T`). With :math:`\lambda = 0` (or a class with no
    spread yet) both modes reduce to the plain loss on ``fc(a)``. Prediction
    applies no augmentation.

    Args:
        num_classes (int): Number of classes K.
        in_channels (int): Feature dimension D.
        lambda0 (float): Final augmentation strength :math:`\lambda_0`.
            Defaults to 0.5.
        mode (str): ``'closed_form'`` or ``'sampling'``. Defaults to
            ``'closed_form'``.
        num_samples (int): Shifts drawn per sample in ``'sampling'`` mode.
            Defaults to 8.
        loss (dict | nn.Module): Classification loss applied to the
            (augmented) logits with hard labels. Defaults to
            ``dict(type='CrossEntropyLoss', loss_weight=1.0)``.
        topk (int | Tuple[int]): Top-k accuracy. Defaults to ``(1, )``.
        cal_acc (bool): Whether to log training accuracy of the
            un-augmented logits. Defaults to False.
        init_cfg (dict, optional): Initialisation config. Defaults to
            ``dict(type='Normal', layer='Linear', std=0.01)``.
    """

    MODES = ('closed_form', 'sampling')
    EPS = 1e-6

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 lambda0: float = 0.5,
                 mode: str = 'closed_form',
                 num_samples: int = 8,
                 loss: Union[dict, nn.Module] = dict(
                     type='CrossEntropyLoss', loss_weight=1.0),
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(
            loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(
                f'num_classes must be positive, got {num_classes}')
        if in_channels <= 0:
            raise ValueError(
                f'in_channels must be positive, got {in_channels}')
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        if lambda0 < 0:
            raise ValueError(f'lambda0 must be >= 0, got {lambda0}')
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.lambda0 = float(lambda0)
        self.mode = mode
        self.num_samples = num_samples
        self.lambda_scale = 1.0
        self.fc = nn.Linear(in_channels, num_classes)
        self.register_buffer('class_mean',
                             torch.zeros(num_classes, in_channels))
        self.register_buffer(
            'class_cov', torch.zeros(num_classes, in_channels, in_channels))
        self.register_buffer('class_count', torch.zeros(num_classes))

    @property
    def lambda_(self) -> float:
        """Effective strength ``lambda0 * lambda_scale``."""
        return self.lambda0 * float(self.lambda_scale)

    def pre_logits(
            self, feats: Union[torch.Tensor,
                               Sequence[torch.Tensor]]) -> torch.Tensor:
        """Return the last feature of the tuple ``feats`` (shape (B, D))."""
        if isinstance(feats, torch.Tensor):
            return feats
        return feats[-1]

    def forward(
            self, feats: Union[torch.Tensor,
                               Sequence[torch.Tensor]]) -> torch.Tensor:
        """Plain (un-augmented) logits of shape (B, K)."""
        return self.fc(self.pre_logits(feats))

    def _labels(self, data_samples: List[DataSample],
                device: torch.device) -> torch.Tensor:
        """Hard labels of the batch, validated to lie in ``[0, K)``."""
        if not data_samples or 'gt_label' not in data_samples[0]:
            raise ValueError('MICSDistShiftHead needs hard `gt_label`s in the '
                             'data samples')
        labels = torch.cat([ds.gt_label.reshape(-1) for ds in data_samples])
        labels = labels.to(device=device, dtype=torch.long)
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.numel():
            raise ValueError(f'label {int(bad[0])} is outside [0, '
                             f'{self.num_classes}) (num_classes='
                             f'{self.num_classes})')
        return labels

    @torch.no_grad()
    def update_stats(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Merge a batch into the running class statistics (no momentum).

        Rows of ``feats`` holding NaN / inf are left out.

        Args:
            feats (torch.Tensor): Features of shape (B, D); detached here.
            labels (torch.Tensor): Labels of shape (B, ), in ``[0, K)``.
        """
        feats = feats.detach().to(torch.float64)
        finite = torch.isfinite(feats).all(dim=1)
        if not finite.all():
            feats, labels = feats[finite], labels[finite]
        for k in labels.unique().tolist():
            x = feats[labels == k]
            n_b = x.size(0)
            m_b = x.mean(0)
            xc = x - m_b
            s_b = xc.t() @ xc / n_b
            count = self.class_count[k].double()
            mean = self.class_mean[k].double()
            cov = self.class_cov[k].double()
            w = n_b / (count + n_b)
            diff = (mean - m_b)[:, None]
            cov = (1 - w) * cov + w * s_b + w * (1 - w) * (diff @ diff.t())
            self.class_cov[k] = cov.to(self.class_cov.dtype)
            self.class_mean[k] = ((1 - w) * mean + w * m_b).to(
                self.class_mean.dtype)
            self.class_count[k] = (count + n_b).to(self.class_count.dtype)

    def augmented_loss(self, feats: torch.Tensor,
                       labels: torch.Tensor) -> torch.Tensor:
        """ISDA loss of features (B, D) with labels (B, ) at ``lambda_``.

        Uses the current buffers as they are (no statistics update).
        """
        logits = self.fc(feats)
        lam = self.lambda_
        if lam == 0:
            return self.loss_module(logits, labels, avg_factor=logits.size(0))
        classes, inv = labels.unique(return_inverse=True)
        weight = self.fc.weight  # (K, D)
        cov = self.class_cov[classes].to(weight.dtype)  # (U, D, D)
        if self.mode == 'closed_form':
            dw = weight[None] - weight[classes][:, None]  # (U, K, D)
            quad = ((dw @ cov) * dw).sum(-1)  # (U, K)
            aug = logits + 0.5 * lam * quad[inv].to(logits.dtype)
            return self.loss_module(aug, labels, avg_factor=aug.size(0))
        # sampling: delta = sqrt(lam) L eps, W delta = (W L) eps
        eye = torch.eye(self.in_channels, dtype=torch.float64,
                        device=cov.device)
        evals, evecs = torch.linalg.eigh(cov.double() + self.EPS * eye)
        evals = (evals - self.EPS).clamp(min=0)  # PSD part of Sigma itself
        factor = (evecs * evals.sqrt()[:, None]).to(weight.dtype)
        proj = weight[None] @ factor  # (U, K, D): W L_u
        eps = torch.randn(
            feats.size(0), self.num_samples, self.in_channels,
            dtype=weight.dtype, device=weight.device)
        shift = torch.einsum('bsd,bkd->bsk', eps, proj[inv])
        aug = logits[:, None] + lam**0.5 * shift.to(logits.dtype)
        aug = aug.reshape(-1, self.num_classes)
        target = labels.repeat_interleave(self.num_samples)
        return self.loss_module(aug, target, avg_factor=aug.size(0))

    def loss(self, feats: Union[torch.Tensor, Sequence[torch.Tensor]],
             data_samples: List[DataSample], **kwargs) -> dict:
        """Update the class statistics, then compute the ISDA loss.

        Args:
            feats (tuple[Tensor]): Features; the last one, of shape (B, D),
                is classified.
            data_samples (List[DataSample]): Samples with ``gt_label``.
            **kwargs: Unused; kept for ``ClsHead`` compatibility.

        Returns:
            dict[str, Tensor]: ``loss`` and the effective ``isda_lambda``
            (plus ``accuracy_top-k`` with ``cal_acc``).
        """
        x = self.pre_logits(feats)
        labels = self._labels(data_samples, x.device)
        if labels.numel() != x.size(0):
            raise ValueError(f'{labels.numel()} labels for {x.size(0)} '
                             'features')
        self.update_stats(
            gather_rows(x)[0], gather_rows(labels)[0])
        losses = dict(
            loss=self.augmented_loss(x, labels),
            isda_lambda=x.new_tensor(self.lambda_))
        if self.cal_acc:
            acc = Accuracy.calculate(
                self.fc(x).detach(), labels, topk=self.topk)
            losses.update(
                {f'accuracy_top-{k}': a
                 for k, a in zip(self.topk, acc)})
        return losses
