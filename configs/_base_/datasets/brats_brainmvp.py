# Multi-parametric brain MRI for BrainMVP pre-training (docs/methods.md, "BrainMVP"):
# BraTS-style studies <root>/<case>/<case>_<modality>.nii.gz read with
# nibabel, RAS, per-channel 5-95 percentile scaling to [0, 1], foreground
# crop, 4 modalities sampled per study (duplicated when fewer), random 96^3
# patches that keep their position on the canvas for the templates.
dataset_type = 'BrainMRIDataset'
data_root = 'data/brats/'
num_modalities = 4
patch_size = 96

train_pipeline = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=True),
    dict(type='ForegroundCrop'),
    dict(type='SampleModalities', num=num_modalities),
    dict(type='RandomPatch3D', size=patch_size),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
