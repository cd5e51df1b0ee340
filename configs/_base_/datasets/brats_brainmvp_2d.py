# BraTS-style studies for BrainMVP 2D pre-training: random axial slices of
# 4 sampled modalities after RAS, 5-95 percentile scaling and a foreground
# crop, cropped / padded to 192 x 192, positions kept on the SRI24 canvas.
# (No CachedCompose: with hundreds of studies an epoch visits each once.)
_base_ = ['./brats_brainmvp.py']
crop_size = (192, 192)
train_pipeline = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=True),
    dict(type='ForegroundCrop'),
    dict(type='SampleModalities', num=4),
    dict(type='RandomSlice2D', axis=2, min_foreground=0.05),
    dict(type='CropPad', size=crop_size, mode='random'),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=train_pipeline))
