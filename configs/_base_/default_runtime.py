# Runtime shared by every mics_mm config.
# mics_mm's child registries of mmpretrain's: our modules first, then
# mmpretrain's and mmengine's (docs/methods.md, "Registry names").
default_scope = 'mics_mm'
# Registers mics_mm's modules (it patches nothing); this is what lets
# mmpretrain's own packaged tools/train.py run these configs.
custom_imports = dict(imports=['mics_mm'], allow_failed_imports=False)
# mmengine's Runner plus start-up checks (config keys, device, work dir,
# unreadable checkpoints); docs/reliability.md. mmpretrain's packaged
# tools/train.py honours runner_type too.
runner_type = 'SafeRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic files, save before prune, no NaN weights, loadable with
    # weights_only=True (docs/reliability.md).
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # A NaN / inf loss stops training before the update ('stop'), or the
    # step is skipped ('skip'); see docs/reliability.md.
    non_finite=dict(type='NonFiniteLossHook', policy='stop'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs; SafeRunner uses gloo when no GPU exists (a machine with
    # GPUs that torch cannot use stops instead, docs/reliability.md).
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
log_processor = dict(window_size=10)
load_from = None
resume = False
# Seed of the public MICS code.
# Every rank draws its own random masks, crops and views (seed + rank, as
# the BrainMVP release seeds each rank); the samplers still shuffle alike.
randomness = dict(seed=1234, deterministic=False, diff_rank_seed=True)
