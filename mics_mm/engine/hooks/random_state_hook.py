"""Keep the random state in checkpoints so a resumed run continues exactly."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from torch.utils.data import DataLoader

from mics_mm.registry import HOOKS


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the Python, NumPy and torch random states with each checkpoint.

    mmengine reseeds at start-up, so a resumed run draws different masks
    (MAE / SimMIM) and, with ``num_workers=0``, different augmentations than
    the uninterrupted run would have. This hook stores the generators' states
    under ``checkpoint['mics_random_state']`` (as plain numbers, lists and
    tensors, so the file loads with ``weights_only=True``) and restores them
    when the run is *resumed* (not for ``load_from``), so the continuation
    is the same.
    Data-loader worker processes have their own generators: with workers,
    exact continuation needs the data's draws to depend on the epoch and
    the sample only (``SeededSampler``, the configs' training sampler).

    Before training it also gives the run's data loaders (training and
    validation) their own ``torch.Generator`` where they have none: torch
    draws one number from a loader's generator, by default the global one,
    each time it creates the loader's iterator, which with
    ``persistent_workers=True`` happens once per process: in the first
    epoch of a run, in the epoch after the checkpoint of a resumed one.
    The draw would shift every later global torch draw (masks, ...) of the
    resumed run by one; from a private generator it shifts nothing. (The
    number only seeds the workers before mmengine's ``worker_init_fn``
    reseeds them.)
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        for name in ('train_loop', 'val_loop'):
            # the loops the runner built (mmengine's private attributes:
            # the public properties would build a missing one)
            loop = getattr(runner, f'_{name}', None)
            loader = getattr(loop, 'dataloader', None)
            if isinstance(loader, DataLoader) and loader.generator is None:
                generator = torch.Generator()
                generator.manual_seed(int(getattr(runner, 'seed', 0) or 0))
                loader.generator = generator

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        version, mt_state, gauss = random.getstate()
        name, keys, pos, has_gauss, cached = np.random.get_state()
        state = dict(
            # plain numbers and lists: loadable with weights_only=True
            python=dict(version=version, state=list(mt_state), gauss=gauss),
            numpy=dict(
                name=name,
                keys=[int(k) for k in keys],
                pos=int(pos),
                has_gauss=int(has_gauss),
                cached_gaussian=float(cached)),
            torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['mics_random_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('mics_random_state')
        if state is None or not getattr(runner, '_resume', False):
            return
        py = state['python']
        random.setstate((py['version'], tuple(py['state']), py['gauss']))
        npy = state['numpy']
        np.random.set_state(
            (npy['name'], np.asarray(npy['keys'], dtype=np.uint32),
             npy['pos'], npy['has_gauss'], npy['cached_gaussian']))
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
