# 3D tissue segmentation (background, CSF, grey and white matter; scored
# class-wise) of the demo brain set (tools/data/make_brain_demo.py: the
# MNI152 template at 2 mm and warped copies of it; the segmentation splits
# give the T1 only, so flair / t2 / pd are missing: zero, or BrainMVP's
# templates with model.templates). Pre-processed as brats_seg_3d.py except
# the resampling (the demo stays at 2 mm), with the study loading cached.
data_root = 'data/brain_demo/'
modalities = ('flair', 't1', 't2', 'pd')
classes = ('background', 'csf', 'gray_matter', 'white_matter')
patch_size = 32
meta_keys = ('case', 'modalities', 'missing_modalities', 'canvas_offset',
             'canvas_shape', 'flip_axes', 'spacing', 'img_path')

load_study = dict(
    type='CachedCompose',
    transforms=[
        dict(type='LoadMRIStudy', reorient_ras=True),
        dict(type='PercentileNormalize', low=5, high=95, clip=False,
             mask='box'),
        dict(type='ArrangeModalities', modalities=modalities),
        dict(type='ForegroundCrop', margin=1),
    ])
train_pipeline = [
    load_study,
    dict(type='RandomPatch3D', size=patch_size),
    dict(type='RandomFlip3D', axes=(0, 1, 2), prob=0.5),
    dict(type='PackMRIInputs', meta_keys=meta_keys),
]
test_pipeline = [load_study, dict(type='PackMRIInputs', meta_keys=meta_keys)]
common = dict(
    type='BrainMRIDataset',
    data_root=data_root,
    modalities=modalities,
    allow_missing=True,
    metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='SeededInfiniteSampler', _scope_='mics_mm', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(ann_file='seg_train.json', pipeline=train_pipeline,
                 **common))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(ann_file='seg_val.json', pipeline=test_pipeline, **common))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='seg_test.json'))
# class-wise Dice / HD95 of CSF, GM and WM (HD95 in mm: the studies' voxel
# size)
val_evaluator = dict(type='BraTSMetric', regions=None)
test_evaluator = val_evaluator
