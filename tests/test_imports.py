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
        'KvasirDataset', 'SemiSupervisedDataset',
        'BrainMRIDataset', 'BrainMRISliceDataset'
    ],
    TRANSFORMS: [
        'LoadMultiModalImages', 'SimulatedNBI', 'SharedModalityTransforms',
        'PerModalityTransforms', 'PackMultiModalInputs',
        'SelectModality', 'LoadMRIStudy', 'PercentileNormalize',
        'ForegroundCrop', 'SampleModalities', 'RandomSlice2D',
        'RandomPatch3D', 'PackMRIInputs', 'ArrangeModalities',
        'TakeSlice2D', 'CropPad', 'CachedCompose',
        'ModalitiesAsViews'
    ],
    MODELS: [
        'MICS', 'MICSConsistencyHead', 'MICSAlignedHead',
        'MICSL2AttnDiscriminator', 'MaskedResNet', 'PerModalityDataPreprocessor',
        'MICSMultiModalClassifier', 'MICSFusionNeck', 'MICSDistShiftHead',
        'BrainMVP', 'InfoNCEHead', 'BrainMVPReconHead',
        'BrainMVPModalityTemplates',
        'UniFormer3D', 'BrainMVPConvDecoder3D', 'BrainMVPConvDecoder2D',
        'BrainMVPLinearDecoder2D', 'MRIDataPreprocessor',
        'ViewsAsBatchDataPreprocessor'
    ],
    HOOKS: [
        'MICSAlphaWarmupHook', 'MICSQueueSizeHook', 'RandomStateHook',
        'MICSLambdaRampHook', 'BrainMVPScheduleHook',
        'NonFiniteLossHook'
    ],
    METRICS: ['ClsReportMetric'],
    OPTIM_WRAPPER_CONSTRUCTORS: ['PartwiseOptimWrapperConstructor'],
    MODEL_WRAPPERS: ['MultiForwardDistributedDataParallel'],
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
