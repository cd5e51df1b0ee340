# BrainMVP 2D pre-training on the demo brain set written by
# `python tools/data/make_brain_demo.py --out data/brain_demo` (the MNI152
# template, derived subjects, SIMULATED T2/PD/FLAIR: see its README.txt).
# Studies come from the manifest pretrain.json (the val / test subjects of
# seg_val.json / seg_test.json are left out even if listed there). The
# release's pre-processing (docs/methods.md, "BrainMVP: data and
# pre-processing") at the demo's own voxel size: RAS, resampled to 2 mm
# (the demo is written at 2 mm, so nothing is interpolated; a demo made
# with another --voxel-mm is brought to 2 mm), centred on the 98 x 116 x 94
# canvas (the MNI152 grid at 2 mm, = model.templates.canvas), symmetric
# foreground box, 5-95 percentiles over the box. Each item is then one
# random axial slice of 4 sampled modalities, cropped to 96 x 96, its
# position on the canvas kept for the templates.
dataset_type = 'BrainMRIDataset'
data_root = 'data/brain_demo/'
num_modalities = 4
crop_size = (96, 96)
spacing = (2.0, 2.0, 2.0)  # mm: the demo's voxel size (make_brain_demo.py)
canvas = (98, 116, 94)  # the MNI152 grid at 2 mm

train_pipeline = [
    # Reading and normalising a study is the costly part: once per worker.
    dict(
        type='CachedCompose',
        transforms=[
            dict(type='LoadMRIStudy', reorient_ras=True),
            dict(type='ResampleToSpacing', pixdim=spacing),
            dict(type='PlaceOnCanvas', canvas=canvas),
            dict(type='ForegroundCrop', symmetric=True),
            dict(type='PercentileNormalize', low=5, high=95, clip=True,
                 mask='box'),
            dict(type='ForegroundCrop', symmetric=True),
        ]),
    dict(type='SampleModalities', num=num_modalities),
    dict(type='RandomSlice2D', axis=2, min_foreground=0.05),
    dict(type='CropPad', size=crop_size, mode='random'),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    # DefaultSampler's indices; each sample's augmentations drawn from
    # (seed, epoch, index) only: the same for any num_workers /
    # persistent_workers / rank layout, exact on --resume
    # (docs/reliability.md). _scope_: found from mmseg's scope too.
    sampler=dict(type='SeededSampler', _scope_='mics_mm', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # A handful of studies: an epoch draws 24 slices from each.
    dataset=dict(
        type='RepeatDataset',
        times=24,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='pretrain.json',
            exclude_files=('seg_val.json', 'seg_test.json'),
            pipeline=train_pipeline)))
