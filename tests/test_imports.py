"""Every module of the package imports, and every public class is found in
the registry a config names it from."""
import importlib
import pkgutil

import pytest

import mics_mm
from mmpretrain.registry import (DATASETS, HOOKS, METRICS, MODEL_WRAPPERS,
                                 MODELS, OPTIM_WRAPPER_CONSTRUCTORS,
                                 TRANSFORMS)

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(mics_mm.__path__, 'mics_mm.'))

REGISTERED = {
    DATASETS: [
        'MicsKvasirDataset', 'MicsSemiSupervisedDataset',
        'MicsBrainMRIDataset', 'MicsBrainMRISliceDataset'
    ],
    TRANSFORMS: [
        'MicsLoadMultiModalImages', 'MicsSimulatedNBI', 'MicsSharedTransforms',
        'MicsPerModalityTransforms', 'MicsPackMultiModalInputs',
        'MicsSelectModality', 'MicsLoadMRIStudy', 'MicsPercentileNormalize',
        'MicsForegroundCrop', 'MicsSampleModalities', 'MicsRandomSlice2D',
        'MicsRandomPatch3D', 'MicsPackMRIInputs', 'MicsArrangeModalities',
        'MicsTakeSlice2D', 'MicsCropPad', 'MicsCachedCompose',
        'MicsModalitiesAsViews'
    ],
    MODELS: [
        'MICS', 'MicsConsistencyHead', 'MicsAlignedHead',
        'MicsL2AttnDiscriminator', 'MicsMaskedResNet', 'MicsDataPreprocessor',
        'MicsMultiModalClassifier', 'MicsFusionNeck', 'MicsDistShiftHead',
        'BrainMVP', 'MicsInfoNCEHead', 'MicsModalityTemplates',
        'MicsUniFormer3D', 'MicsDecoder3D', 'MicsDecoder2D',
        'MicsLinearDecoder2D', 'MicsMRIDataPreprocessor',
        'MicsViewsAsBatchDataPreprocessor'
    ],
    HOOKS: [
        'MicsAlphaWarmupHook', 'MicsQueueSizeHook', 'MicsRandomStateHook',
        'MicsLambdaRampHook', 'MicsBrainMVPScheduleHook',
        'MicsNonFiniteLossHook'
    ],
    METRICS: ['MicsClsMetric'],
    OPTIM_WRAPPER_CONSTRUCTORS: ['MicsMultiOptimWrapperConstructor'],
    MODEL_WRAPPERS: ['MicsDistributedDataParallel'],
}


@pytest.mark.parametrize('name', MODULES)
def test_module_imports(name):
    importlib.import_module(name)


@pytest.mark.parametrize(
    'registry,name', [(r, n) for r, names in REGISTERED.items()
                      for n in names],
    ids=lambda x: x if isinstance(x, str) else x.name)
def test_registered(registry, name):
    assert registry.get(name) is not None, f'{name} not in {registry.name}'
