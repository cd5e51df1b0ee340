"""A DDP wrapper that also runs on CPU and lets models drive DDP themselves."""
import inspect
from typing import Callable, Dict, Union

import torch
import torch.nn as nn
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.optim import OptimWrapper
# mmengine's Runner resolves ``model_wrapper_cfg.type`` with
# ``mmengine.registry.MODEL_WRAPPERS.get`` (no scope switch) before building
# it, so the wrapper must live in the root registry; mmpretrain's (child)
# registry and every other scope still find it through their parent.
from mmengine.registry import MODEL_WRAPPERS


def _on_cpu(module: nn.Module) -> bool:
    """Whether all parameters of ``module`` live on the CPU."""
    params = list(module.parameters())
    return bool(params) and all(p.device.type == 'cpu' for p in params)


def _accepts_ddp_model(train_step: Callable) -> bool:
    """Whether ``train_step`` takes a ``ddp_model`` keyword argument."""
    try:
        params = inspect.signature(train_step).parameters
    except (TypeError, ValueError):
        return False
    param = params.get('ddp_model')
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY)


@MODEL_WRAPPERS.register_module()
class MultiForwardDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` for CPU runs and multi-forward
    models.

    Differences from the parent:

    - **CPU**: when the module's parameters are on the CPU, ``device_ids``
      and ``output_device`` are set to None (DDP rejects device ids for CPU
      modules, and mmengine's Runner passes ``[LOCAL_RANK]``),
      ``broadcast_buffers`` is forced to False and SyncBN layers are reverted
      to BN (SyncBN needs GPUs).
    - **train_step**: if the wrapped model's ``train_step`` accepts a
      ``ddp_model`` keyword, it is called as
      ``module.train_step(data, optim_wrapper, ddp_model=self)`` so the model
      can run each of its forwards through ``ddp_model(...)`` and DDP's
      reducer sees them (needed by models with several forwards/optimizers
      per step). Otherwise the parent's ``train_step`` is used.

    Use it with ``model_wrapper_cfg=dict(type='MultiForwardDistributedDataParallel')``
    (any ``default_scope``; it is registered in mmengine's root registry).

    Args:
        module (nn.Module): Model to wrap.
        detect_anomalous_params (bool): See
            :class:`MMDistributedDataParallel`. Defaults to False.
        **kwargs: Passed to :class:`torch.nn.parallel.DistributedDataParallel`.
    """

    def __init__(self,
                 module: nn.Module,
                 detect_anomalous_params: bool = False,
                 **kwargs) -> None:
        if _on_cpu(module):
            kwargs.update(
                device_ids=None, output_device=None, broadcast_buffers=False)
            module = revert_sync_batchnorm(module)
        super().__init__(
            module=module,
            detect_anomalous_params=detect_anomalous_params,
            **kwargs)

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """Run one training step, letting the module drive DDP if it can.

        Args:
            data (dict | tuple | list): Data sampled from the dataset.
            optim_wrapper (OptimWrapper): Optimizer wrapper(s) of the model.

        Returns:
            Dict[str, torch.Tensor]: Log variables.
        """
        if _accepts_ddp_model(self.module.train_step):
            return self.module.train_step(
                data, optim_wrapper, ddp_model=self)
        return super().train_step(data, optim_wrapper)
