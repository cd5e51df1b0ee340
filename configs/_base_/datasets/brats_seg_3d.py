# 3D segmentation of BraTS 2021 (labels 1 necrosis, 2 oedema, 4 enhancing
# tumour; scored on the regions WT / TC / ET) on 96^3 patches, pre-processed
# as the BrainMVP release's downstream (docs/methods.md,
# "BrainMVP: downstream"): RAS, per-channel 5-95 percentile scaling over
# the whole volume without clipping, 1 mm voxels (BraTS already is), the
# foreground box with a 1-voxel margin, random 96^3 patches (padded when
# smaller), random mirroring of all three axes together (p = 0.5).
# Validation and testing predict the whole foreground box by sliding
# windows.
# Studies: <root>/<case>/<case>_{t1,t1ce,t2,flair,seg}.nii.gz, split into
# seg_train.json / seg_val.json / seg_test.json by
# `python tools/data/make_mri_splits.py --data-root data/brats`.
data_root = 'data/brats/'
# the release's channel order (T1, T1C, T2, FLAIR)
modalities = ('t1', 't1c', 't2', 'flair')
patch_size = 96
# What PackMRIInputs keeps: the canvas position and mirroring (templates),
# the voxel size (HD95 in mm) and the case name (the metric's rows).
meta_keys = ('case', 'modalities', 'missing_modalities', 'canvas_offset',
             'canvas_shape', 'flip_axes', 'spacing', 'img_path')

# the deterministic head of both pipelines
load_study = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=False,
         mask='box'),
    dict(type='ResampleToSpacing', pixdim=1.0),
    dict(type='ArrangeModalities', modalities=modalities),
    dict(type='ForegroundCrop', margin=1),
]
train_pipeline = load_study + [
    dict(type='RandomPatch3D', size=patch_size),
    dict(type='RandomFlip3D', axes=(0, 1, 2), prob=0.5),
    dict(type='PackMRIInputs', meta_keys=meta_keys),
]
test_pipeline = load_study + [dict(type='PackMRIInputs', meta_keys=meta_keys)]
common = dict(
    type='BrainMRIDataset',
    data_root=data_root,
    modalities=modalities,
    allow_missing=True)
train_dataloader = dict(
    batch_size=2,
    num_workers=6,
    persistent_workers=True,
    drop_last=True,
    # DefaultSampler's indices; each sample's augmentations drawn from
    # (seed, epoch, index) only: the same for any num_workers /
    # persistent_workers / rank layout, exact on --resume
    # (docs/reliability.md). _scope_: found from mmseg's scope too.
    sampler=dict(type='SeededSampler', _scope_='mics_mm', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(ann_file='seg_train.json', pipeline=train_pipeline,
                 **common))
# whole volumes of different sizes: one per batch
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(ann_file='seg_val.json', pipeline=test_pipeline, **common))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='seg_test.json'))
val_evaluator = dict(type='BraTSMetric', regions='2021')
test_evaluator = val_evaluator
