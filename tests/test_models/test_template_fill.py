"""Templates substituting missing modalities downstream: vectorised crops
equal a slice-by-slice reference, fill at the right position, checkpoint
loading, canvas checks, and the mmpretrain MRI data preprocessor."""
import pytest
import torch

from mics_mm.structures import MRI_MODALITIES
from mics_mm.models.utils import (BrainMVPTemplateFiller, crop_templates,
                                  fill_missing_modalities)
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

CANVAS = (6, 7, 5)


def _templates():
    return torch.randn(len(MRI_MODALITIES), *CANVAS)


def _reference_crop(templates, m, origin, size):
    """Slice, min-max scale, zero outside the canvas (one crop)."""
    t = templates[m]
    t = (t - t.min()) / (t.max() - t.min())
    out = torch.zeros(size)
    src, dst = [], []
    for start, extent, limit in zip(origin, size, CANVAS):
        lo, hi = max(start, 0), min(start + extent, limit)
        if hi <= lo:
            return out
        src.append(slice(lo, hi))
        dst.append(slice(lo - start, hi - start))
    out[tuple(dst)] = t[tuple(src)]
    return out


def test_vectorised_crop_equals_reference_and_routes_gradients():
    templates = _templates().requires_grad_()
    modality = torch.tensor([0, 3, 3, 5])
    offset = torch.tensor([[0, 0, 0], [-2, 1, 3], [4, 5, 4], [7, 0, 0]])
    size = (3, 4, 2)
    crops = crop_templates(templates, modality, offset, size)
    for i in range(4):
        torch.testing.assert_close(
            crops[i],
            _reference_crop(templates.detach(), int(modality[i]),
                            offset[i].tolist(), size))
    assert not crops[3].any()  # entirely outside the canvas
    # Gradients reach the cropped voxels (and, via min/max, the extremes).
    crops[1].sum().backward()
    grad = templates.grad[3]
    assert grad[0:1, 1:5, 3:5].abs().sum() > 0
    assert templates.grad[1].abs().sum() == 0  # template not used


def _samples(missing, canvas_shape=CANVAS):
    return [
        DataSample(
            metainfo=dict(
                modalities=('flair', 't1', 't2'),
                missing_modalities=m,
                canvas_offset=(1, -1, 0),
                canvas_axis=2,
                slice_index=3,
                canvas_shape=canvas_shape)) for m in missing
    ]


def test_fill_puts_the_right_template_at_the_slice_position():
    templates = _templates()
    x = torch.zeros(2, 3, 4, 6)
    x[:, 1, 1:3, 2:5] = 0.5  # the T1 "head"; flair / t2 zero
    samples = _samples([('flair', ), ('flair', 't2')])
    out = fill_missing_modalities(x, samples, templates, MRI_MODALITIES,
                                  mask_background=False)
    # slice z=3, in-plane origin (1, -1): a (4, 1, 6) crop at (1, -1, 3)
    for i, name, channel in [(0, 'flair', 0), (1, 'flair', 0), (1, 't2', 2)]:
        ref = _reference_crop(templates, MRI_MODALITIES.index(name),
                              [1, -1, 3], (4, 6, 1))[..., 0]
        torch.testing.assert_close(out[i, channel], ref)
    torch.testing.assert_close(out[:, 1], x[:, 1])  # present channel kept
    assert torch.equal(out[0, 2], x[0, 2])  # t2 present in sample 0
    # inside the head only
    masked = fill_missing_modalities(x, samples, templates, MRI_MODALITIES)
    head = x[0, 1] > 0
    assert not masked[0, 0][~head].any()
    torch.testing.assert_close(masked[0, 0][head], out[0, 0][head])
    # no templates: the zero channels stay
    assert fill_missing_modalities(x, samples, None, MRI_MODALITIES) is x


def test_fill_in_3d():
    templates = _templates()
    x = torch.ones(1, 2, 3, 3, 3)
    sample = DataSample(
        metainfo=dict(modalities=('t1', 'pd'), missing_modalities=('pd', ),
                      canvas_offset=(2, 2, 1)))
    out = fill_missing_modalities(x, [sample], templates, MRI_MODALITIES)
    ref = _reference_crop(templates, MRI_MODALITIES.index('pd'), [2, 2, 1],
                          (3, 3, 3))
    torch.testing.assert_close(out[0, 1], ref)


def _checkpoint(tmp_path, templates):
    path = tmp_path / 'brainmvp.pth'
    torch.save(dict(state_dict={'templates.templates': templates}), path)
    return str(path)


def test_filler_reads_the_checkpoint_lazily_and_checks_the_canvas(tmp_path):
    templates = _templates()
    missing = BrainMVPTemplateFiller(str(tmp_path / 'nope.pth'))  # builds
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        missing(torch.zeros(1, 3, 4, 6), _samples([('flair', )])[:1])
    filler = BrainMVPTemplateFiller(_checkpoint(tmp_path, templates),
                                mask_background=False)
    x = torch.zeros(1, 3, 4, 6)
    out = filler(x, _samples([('flair', )]))
    ref = _reference_crop(templates, 0, [1, -1, 3], (4, 6, 1))[..., 0]
    torch.testing.assert_close(out[0, 0], ref)
    assert 'templates' not in filler.state_dict()  # not saved downstream
    with pytest.raises(ValueError, match=r'\(9, 9, 9\) canvas'):
        filler(x, _samples([('flair', )], canvas_shape=(9, 9, 9)))
    torch.save(dict(state_dict={}), tmp_path / 'other.pth')
    with pytest.raises(KeyError, match='no .templates.templates.'):
        BrainMVPTemplateFiller(str(tmp_path / 'other.pth'))(
            x, _samples([('flair', )]))


def test_mri_data_preprocessor_stacks_fills_and_normalises(tmp_path):
    templates = _templates()
    pre = MODELS.build(
        dict(
            type='MRIDataPreprocessor',
            templates=_checkpoint(tmp_path, templates),
            mean=[0.5, 0.5, 0.5],
            std=[2.0, 2.0, 2.0]))
    inputs = [torch.full((3, 4, 6), 0.5) for _ in range(2)]
    for x in inputs:
        x[0] = 0  # flair missing
    samples = _samples([('flair', ), ('flair', )])
    out = pre(dict(inputs=inputs, data_samples=samples))
    assert out['inputs'].shape == (2, 3, 4, 6)
    ref = _reference_crop(templates, 0, [1, -1, 3], (4, 6, 1))[..., 0]
    torch.testing.assert_close(out['inputs'][0, 0], (ref - 0.5) / 2)
    torch.testing.assert_close(out['inputs'][0, 1], torch.zeros(4, 6))
    plain = MODELS.build(dict(type='MRIDataPreprocessor'))
    out = plain(dict(inputs=inputs, data_samples=samples))
    assert not out['inputs'][:, 0].any()  # zeros without templates
