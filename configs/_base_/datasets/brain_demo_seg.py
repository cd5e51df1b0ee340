# Tissue segmentation (CSF, grey and white matter) on the demo brain set
# (tools/data/make_brain_demo.py) through mmsegmentation, on axial slices.
# The model takes 4 modality channels; the segmentation studies have the
# T1 only, so flair / t2 / pd are missing: ArrangeModalities leaves
# them zero and the data preprocessor fills them from BrainMVP's templates
# (or leaves zeros when training from scratch).
data_root = 'data/brain_demo/'
modalities = ('flair', 't1', 't2', 'pd')
classes = ('background', 'csf', 'gray_matter', 'white_matter')
# Random 96 x 96 crops for training; whole slices (98 x 116 on the 2 mm
# canvas) padded to 128 x 128 for testing.
crop_size = (96, 96)
test_size = (128, 128)

load_study = dict(
    type='CachedCompose',
    transforms=[
        dict(type='LoadMRIStudy', reorient_ras=True),
        dict(type='PercentileNormalize', low=5, high=95, clip=True),
        dict(type='ArrangeModalities', modalities=modalities),
    ])
train_pipeline = [
    load_study,
    dict(type='RandomSlice2D', axis=2, min_foreground=0.05),
    dict(type='CropPad', size=crop_size, mode='random'),
    dict(type='PackMRISegInputs'),
]
# Every slice with brain (label) voxels, whole (padded, nothing cut).
test_pipeline = [
    load_study,
    dict(type='TakeSlice2D'),
    dict(type='CropPad', size=test_size, mode='center'),
    dict(type='PackMRISegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='SeededInfiniteSampler', _scope_='mics_mm', shuffle=True),
    dataset=dict(
        type='BrainMRIDataset',
        # our dataset and transforms: built in mics_mm's scope (a child of
        # mmpretrain's registries, which mmseg's scope does not see)
        _scope_='mics_mm',
        data_root=data_root,
        ann_file='seg_train.json',
        modalities=modalities,
        allow_missing=True,
        metainfo=dict(classes=classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BrainMRISliceDataset',
        _scope_='mics_mm',
        data_root=data_root,
        ann_file='seg_val.json',
        modalities=modalities,
        allow_missing=True,
        axis=2,
        min_foreground=0.01,
        metainfo=dict(classes=classes),
        pipeline=test_pipeline))
# The same loader on the held-out test subjects.
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='seg_test.json'))
val_evaluator = dict(type='VolumeDiceMetric')
test_evaluator = val_evaluator
