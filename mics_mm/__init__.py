"""mics_mm: multimodal self-supervised pre-training for medical images.

Importing the package registers its modules: models, datasets, transforms,
metrics and hooks into its own registries (:mod:`mics_mm.registry`, scope
``mics_mm``, children of mmpretrain's), and the engine parts every scope
uses (``SafeRunner``, ``SafeCheckpointHook``, the
``MultiForwardDistributedDataParallel`` wrapper, the ``atomic_local`` file
backend) into mmengine's root registries. It
changes nothing of torch, mmengine or mmcv: the runtime configs opt in to
these parts by name (docs/reliability.md). The mmsegmentation parts are in
:mod:`mics_mm.seg`, imported by the segmentation configs.
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
