"""PreciseBN on a data loader of its own, that fails instead of writing
empty statistics."""
import torch
from mmengine.dist import get_dist_info
from mmpretrain.engine.hooks import PreciseBNHook as _MMPretrainPreciseBNHook
from mmpretrain.engine.hooks.precise_bn_hook import update_bn_stats
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from mics_mm.registry import HOOKS
from ...datasets.seeded_sampler import SeededIndex, has_per_sample_seeding

__all__ = ['PreciseBNHook']

#: The "epoch" of the per-sample seeds of PreciseBN's samples: far from any
#: training epoch, so that they draw other augmentations.
_SEED_EPOCH_BASE = 1_000_000


class _CountingLoader:
    """Iterates ``loader`` and counts the batches it gave."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader, self.batch_size, self.seen = loader, loader.batch_size, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            self.seen += 1
            yield batch


@HOOKS.register_module()
class PreciseBNHook(_MMPretrainPreciseBNHook):
    """mmpretrain's ``PreciseBNHook`` (same arguments, same statistics:
    the mean over ``num_samples // global batch`` batches of each batch's
    mean and variance), reading its batches from a loader of its own.

    mmpretrain's hook iterates the training loader a second time. With an
    iteration-based loop and ``persistent_workers=True`` that second
    iteration yields no batch at all, and the hook then writes running
    means and variances of **zero** into every BatchNorm layer (an encoder
    whose features overflow; found by the Fashion-MNIST learning check,
    docs/benchmarks.md). Here the batches come from a new, non-persistent
    loader over the same dataset, collate function, batch size and workers,
    on indices drawn from ``(seed, iteration)`` (each sample seeded as the
    training sampler seeds it, with an epoch far from the training ones),
    so the training loader's own order is untouched and a resumed run
    computes the same statistics. If the loader gives fewer batches than
    needed, the statistics are put back and a ``RuntimeError`` says so.

    Registered under the same name in ``mics_mm``'s registry, so every
    config of the project (default scope ``mics_mm``) gets this one.
    """

    def _perform_precise_bn(self, runner) -> None:
        loader = runner.train_loop.dataloader
        dataset = loader.dataset
        rank, world = get_dist_info()
        batch = loader.batch_size
        num_iter = min(self.num_samples // (batch * world),
                       len(dataset) // (batch * world))
        if num_iter < 1:
            raise ValueError(
                f'PreciseBNHook: num_samples={self.num_samples} is less than '
                f'one global batch ({batch} x {world} ranks) or the dataset '
                f'({len(dataset)} samples) is smaller than one; raise '
                'num_samples or remove the hook.')
        seed = int(getattr(runner, 'seed', 0) or 0)
        g = torch.Generator()
        g.manual_seed(seed * 1_000_003 + runner.iter)
        order = torch.randperm(len(dataset), generator=g)
        order = order[rank::world][:num_iter * batch].tolist()
        if has_per_sample_seeding(dataset):
            epoch = _SEED_EPOCH_BASE + runner.iter
            order = [SeededIndex(i, seed, epoch) for i in order]
        fresh = _CountingLoader(
            DataLoader(
                dataset,
                batch_size=batch,
                sampler=order,
                num_workers=loader.num_workers,
                collate_fn=loader.collate_fn,
                worker_init_fn=loader.worker_init_fn,
                persistent_workers=False))
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        saved = {
            name: (m.running_mean.clone(), m.running_var.clone())
            for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats
        }
        runner.logger.info(
            f'PreciseBN: {num_iter} batches of {batch} from a loader of '
            'its own...')
        update_bn_stats(runner.model, fresh, self.num_samples,
                        logger=runner.logger)
        if fresh.seen != num_iter:
            for name, m in model.named_modules():
                if name in saved:
                    m.running_mean.copy_(saved[name][0])
                    m.running_var.copy_(saved[name][1])
            raise RuntimeError(
                f'PreciseBNHook: the loader gave {fresh.seen} of {num_iter} '
                'batches; the BatchNorm statistics were left as they were.')
        runner.logger.info('PreciseBN: BN statistics updated.')
