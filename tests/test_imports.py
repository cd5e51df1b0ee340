"""Every module of the package imports, and every public class is found in
the registry a config names it from: mics_mm's child registries (scope
``mics_mm``) for the modules, mmengine's root registries for the engine
parts every scope uses, mmseg's for the segmentation parts."""
import importlib
import pkgutil

import mmengine.registry as root
import mmpretrain.registry as mmpretrain_registry
import pytest

import mics_mm
from mics_mm.registry import (DATASETS, HOOKS, METRICS, MODELS,
                              OPTIM_WRAPPER_CONSTRUCTORS, TRANSFORMS)

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
        'ModalitiesAsViews', 'PackMRISegInputs', 'ResampleToSpacing',
        'PlaceOnCanvas', 'RandomFlip3D'
    ],
    MODELS: [
        'MICS', 'MICSConsistencyHead', 'MICSAlignedHead',
        'MICSL2AttnDiscriminator', 'MaskedResNet', 'PerModalityDataPreprocessor',
        'MICSMultiModalClassifier', 'MICSFusionNeck', 'MICSDistShiftHead',
        'BrainMVP', 'InfoNCEHead', 'BrainMVPReconHead',
        'BrainMVPModalityTemplates',
        'UniFormer3D', 'BrainMVPConvDecoder3D', 'BrainMVPConvDecoder2D',
        'BrainMVPLinearDecoder2D', 'BrainMVPLinearDecoder3D',
        'MRIDataPreprocessor',
        'ViewsAsBatchDataPreprocessor', 'BrainMVPSegmentor3D',
        'UNETRDecoder3D', 'BraTSRegionHead'
    ],
    HOOKS: [
        'MICSAlphaWarmupHook', 'MICSQueueSizeHook', 'RandomStateHook',
        'MICSLambdaRampHook', 'BrainMVPScheduleHook',
        'NonFiniteLossHook', 'KNNMonitorHook'
    ],
    METRICS: ['ClsReportMetric', 'BraTSMetric'],
    OPTIM_WRAPPER_CONSTRUCTORS: ['PartwiseOptimWrapperConstructor'],
    root.MODEL_WRAPPERS: ['MultiForwardDistributedDataParallel'],
    root.RUNNERS: ['SafeRunner'],
    root.HOOKS: ['SafeCheckpointHook'],
}

#: Registered names that are not prefixed MICS / BrainMVP: general parts,
#: named for what they are (docs/methods.md, "Registry names").
GENERAL = {
    'KvasirDataset', 'SemiSupervisedDataset', 'BrainMRIDataset',
    'BrainMRISliceDataset', 'LoadMultiModalImages', 'SimulatedNBI',
    'SharedModalityTransforms', 'PerModalityTransforms',
    'PackMultiModalInputs', 'SelectModality', 'LoadMRIStudy',
    'PercentileNormalize', 'ForegroundCrop', 'SampleModalities',
    'RandomSlice2D', 'RandomPatch3D', 'PackMRIInputs', 'ArrangeModalities',
    'TakeSlice2D', 'CropPad', 'CachedCompose', 'ModalitiesAsViews',
    'MaskedResNet', 'PerModalityDataPreprocessor', 'InfoNCEHead',
    'UniFormer3D', 'MRIDataPreprocessor', 'ViewsAsBatchDataPreprocessor',
    'RandomStateHook', 'NonFiniteLossHook', 'ClsReportMetric',
    'PartwiseOptimWrapperConstructor', 'PackMRISegInputs',
    'InflatedPretrained', 'FashionMNISTMultiModal', 'GradientMagnitude',
    # mmpretrain's name on purpose: every config gets the fixed hook
    'PreciseBNHook',
    'ResampleToSpacing', 'PlaceOnCanvas',
    'UNETRDecoder3D', 'BraTSRegionHead', 'RandomFlip3D', 'BraTSMetric',
    'SeededSampler', 'SeededInfiniteSampler', 'KNNMonitorHook'
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


def test_modules_live_in_the_child_registries_only():
    """Our modules are in scope mics_mm, not added to mmpretrain's own
    registries; mmpretrain's modules are reachable from the child."""
    for registry, names in REGISTERED.items():
        if registry.scope != 'mics_mm':
            continue
        parent = getattr(mmpretrain_registry, [
            k for k, v in vars(mmpretrain_registry).items()
            if v is registry.parent
        ][0])
        for name in names:
            assert name not in parent._module_dict, name
    assert MODELS.get('ResNet') is mmpretrain_registry.MODELS.get('ResNet')
    assert MODELS.get('SelfSupDataPreprocessor') is not None


def test_registered_names_say_whose_part_it_is():
    import mics_mm.registry as ours
    names = set()
    for value in vars(ours).values():
        if isinstance(value, root.Registry) and value.scope == 'mics_mm':
            names |= set(value._module_dict)
    assert names, 'nothing registered in scope mics_mm'
    for name in names:
        assert name.startswith(('MICS', 'BrainMVP')) or name in GENERAL, (
            f'{name}: prefix MICS / BrainMVP, or add it to GENERAL')
    assert not [n for n in names if n.startswith('Mics')]
