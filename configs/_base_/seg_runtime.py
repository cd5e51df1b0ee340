# Runtime of the mmsegmentation configs (BrainMVP downstream segmentation):
# mmseg's scope, mics_mm and its mmseg parts (mics_mm.seg) imported, so
# mmseg's own tools/train.py runs these configs as well as ours.
default_scope = 'mmseg'
custom_imports = dict(
    imports=['mics_mm', 'mics_mm.seg'], allow_failed_imports=False)
# mmengine's Runner plus start-up checks (docs/reliability.md); mmseg's
# packaged tools/train.py honours runner_type too.
runner_type = 'SafeRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='SafeCheckpointHook', by_epoch=False, interval=500,
        max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # A NaN / inf loss stops training before the update ('stop'), or the
    # step is skipped ('skip'); see docs/reliability.md. Built in mics_mm's
    # scope (a child of mmpretrain's registries, not seen from mmseg's).
    non_finite=dict(type='NonFiniteLossHook', _scope_='mics_mm',
                    policy='stop'),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs; SafeRunner uses gloo when no GPU exists.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# Every rank draws its own random masks, crops and views (seed + rank, as
# the BrainMVP release seeds each rank); the samplers still shuffle alike.
randomness = dict(seed=1234, deterministic=False, diff_rank_seed=True)
