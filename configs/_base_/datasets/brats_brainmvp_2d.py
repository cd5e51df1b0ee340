# BraTS-style studies for BrainMVP 2D pre-training: the 3D pre-processing
# of brats_brainmvp.py (the same studies: pretrain.json, never the val /
# test cases; 4 sampled modalities, RAS, 1 mm, centred on the SRI24 canvas,
# symmetric foreground box, 5-95 percentiles over the box), then random
# axial slices cropped / padded to 192 x 192; the slice index and the
# in-plane position are positions on the canvas, for the templates.
# (No CachedCompose: with hundreds of studies an epoch visits each once.)
_base_ = ['./brats_brainmvp.py']
crop_size = (192, 192)
train_pipeline = [
    dict(type='LoadMRIStudy', reorient_ras=True),
    dict(type='SampleModalities', num={{_base_.num_modalities}}),
    dict(type='ResampleToSpacing', pixdim={{_base_.spacing}}),
    dict(type='PlaceOnCanvas', canvas={{_base_.canvas}}),
    dict(type='ForegroundCrop', symmetric=True),
    dict(type='PercentileNormalize', low=5, high=95, clip=True, mask='box'),
    dict(type='ForegroundCrop', symmetric=True),
    dict(type='RandomSlice2D', axis=2, min_foreground=0.05),
    dict(type='CropPad', size=crop_size, mode='random'),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=32, dataset=dict(pipeline=train_pipeline))
