"""mics_mm's registries: children of mmpretrain's, scope ``mics_mm``.

The pattern of mmpretrain's own ``registry.py``, one level down: every
registry here has mmpretrain's registry of the same kind as its parent, so a
config with ``default_scope='mics_mm'`` finds this package's modules first
and then mmpretrain's and mmengine's (``ResNet``, ``SelfSupDataPreprocessor``,
``CrossEntropyLoss``, ...) without a prefix. mmengine imports this module
when it meets the scope.

Each child also lists its parent's ``locations``: a child registry only
imports its own locations before a lookup, so without them a name that
mmpretrain registers lazily (``UniversalVisualizer`` in
``mmpretrain.visualization``, ...) would not be found from the child scope
(docs/methods.md, "A child registry: what was measured").

Engine parts that every scope needs, mmseg configs included (``SafeRunner``,
``SafeCheckpointHook``, ``MultiForwardDistributedDataParallel``), are
registered in mmengine's root registries instead; the mmsegmentation parts
(:mod:`mics_mm.seg`) in mmseg's.
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS'
]

#: Where this package registers, per kind of registry.
_OWN_LOCATIONS = {
    'engine': ['mics_mm.engine'],
    'datasets': ['mics_mm.datasets'],
    'models': ['mics_mm.models'],
    'evaluation': ['mics_mm.evaluation'],
    'visualization': [],
}


def _child(name: str, kind: str) -> Registry:
    parent = getattr(mmpretrain_registry, name)
    return Registry(
        parent.name,
        parent=parent,
        scope='mics_mm',
        locations=list(parent._locations) + _OWN_LOCATIONS[kind])


RUNNERS = _child('RUNNERS', 'engine')
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS', 'engine')
LOOPS = _child('LOOPS', 'engine')
HOOKS = _child('HOOKS', 'engine')
LOG_PROCESSORS = _child('LOG_PROCESSORS', 'engine')
OPTIMIZERS = _child('OPTIMIZERS', 'engine')
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS', 'engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS', 'engine')
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS', 'engine')
DATASETS = _child('DATASETS', 'datasets')
DATA_SAMPLERS = _child('DATA_SAMPLERS', 'datasets')
TRANSFORMS = _child('TRANSFORMS', 'datasets')
MODELS = _child('MODELS', 'models')
MODEL_WRAPPERS = _child('MODEL_WRAPPERS', 'models')
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS', 'models')
BATCH_AUGMENTS = _child('BATCH_AUGMENTS', 'models')
TASK_UTILS = _child('TASK_UTILS', 'models')
METRICS = _child('METRICS', 'evaluation')
EVALUATORS = _child('EVALUATORS', 'evaluation')
VISUALIZERS = _child('VISUALIZERS', 'visualization')
VISBACKENDS = _child('VISBACKENDS', 'visualization')
