"""BatchNorm statistics of a MICS ResNet encoder come from unmasked images.

With ``consistency_from_masked=True`` (the ResNet configs) the online
encoder only ever runs on 75 %-masked inputs in training, so its running
statistics describe masked images; a linear probe or fine-tune then uses
them in eval mode on whole images. mmpretrain's ``PreciseBNHook`` in the
ResNet pre-training configs recomputes them from the unmasked training
images (docs/methods.md, "MICS decision 18: BatchNorm for ResNet
encoders").
"""
import pytest
import torch
from mmengine.config import Config
from mmpretrain.engine.hooks.precise_bn_hook import update_bn_stats

from test_mics import batch, build, optim, tiny_resnet_mics

REPO_CONFIGS = [
    'configs/mics/mics_resnet50_8xb32-coslr-100e_kvasir-224px.py',
    'configs/mics/mics_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py',
]


class _Loader(list):
    """What ``update_bn_stats`` needs of a DataLoader."""
    batch_size = 8


def _first_bn_input_mean(model, data):
    """Per-channel mean of what the online encoder's first BN sees for
    unmasked images (its stem convolution's output)."""
    seen = []
    bn = model.backbone.norm1
    handle = bn.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].detach().clone()))
    with torch.no_grad():
        model(**model.data_preprocessor(data, False))  # mode='tensor'
    handle.remove()
    assert len(seen) == 1  # both modalities in one batch, as in training
    return seen[0].mean(dim=(0, 2, 3))


def test_precise_bn_takes_statistics_from_unmasked_images():
    model = build(tiny_resnet_mics(consistency_from_masked=True))
    model.train()
    wrapper = optim(model)
    data = batch(n=8, seed=3)
    for _ in range(3):  # training: the online encoder sees masked inputs
        model.train_step(data, wrapper)
    bn = model.backbone.norm1
    masked_stats = bn.running_mean.clone()
    unmasked_mean = _first_bn_input_mean(model, data)
    # the check can fail: training left statistics of other inputs
    assert not torch.allclose(masked_stats, unmasked_mean, atol=1e-3)

    update_bn_stats(model, _Loader([data]), num_samples=8, logger='silent')
    # one batch of both modalities' whole images: the batch mean
    assert torch.allclose(bn.running_mean, unmasked_mean, atol=1e-5)


def test_resnet_pretraining_configs_recompute_bn_statistics():
    for path in REPO_CONFIGS:
        cfg = Config.fromfile(path)
        assert cfg.model.consistency_from_masked, path
        hooks = [h for h in cfg.custom_hooks if h['type'] == 'PreciseBNHook']
        assert len(hooks) == 1, path
        # before every checkpoint: at least as often as it is saved
        assert hooks[0]['interval'] <= cfg.default_hooks.checkpoint.interval


@pytest.mark.slow  # builds a full-size model
def test_full_size_resnet_mics_uses_syncbn_in_both_encoders():
    cfg = Config.fromfile(REPO_CONFIGS[0])
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    model = build(cfg.model)
    online = [type(m).__name__ for m in model.backbone.modules()]
    momentum = [
        type(m).__name__ for m in model.momentum_encoder.module.modules()
    ]
    assert 'SyncBatchNorm' in online and 'SyncBatchNorm' in momentum
    assert 'BatchNorm2d' not in online
