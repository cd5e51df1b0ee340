# BrainMVP 3D pre-training on the demo brain set, small enough for a CPU
# (`make demo-brainmvp`): the 3D BraTS recipe
# (brainmvp_uniformer-s_8xb2-coslr-1500e_brats-96px.py: one modality per
# view, MD + CMR (+ CL) proxy tasks, 8^3 blocks at mask ratio 0.8, loss
# 10 * MD + CMR + CL, sparse template AdamW) with a tiny UniFormer3D
# (depths 1, 1, 1, 1; widths 16, 32, 64, 128; stride-4 stem, so its
# encoder loads into the tiny segmentation config
# benchmarks/uniformer-tiny_unetr_1xb2-adam-40it_brain-demo-3d-32px.py) on
# random 32^3 patches of the demo set (tools/data/make_brain_demo.py: the
# MNI152 template, derived subjects, SIMULATED T2/PD/FLAIR; the studies of
# pretrain.json, never those of seg_val.json / seg_test.json).
# Own pipeline: the one of ../_base_/datasets/brain_demo_brainmvp_2d.py in
# 3D (RAS, 2 mm, centred on the 98 x 116 x 94 canvas = the MNI152 grid at
# 2 mm = model.templates.canvas, symmetric foreground box, 5-95 percentiles
# over the box) with 32^3 patches instead of slices.
# 8 epochs of 12 steps of batch 2 (24 patches, 4 of each study, an epoch):
# 96 steps, a couple of minutes on 2 CPU cores. The release's three phases
# (docs/methods.md, "BrainMVP: schedule") scaled from 1500 to 8 epochs:
# MD + MD for epochs 0-1, MD + CMR from epoch 2, CL from epoch 5.
#   python tools/data/make_brain_demo.py --out data/brain_demo
#   python tools/train.py <this config> --work-dir work_dirs/pre3d
#   python tools/train.py configs/brainmvp/benchmarks/uniformer-tiny_unetr_1xb2-adam-40it_brain-demo-3d-32px.py \
#       --cfg-options model.pretrained=work_dirs/pre3d/epoch_8.pth \
#       model.templates=work_dirs/pre3d/epoch_8.pth model.template_mix=True \
#       model.feature_mse_weight=0.1
_base_ = './brainmvp_uniformer-s_8xb2-coslr-1500e_brats-96px.py'

data_root = 'data/brain_demo/'
num_modalities = 4
patch_size = 32
spacing = (2.0, 2.0, 2.0)  # mm: the demo's voxel size (make_brain_demo.py)
canvas = (98, 116, 94)  # the MNI152 grid at 2 mm
max_epochs = 8

model = dict(
    # in_channels=1 (one modality per view) from the BraTS config
    backbone=dict(arch='tiny'),
    neck=dict(in_channels=128, hid_channels=256, out_channels=64),
    # tiny's stride-4 stem: stride 32, five x2 transposed convolutions back
    recon_neck=dict(in_channels=128, channels=(64, 32, 16, 16, 16)),
    templates=dict(canvas=canvas))

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
    dict(type='RandomPatch3D', size=patch_size),
    dict(type='PackMRIInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    # A handful of studies: an epoch draws 4 patches from each.
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=4,
        dataset=dict(
            type='BrainMRIDataset',
            data_root=data_root,
            ann_file='pretrain.json',
            exclude_files=('seg_val.json', 'seg_test.json'),
            pipeline=train_pipeline)))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
custom_hooks = [
    dict(type='BrainMVPScheduleHook', cmr_start=2, cl_start=5,
         by_epoch=True),
    dict(type='RandomStateHook'),
]
default_hooks = dict(
    logger=dict(interval=4),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
