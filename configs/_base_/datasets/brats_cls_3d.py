# Study-level classification of BraTS-style studies (e.g. HGG vs LGG) on
# 96^3 patches: manifests cls_{train,val,test}.json list each study's
# images with "gt_label" (index or class name). Fixed input channels; a
# missing modality is a zero channel filled by the data preprocessor from
# BrainMVP's templates (templates=<checkpoint>).
data_root = 'data/brats/'
modalities = ('flair', 't1', 't1c', 't2')
classes = ('LGG', 'HGG')
patch_size = 96

train_pipeline = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=True),
    dict(type='ArrangeModalities', modalities=modalities),
    dict(type='ForegroundCrop'),
    dict(type='CropPad', size=patch_size, mode='random'),
    dict(type='PackMRIInputs'),
]
test_pipeline = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=True),
    dict(type='ArrangeModalities', modalities=modalities),
    dict(type='ForegroundCrop'),
    dict(type='CropPad', size=patch_size, mode='center'),
    dict(type='PackMRIInputs'),
]
common = dict(
    type='BrainMRIDataset',
    data_root=data_root,
    modalities=modalities,
    allow_missing=True,
    metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    # DefaultSampler's indices; each sample's augmentations drawn from
    # (seed, epoch, index) only: the same for any num_workers /
    # persistent_workers / rank layout, exact on --resume
    # (docs/reliability.md). _scope_: found from mmseg's scope too.
    sampler=dict(type='SeededSampler', _scope_='mics_mm', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(ann_file='cls_train.json', pipeline=train_pipeline,
                 **common))
val_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(ann_file='cls_val.json', pipeline=test_pipeline, **common))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], ann_file='cls_test.json'))
val_evaluator = dict(type='ClsReportMetric')
test_evaluator = val_evaluator
