# Two augmented views of the WLI image alone (the canonical single-modality
# setting of SimCLR / MoCo v3 / BYOL) at the 64 px demo size: each view its
# own crop, flip and the MICS colour jitter; NBI is not used. The demo
# `*-wli-64px` baseline configs take it as {{_base_.wli_two_views_pipeline}}.
wli_view = [
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.2,
                hue=0.05)
        ],
        prob=0.8),
]
wli_two_views_pipeline = [
    dict(type='LoadMultiModalImages'),
    dict(type='SelectModality', modality='wli'),
    dict(type='MultiView', num_views=2, transforms=[wli_view]),
    dict(type='PackInputs'),
]
