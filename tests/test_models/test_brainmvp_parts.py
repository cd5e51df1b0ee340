"""BrainMVP building blocks: block masks in 2D / 3D and modality templates."""
import pytest
import torch

from mics_mm.models.utils import random_patch_mask, upsample_mask
from mics_mm.registry import MODELS


@pytest.mark.parametrize('grid', [(4, 6), (3, 4, 5)])
def test_block_mask_ratio_and_alignment(grid):
    mask = random_patch_mask(3, grid, 0.8, 'cpu')
    n = torch.tensor(grid).prod().item()
    assert mask.shape == (3, *grid)
    assert mask.flatten(1).sum(1).tolist() == [float(int(n * 0.8))] * 3
    voxels = upsample_mask(mask, 8)
    assert voxels.shape == (3, *[g * 8 for g in grid])
    # Block alignment: every 8^k block is all 0 or all 1.
    blocks = voxels.unfold(1, 8, 8).unfold(2, 8, 8)
    if len(grid) == 3:
        blocks = blocks.unfold(3, 8, 8)
    flat = blocks.reshape(*blocks.shape[:len(grid) + 1], -1)
    assert torch.all((flat.min(-1).values == flat.max(-1).values))


def make_templates():
    t = MODELS.build(
        dict(type='BrainMVPModalityTemplates', num_modalities=2, canvas=(6, 5, 4)))
    with torch.no_grad():
        values = torch.arange(2 * 6 * 5 * 4, dtype=torch.float32)
        t.templates.copy_(values.view(2, 6, 5, 4))
    return t


def test_templates_are_min_max_normalised_and_cropped_at_position():
    t = make_templates()
    normed = t.normalized()
    assert float(normed[0].min()) == 0.0 and float(normed[0].max()) == 1.0
    assert float(normed[1].min()) == 0.0 and float(normed[1].max()) == 1.0
    crop = t.crop(torch.tensor([1, 0]), torch.tensor([[2, 1, 0], [0, 0, 1]]),
                  (3, 2, 2))
    assert torch.allclose(crop[0], normed[1, 2:5, 1:3, 0:2])
    assert torch.allclose(crop[1], normed[0, 0:3, 0:2, 1:3])
    # A 2D slice is a crop of extent 1 along its axis (here axis 2, index 3).
    sl = t.crop(torch.tensor([0]), torch.tensor([[0, 0, 3]]), (6, 5, 1))
    assert torch.allclose(sl[0, ..., 0], normed[0, :, :, 3])


def test_templates_pad_outside_canvas_and_receive_gradients():
    t = make_templates()
    crop = t.crop(torch.tensor([0]), torch.tensor([[-2, 4, 0]]), (3, 3, 4))
    assert torch.all(crop[0, :2] == 0)  # before the canvas along axis 0
    assert torch.all(crop[0, :, 1:] == 0)  # past the end along axis 1
    assert torch.allclose(crop[0, 2, 0], t.normalized()[0, 0, 4])
    crop.sum().backward()
    assert t.templates.grad is not None and t.templates.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='canvas'):
        t.crop(torch.tensor([0]), torch.tensor([[0, 0]]), (2, 2))
