# Fine-tuning schedule of the demo segmentation: AdamW 1e-3, 30 warm-up
# iterations, polynomial decay, 300 iterations (minutes on 2 CPU cores),
# validation at the end.
max_iters = 300
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=30),
    dict(
        type='PolyLR',
        eta_min=1e-5,
        power=0.9,
        by_epoch=False,
        begin=30,
        end=max_iters),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
