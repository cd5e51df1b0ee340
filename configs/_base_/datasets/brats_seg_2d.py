# BraTS tumour segmentation on axial slices through mmsegmentation.
# Manifests seg_{train,val,test}.json from
# `python tools/data/make_mri_splits.py --data-root data/brats`; labels
# 0 background, 1 necrotic core, 2 oedema, 4 (2018-2021) or 3 (2023)
# enhancing tumour, mapped to 0..3. A missing modality is filled from
# BrainMVP's templates (SRI24 canvas) by the data preprocessor.
_base_ = ['./brain_demo_seg.py']
data_root = 'data/brats/'
modalities = ('flair', 't1', 't1c', 't2')
classes = ('background', 'necrotic_core', 'oedema', 'enhancing_tumour')
crop_size = (192, 192)
test_size = (256, 256)  # whole 240 x 240 slices, padded to /32

load_study = dict(
    type='LoadMRIStudy',
    reorient_ras=True,
    label_map={0: 0, 1: 1, 2: 2, 3: 3, 4: 3})
train_pipeline = [
    load_study,
    dict(type='PercentileNormalize', low=5, high=95, clip=True),
    dict(type='ArrangeModalities', modalities=modalities),
    dict(type='RandomSlice2D', axis=2, min_foreground=0.05),
    dict(type='CropPad', size=crop_size, mode='random'),
    dict(type='PackMRISegInputs'),
]
# Slices of one study in a row: read it once (cache of 2 studies).
test_pipeline = [
    dict(
        type='CachedCompose',
        max_items=2,
        transforms=[
            load_study,
            dict(type='PercentileNormalize', low=5, high=95, clip=True),
            dict(type='ArrangeModalities', modalities=modalities),
        ]),
    dict(type='TakeSlice2D'),
    dict(type='CropPad', size=test_size, mode='center'),
    dict(type='PackMRISegInputs'),
]
dataset = dict(
    data_root=data_root,
    modalities=modalities,
    metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    dataset=dict(pipeline=train_pipeline, **dataset))
val_dataloader = dict(
    num_workers=4,
    dataset=dict(min_foreground=0.0, pipeline=test_pipeline, **dataset))
test_dataloader = dict(
    num_workers=4,
    dataset=dict(min_foreground=0.0, pipeline=test_pipeline, **dataset))
