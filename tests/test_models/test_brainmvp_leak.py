"""BrainMVP's proxy task cannot be solved by copying: no masked voxel's true
value appears, at its position, in any encoder input.

The studies hold random continuous values, different for every modality,
so a value can only reappear by being copied. Duplicated modalities (a study
with fewer names than sampled slots) must not serve as the CMR partner of
their own copy; a single-modality study gets MD views.
"""
import pytest
import torch

from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

VOCAB = ('flair', 't1', 't1c', 't2')


def _model():
    model = MODELS.build(
        dict(
            type='BrainMVP',
            backbone=dict(type='UniFormer3D', arch='tiny', in_channels=1),
            recon_neck=dict(
                type='BrainMVPConvDecoder3D', in_channels=128,
                channels=(16, 8, 8, 8, 8), out_channels=1, scale=32),
            templates=dict(
                type='BrainMVPModalityTemplates', num_modalities=8,
                canvas=(40, 40, 40)),
            block_size=8,
            mask_ratio=0.8))
    model.init_weights()
    with torch.no_grad():  # templates unlike any study value
        model.templates.templates.copy_(
            torch.rand_like(model.templates.templates))
    return model


def _batch(k: int, names_per_study, size: int = 32):
    """Studies of ``k`` slots whose names repeat as given; a repeated name
    carries a copy of the same volume (as SampleModalities duplicates)."""
    xs, samples = [], []
    for names in names_per_study:
        volumes = {name: torch.rand(size, size, size) * 100 + 1
                   for name in set(names)}
        xs.append(torch.stack([volumes[n] for n in names]))
        samples.append(
            DataSample(metainfo=dict(modalities=tuple(names),
                                     canvas_offset=(2, 3, 4))))
    return torch.stack(xs), samples


@pytest.mark.parametrize('k', [1, 2, 3, 4])
def test_no_masked_true_value_reaches_the_encoder(k):
    model = _model()
    torch.manual_seed(k)
    studies = [
        [VOCAB[j % len(VOCAB)] for j in range(k)],  # all different
        [VOCAB[0]] * k,  # one modality, duplicated to k slots
        [VOCAB[j % 2] for j in range(k)],  # two names, duplicated
    ]
    encoder_inputs, targets = [], []
    forward, views = model.backbone.forward, model.views

    def spy_forward(x):
        encoder_inputs.append(x.detach())
        return forward(x)

    def spy_views(*args):
        out = views(*args)
        targets.append(out[2])
        return out

    model.backbone.forward, model.views = spy_forward, spy_views
    for _ in range(3):  # several slots, masks and partners
        x, samples = _batch(k, studies)
        n = x.shape[0]
        for use_cmr in (False, True):
            model.use_cmr = use_cmr
            losses = model.loss(x, samples)
            encoder_in, target = encoder_inputs[-1], targets[-1]
            assert encoder_in.shape[1] == 1  # one modality per view
            slot = [j for j in range(k) if torch.equal(target, x[:, j:j + 1])]
            assert slot, 'the target is one of the sampled modalities'
            for view in encoder_in.split(n):
                masked = view != target
                # mask ratio 0.8 of the blocks
                assert 0.7 < masked.float().mean() < 0.9
                for i, names in enumerate(studies):
                    hidden = masked[i, 0]
                    values = view[i, 0][hidden]
                    # the hidden voxels of m hold nothing of m, nor of a
                    # duplicated copy of m, at their positions
                    for j, name in enumerate(names):
                        if name == names[slot[0]]:
                            assert not torch.any(values == x[i, j][hidden])
            lonely = sum(len(set(names)) == 1 for names in studies)
            assert float(losses['md_fallback']) == (lonely if use_cmr else 0)
