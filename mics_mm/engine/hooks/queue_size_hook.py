"""Cap the consistency queue at a fraction of the training set."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mics_mm.registry import HOOKS


@HOOKS.register_module()
class MICSQueueSizeHook(Hook):
    """Scale the momentum queue down for small data (docs/methods.md, "MICS decision 5").

    The public code keeps 65,536 momentum features per modality; Kvasir's
    training split has about 2,800 images, so such a queue would hold every
    image's stale features many times, each a false negative of the image
    itself. Before the run (and before any checkpoint is resumed) this hook
    calls ``head.limit_queue(int(max_fraction * len(train_dataset)))`` and
    logs the change; the configured size stays the upper bound. The result
    depends only on the data set, so a resumed run gets the same length.

    Args:
        max_fraction (float): Largest queue as a fraction of the number of
            training samples. Defaults to 0.5 (this project's choice).
        head (str): Attribute of the model holding the consistency head.
            Defaults to 'head'.
    """

    priority = 'NORMAL'

    def __init__(self, max_fraction: float = 0.5, head: str = 'head') -> None:
        if max_fraction < 0:
            raise ValueError('MICSQueueSizeHook: max_fraction must be >= 0, '
                             f'got {max_fraction}.')
        self.max_fraction = max_fraction
        self.head = head

    def before_run(self, runner) -> None:
        loop = getattr(runner, '_train_loop', None)
        loader = getattr(loop, 'dataloader', None)
        if loader is None:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        head = getattr(model, self.head, None)
        if head is None or not hasattr(head, 'limit_queue'):
            return
        cap = int(self.max_fraction * len(loader.dataset))
        if cap < head.queue_size:
            head.limit_queue(cap)
            runner.logger.info(
                f'MICSQueueSizeHook: consistency queue uses {head.queue_len} '
                f'of {head.queue_size} slots ({self.max_fraction} x '
                f'{len(loader.dataset)} training samples).')
