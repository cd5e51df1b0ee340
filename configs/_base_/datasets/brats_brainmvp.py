# Multi-parametric brain MRI for BrainMVP pre-training, pre-processed as the
# release (docs/methods.md, "BrainMVP: data and pre-processing"): BraTS-style
# studies <root>/<case>/<case>_<modality>.nii.gz read with nibabel, 4
# modalities sampled per study (duplicated when fewer), RAS, resampled to
# 1 mm, centred on the template canvas (SRI24, 240 x 240 x 155; a BraTS
# study already is), a foreground box symmetric about the volume centre,
# per-channel 5-95 percentile scaling to [0, 1] over that box (background
# included), the box again, and random 96^3 patches that keep their
# position on the canvas for the templates.
# Studies: <root>/pretrain.json, the training cases written by
# `python tools/data/make_mri_splits.py --data-root <root>`; the cases of
# seg_val.json / seg_test.json are never used. Without pretrain.json every
# case folder is scanned, with a warning in the log.
dataset_type = 'BrainMRIDataset'
data_root = 'data/brats/'
num_modalities = 4
patch_size = 96
spacing = (1.0, 1.0, 1.0)  # mm
canvas = (240, 240, 155)  # = model.templates.canvas

train_pipeline = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='SampleModalities', num=num_modalities),
    dict(type='ResampleToSpacing', pixdim=spacing),
    dict(type='PlaceOnCanvas', canvas=canvas),
    dict(type='ForegroundCrop', symmetric=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=True, mask='box'),
    dict(type='ForegroundCrop', symmetric=True),
    dict(type='RandomPatch3D', size=patch_size),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    # DefaultSampler's indices; each sample's augmentations drawn from
    # (seed, epoch, index) only: the same for any num_workers /
    # persistent_workers / rank layout, exact on --resume
    # (docs/reliability.md). _scope_: found from mmseg's scope too.
    sampler=dict(type='SeededSampler', _scope_='mics_mm', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='pretrain.json',
        missing_ann_file='scan',
        exclude_files=('seg_val.json', 'seg_test.json'),
        pipeline=train_pipeline))
