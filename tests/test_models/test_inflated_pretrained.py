"""An encoder pre-trained on one modality per view loads into a
multi-channel downstream encoder, its input kernels inflated."""
import pytest
import torch
from mmengine.model import initialize

from mics_mm.models.utils import inflate_input_channels
from mics_mm.registry import MODELS
from mmengine.registry import DefaultScope


def test_inflation_keeps_the_response_to_identical_channels():
    one = torch.nn.Conv2d(1, 5, 3)
    four = torch.nn.Conv2d(4, 5, 3)
    weights = {'weight': one.weight.detach().clone(),
               'bias': one.bias.detach().clone()}
    assert inflate_input_channels(weights, four.state_dict()) == ['weight']
    four.load_state_dict(weights)
    x = torch.randn(2, 1, 9, 9)
    assert torch.allclose(four(x.repeat(1, 4, 1, 1)), one(x), atol=1e-5)
    # 4 different modalities: the response to their mean
    y = torch.randn(2, 4, 9, 9)
    assert torch.allclose(four(y), one(y.mean(1, keepdim=True)), atol=1e-5)
    # nothing else is touched
    same = {'weight': torch.randn(5, 4, 3, 3)}
    assert inflate_input_channels(same, four.state_dict()) == []


def test_inflated_pretrained_init_cfg(tmp_path):
    with DefaultScope.overwrite_default_scope('mics_mm'):
        src = MODELS.build(
            dict(type='ResNet', depth=18, in_channels=1, base_channels=8,
                 stem_channels=8))
        ckpt = tmp_path / 'pre.pth'
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                                   src.state_dict().items()}}, ckpt)
        dst = MODELS.build(
            dict(type='ResNet', depth=18, in_channels=4, base_channels=8,
                 stem_channels=8))
        initialize(dst, dict(type='InflatedPretrained',
                             checkpoint=str(ckpt), prefix='backbone.'))
    src.eval(), dst.eval()
    assert torch.allclose(dst.conv1.weight, src.conv1.weight.repeat(
        1, 4, 1, 1) / 4)
    assert torch.equal(dst.layer4[1].conv2.weight, src.layer4[1].conv2.weight)
    x = torch.randn(1, 1, 32, 32)
    assert torch.allclose(dst(x.repeat(1, 4, 1, 1))[-1], src(x)[-1],
                          atol=1e-4)
    with DefaultScope.overwrite_default_scope('mics_mm'):
        with pytest.raises(ValueError, match='no weights'):
            initialize(dst, dict(type='InflatedPretrained',
                                 checkpoint=str(ckpt), prefix='neck.'))



@pytest.mark.parametrize('zero_init_residual', [True, False])
def test_loaded_weights_survive_the_backbones_own_init(tmp_path,
                                                       zero_init_residual):
    """As ``init_cfg`` of the backbone, the checkpoint is loaded after every
    child's own initialisation and after mmpretrain ResNet's zero-init of
    the residual norms, as mmengine does for ``Pretrained``."""
    with DefaultScope.overwrite_default_scope('mics_mm'):
        arch = dict(type='ResNet', depth=18, base_channels=8, stem_channels=8)
        src = MODELS.build(dict(arch, in_channels=1))
        for p in src.parameters():
            torch.nn.init.uniform_(p, 0.5, 1.0)  # nothing is zero
        ckpt = tmp_path / 'pre.pth'
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in
                                   src.state_dict().items()}}, ckpt)
        dst = MODELS.build(
            dict(arch, in_channels=4, zero_init_residual=zero_init_residual,
                 init_cfg=dict(type='InflatedPretrained', checkpoint=str(ckpt),
                               prefix='backbone.')))
        dst.init_weights()
    for key, value in dst.state_dict().items():
        want = src.state_dict()[key]
        if key == 'conv1.weight':
            want = want.repeat(1, 4, 1, 1) / 4
        assert torch.equal(value, want), key
