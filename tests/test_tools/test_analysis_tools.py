"""The analysis tools (tools/analysis/), the template export, the TensorBoard
runtime and the mim model index, on tiny data made here: the SYNTHETIC
Kvasir stand-in (8 classes x 4 images, 32 px) and checkpoints of models
built from the repository's configs."""
import csv
import glob
import importlib.util
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from mics_mm.apis import (build_split, collate_batches, config_data_root,
                          labels_of, load_analysis_config,
                          load_analysis_state_dict, load_scalars,
                          resize_pipeline, spread_over_classes, to_rgb_image)
from mics_mm.testing.kvasir_demo import make_demo_kvasir
from mics_mm.datasets.splits import make_splits
from mics_mm.evaluation import ClsReportMetric
from mics_mm.registry import MODELS
from mmpretrain.structures import DataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ANALYSIS = osp.join(ROOT, 'tools', 'analysis')
PRETRAIN_CFG = osp.join(ROOT, 'configs', 'mics', 'pretrain_kvasir_demo.py')
FINETUNE_CFG = osp.join(ROOT, 'configs', 'mics', 'finetune_kvasir_demo.py')
TB_RUNTIME = osp.join(ROOT, 'configs', '_base_',
                      'default_runtime_tensorboard.py')
DPI = 80


def load_tool(path):
    """Import a tool script as a module (tools/ is not a package)."""
    name = 'tool_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plot_curves = load_tool(osp.join(ANALYSIS, 'plot_curves.py'))
cls_report = load_tool(osp.join(ANALYSIS, 'cls_report.py'))
feature_pca = load_tool(osp.join(ANALYSIS, 'feature_pca.py'))
gradcam = load_tool(osp.join(ANALYSIS, 'gradcam.py'))


def png_size(path):
    """(width, height) of a valid PNG file."""
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG'
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        return img.size


def inches_to_px(size):
    return tuple(int(round(s * DPI)) for s in size)


@pytest.fixture(scope='module')
def kvasir(tmp_path_factory):
    """Kvasir layout: WLI on disk, NBI simulated; 8 test images."""
    root = tmp_path_factory.mktemp('kvasir') / 'demo'
    make_demo_kvasir(root, per_class=4, size=32)
    make_splits(str(root))
    return str(root)


@pytest.fixture(scope='module')
def paired_same(tmp_path_factory):
    """Paired layout whose NBI images are copies of the WLI images."""
    root = tmp_path_factory.mktemp('paired') / 'demo'
    make_demo_kvasir(root, per_class=4, size=32, paired=True)
    for wli_dir in glob.glob(str(root / '*' / '*_WLI')):
        nbi_dir = wli_dir[:-len('_WLI')] + '_NBI'
        for wli in glob.glob(osp.join(wli_dir, '*.png')):
            shutil.copyfile(wli, osp.join(nbi_dir, osp.basename(wli)))
    make_splits(str(root))
    return str(root)


def save_model(cfg_path, out):
    """Build the config's model and save its weights as a checkpoint."""
    cfg = Config.fromfile(cfg_path)
    model_cfg = dict(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    if 'pretrained' in model_cfg:
        model_cfg['pretrained'] = None
    torch.manual_seed(0)
    # module-scoped fixtures run before conftest's per-test scope
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(model_cfg)
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, out)
    return model


@pytest.fixture(scope='module')
def mics_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'mics.pth')
    save_model(PRETRAIN_CFG, path)
    return path


@pytest.fixture(scope='module')
def finetune_ckpt(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'finetune.pth')
    save_model(FINETUNE_CFG, path)
    return path


# --------------------------------------------------------------------------
# plot_curves.py


def write_run(work_dir, stamp, records):
    folder = Path(work_dir) / stamp / 'vis_data'
    folder.mkdir(parents=True)
    (folder / 'scalars.json').write_text(
        ''.join(json.dumps(r) + '\n' for r in records))


TRAIN_RECORD = {
    'lr': 0.1, 'generator.base_lr': 0.1, 'data_time': 0.01, 'time': 0.2,
    'loss': 3.0, 'loss_recon': 2.0, 'decode.loss_ce': 1.0,
    'temperature': 0.07, 'memory': 10, 'epoch': 1
}


def test_plot_curves_newest_run_train_and_val(tmp_path):
    write_run(tmp_path, '20260101_000000',
              [dict(TRAIN_RECORD, iter=1, step=1, extra_old=1.0)])
    records = [dict(TRAIN_RECORD, iter=i, step=i, loss=3.0 - i)
               for i in (1, 2, 3)]
    records.insert(2, dict(TRAIN_RECORD, iter=2, step=2,
                           unsup_pass_ratio=0.5))
    records.append(
        dict(accuracy=0.5, f1_macro=0.4, num_cases=2, step=1,
             confusion_matrix=[[1, 0], [0, 1]], classes=['a', 'b'],
             auc_macro=None, time=0.1))
    records.append(dict(accuracy=0.75, f1_macro=0.6, step=2))
    write_run(tmp_path, '20260102_000000', records)
    out = tmp_path / 'curves.png'

    summary = plot_curves.main([str(tmp_path), '--out', str(out)])
    assert summary['scalars'].endswith(
        osp.join('20260102_000000', 'vis_data', 'scalars.json'))
    # Loss terms first (dotted ones too), then the other training scalars;
    # bookkeeping keys, base_lr, lists, None and counters are not curves.
    assert summary['train'] == [
        'loss', 'loss_recon', 'decode.loss_ce', 'lr', 'temperature',
        'unsup_pass_ratio'
    ]
    assert summary['val'] == ['accuracy', 'f1_macro']
    assert summary['val_step'] == 'epoch'
    assert png_size(out) == inches_to_px(plot_curves.figure_size(8))

    train, val, _ = plot_curves.split_curves(load_scalars(summary['scalars']))
    assert train['loss'] == ([1, 2, 2, 3], [2.0, 1.0, 3.0, 0.0])
    assert val['accuracy'] == ([1, 2], [0.5, 0.75])

    older = plot_curves.main([
        str(tmp_path), '--out', str(tmp_path / 'old.png'), '--run',
        '20260101_000000'
    ])
    assert 'extra_old' in older['train'] and older['val'] == []
    # A run folder itself works too.
    inside = plot_curves.main([
        str(tmp_path / '20260101_000000'), '--out',
        str(tmp_path / 'inside.png')
    ])
    assert inside['scalars'] == older['scalars']


def test_plot_curves_clear_errors(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(SystemExit, match='no <timestamp>/vis_data/scalars'):
        plot_curves.main([str(empty), '--out', str(tmp_path / 'x.png')])
    with pytest.raises(SystemExit, match='does not exist'):
        plot_curves.main(
            [str(tmp_path / 'nope'), '--out', str(tmp_path / 'x.png')])
    write_run(tmp_path / 'w', '20260101_000000', [dict(step=1, note='x')])
    with pytest.raises(SystemExit, match='20260101_000000'):  # lists runs
        plot_curves.main([
            str(tmp_path / 'w'), '--out',
            str(tmp_path / 'x.png'), '--run', '20990101_000000'
        ])
    with pytest.raises(SystemExit, match='no numeric scalars'):
        plot_curves.main([str(tmp_path / 'w'), '--out',
                          str(tmp_path / 'x.png')])
    bad = tmp_path / 'bad' / '20260101_000000' / 'vis_data'
    bad.mkdir(parents=True)
    (bad / 'scalars.json').write_text('{"loss": 1, "step": 1}\n{"loss": ')
    with pytest.raises(SystemExit, match=r'scalars.json:2: not JSON'):
        plot_curves.main([str(tmp_path / 'bad'), '--out',
                          str(tmp_path / 'x.png')])
    assert not (tmp_path / 'x.png').exists()


# --------------------------------------------------------------------------
# cls_report.py


def metrics_json(path, prefix=None):
    """ClsReportMetric's output for 7 samples of 3 classes, as tools/test.py
    writes it; class 2 is never the true class (its AUC is undefined)."""
    metric = ClsReportMetric(classes=['cat', 'dog', 'eel'], prefix=prefix)
    scores = torch.tensor([[.8, .1, .1], [.6, .3, .1], [.2, .7, .1],
                           [.1, .8, .1], [.3, .3, .4], [.5, .4, .1],
                           [.2, .2, .6]])
    gts = [0, 0, 1, 1, 1, 1, 0]
    samples = [
        DataSample().set_gt_label(g).set_pred_score(s)
        for g, s in zip(gts, scores)
    ]
    metric.process(None, [s.to_dict() for s in samples])
    metrics = metric.evaluate(len(samples))
    with open(path, 'w') as f:
        json.dump(metrics, f)
    return {k.rsplit('/', 1)[-1]: v for k, v in metrics.items()}


@pytest.mark.parametrize('prefix', [None, 'test'])
def test_cls_report_tables_and_confusion_png(tmp_path, prefix):
    src = tmp_path / 'm.json'
    metrics = metrics_json(src, prefix)
    assert metrics['auc_per_class'][2] is None
    out = cls_report.main([str(src), '--out-dir', str(tmp_path / 'rep')])

    with open(out['csv']) as f:
        rows = list(csv.DictReader(f))
    assert [r['class'] for r in rows] == ['cat', 'dog', 'eel']
    for i, r in enumerate(rows):
        assert float(r['precision']) == metrics['precision_per_class'][i]
        assert float(r['recall']) == metrics['recall_per_class'][i]
        assert float(r['f1']) == metrics['f1_per_class'][i]
        assert int(r['support']) == metrics['support_per_class'][i]
    assert float(rows[0]['auc']) == metrics['auc_per_class'][0]
    assert rows[2]['auc'] == ''

    md = Path(out['markdown']).read_text()
    table = [line for line in md.splitlines()
             if line.startswith('| ') and line.count('|') == 7]
    assert table[0].startswith('| class | precision')
    assert [line.split('|')[1].strip() for line in table[2:]] == [
        'cat', 'dog', 'eel', '**macro**'
    ]
    dog = table[3].split('|')
    assert dog[2].strip() == f'{metrics["precision_per_class"][1]:.3f}'
    assert dog[6].strip() == str(metrics['support_per_class'][1])
    assert table[4].split('|')[5].strip() == '-'  # eel: AUC undefined
    assert f'| accuracy | {metrics["accuracy"]:.3f} |' in md
    assert 'AUC undefined' in md and 'eel' in md

    width, height = png_size(out['confusion_png'])
    assert width > 300 and height > 300


def test_cls_report_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match='tools/test.py'):
        cls_report.main([str(tmp_path / 'nope.json'), '--out-dir',
                         str(tmp_path)])
    (tmp_path / 'acc.json').write_text(json.dumps({'accuracy/top1': 50.0}))
    with pytest.raises(SystemExit, match="no 'confusion_matrix'.*"
                       'ClsReportMetric'):
        cls_report.main([str(tmp_path / 'acc.json'), '--out-dir',
                         str(tmp_path)])
    metrics = metrics_json(tmp_path / 'm.json')
    metrics['f1_per_class'] = metrics['f1_per_class'][:2]
    (tmp_path / 'short.json').write_text(json.dumps(metrics))
    with pytest.raises(SystemExit, match="'f1_per_class' has 2 entries"):
        cls_report.main([str(tmp_path / 'short.json'), '--out-dir',
                         str(tmp_path)])


# --------------------------------------------------------------------------
# mics_mm.apis.analysis (what feature_pca.py and gradcam.py share)


def test_spread_over_classes_takes_the_classes_in_turn():
    labels = [0, 0, 0, 1, 1, 2]
    assert spread_over_classes(labels, 4) == [0, 1, 3, 5]
    assert spread_over_classes(labels, 2) == [0, 3]
    assert spread_over_classes(labels, None) == list(range(6))
    assert spread_over_classes(labels, 9) == list(range(6))


def test_analysis_config_data_root_and_pipeline(tmp_path):
    cfg = load_analysis_config(FINETUNE_CFG)
    assert config_data_root(cfg) == cfg.test_dataloader.dataset.data_root
    assert config_data_root(Config(dict(data_root='d'))) == 'd'
    assert config_data_root(Config(dict(
        train_dataloader=dict(dataset=dict(labeled=dict(
            data_root='semi')))))) == 'semi'
    types = [t['type'] for t in resize_pipeline(32)]
    assert types == ['LoadMultiModalImages', 'SimulatedNBI',
                     'SharedModalityTransforms', 'PackMultiModalInputs']
    assert 'SimulatedNBI' not in [
        t['type'] for t in resize_pipeline(32, ('wli',))]
    with pytest.raises(SystemExit, match='not found'):
        load_analysis_config(str(tmp_path / 'nope.py'))


def test_analysis_split_batches_and_images(kvasir):
    dataset = build_split(kvasir, 'splits/test.json', resize_pipeline(16),
                          ('wli', 'nbi'))
    labels = labels_of(dataset)
    assert len(labels) == len(dataset) == 8
    batch = next(collate_batches(dataset, [0, 1, 2], 2))
    assert batch['inputs']['wli'].shape == (2, 3, 16, 16)
    assert batch['inputs']['wli'].dtype == torch.uint8
    rgb = to_rgb_image(batch['inputs']['wli'][0])
    assert rgb.shape == (16, 16, 3)
    np.testing.assert_array_equal(
        rgb[..., 0], batch['inputs']['wli'][0][2].numpy())  # BGR -> RGB
    assert to_rgb_image(torch.zeros(1, 4, 4, dtype=torch.uint8)).shape == (
        4, 4, 3)
    with pytest.raises(SystemExit, match='--data-root'):
        build_split(None, 'splits/test.json', [], ('wli', ))


def test_analysis_state_dict(tmp_path):
    weights = {'w': torch.ones(2)}
    torch.save({'state_dict': weights}, tmp_path / 'a.pth')
    assert list(load_analysis_state_dict(str(tmp_path / 'a.pth'))) == ['w']
    torch.save({}, tmp_path / 'empty.pth')
    with pytest.raises(SystemExit, match='holds no state dict'):
        load_analysis_state_dict(str(tmp_path / 'empty.pth'))
    with pytest.raises(SystemExit, match='tools/train.py'):
        load_analysis_state_dict(str(tmp_path / 'nope.pth'))


# --------------------------------------------------------------------------
# feature_pca.py


def test_pca_2d_recovers_a_plane():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(40, 2)) * [3.0, 1.0]
    basis = np.linalg.qr(rng.normal(size=(6, 2)))[0].T  # orthonormal rows
    x = plane @ basis + 5.0
    coords, ratio = feature_pca.pca_2d(x)
    assert ratio.sum() == pytest.approx(1.0)
    assert ratio[0] > ratio[1] > 0
    # A projection onto the plane's own axes keeps every distance.
    d_in = np.linalg.norm(x[:, None] - x[None], axis=2)
    d_out = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.testing.assert_allclose(d_out, d_in, atol=1e-9)
    np.testing.assert_allclose(coords.mean(axis=0), 0, atol=1e-9)
    # Deterministic signs: the same data, the same picture.
    np.testing.assert_array_equal(feature_pca.pca_2d(x)[0], coords)


def test_alignment_scores():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 16))
    same = feature_pca.alignment_scores(a, a.copy())
    assert same['paired_cosine_mean'] == pytest.approx(1.0)
    assert same['retrieval_top1'] == 1.0
    assert same['retrieval_top1_chance'] == pytest.approx(1 / 6)
    # Scale does not matter (cosine); a reversed order matches nobody.
    b = 3.0 * a[::-1]
    rev = feature_pca.alignment_scores(a, b)
    assert rev['retrieval_top1'] == 0.0
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    cos = unit @ unit[::-1].T
    assert rev['paired_cosine_mean'] == pytest.approx(np.trace(cos) / 6)
    off = [cos[i, j] for i in range(6) for j in range(6) if i != j]
    assert rev['unpaired_cosine_mean'] == pytest.approx(np.mean(off))
    assert rev['cosine_gap'] == pytest.approx(
        rev['paired_cosine_mean'] - rev['unpaired_cosine_mean'])


def test_plain_backbone_cfg():
    resnet = feature_pca.plain_backbone_cfg(
        dict(type='MaskedResNet', depth=18, mask_patch_size=16,
             mask_ratio=0.75, norm_cfg=dict(type='SyncBN'),
             init_cfg=dict(type='Pretrained', checkpoint='x.pth')))
    assert resnet == dict(type='ResNet', depth=18, norm_cfg=dict(type='BN'))
    vit = feature_pca.plain_backbone_cfg(
        dict(type='MAEViT', arch='deit-tiny', img_size=64, patch_size=8,
             mask_ratio=0.75))
    assert vit == dict(type='VisionTransformer', arch='deit-tiny',
                       img_size=64, patch_size=8, out_type='raw')
    other = dict(type='ResNet', depth=50)
    assert feature_pca.plain_backbone_cfg(other) == other


def test_plain_encoder_matches_the_pretrained_backbone(mics_ckpt):
    """The plain ResNet built for a MICS checkpoint gives the unmasked
    features of the pre-training model's own MaskedResNet."""
    cfg = Config.fromfile(PRETRAIN_CFG)
    state = torch.load(mics_ckpt, weights_only=False)['state_dict']
    encoders = feature_pca.load_encoders(cfg.model.backbone, state,
                                         {'wli': 'backbone.',
                                          'nbi': 'backbone.'})
    assert encoders['wli'] is encoders['nbi']  # one prefix, one encoder
    assert type(encoders['wli']).__name__ == 'ResNet'
    masked = MODELS.build(dict(cfg.model.backbone))
    masked.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    })
    masked.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(encoders['wli'](x)[-1], masked(x)[-1])


def test_feature_pca_identical_modalities_align_perfectly(
        tmp_path, paired_same, mics_ckpt):
    """NBI images equal to the WLI images give identical features."""
    out = tmp_path / 'pca.png'
    result = feature_pca.main([
        PRETRAIN_CFG, mics_ckpt, '--out',
        str(out), '--data-root', paired_same, '--img-size', '32'
    ])
    assert result['num_images'] == 8 and result['feature_dim'] == 512
    assert result['encoder_prefixes'] == {'wli': 'backbone.',
                                          'nbi': 'backbone.'}
    assert result['paired_cosine_mean'] == pytest.approx(1.0)
    assert result['retrieval_top1'] == 1.0
    assert result['unpaired_cosine_mean'] < 1.0
    assert result['synthetic_data'] is True
    assert png_size(out) == inches_to_px((11, 5.2))
    with open(tmp_path / 'pca.json') as f:
        assert json.load(f)['retrieval_top1'] == 1.0


def test_feature_pca_fine_tuned_encoders_and_simulated_nbi(
        tmp_path, kvasir, finetune_ckpt):
    out = tmp_path / 'pca.png'
    result = feature_pca.main([
        FINETUNE_CFG, finetune_ckpt, '--out',
        str(out), '--data-root', kvasir, '--img-size', '32',
        '--max-images', '5'
    ])
    assert result['encoder_prefixes'] == {
        'wli': 'backbones.wli.',
        'nbi': 'backbones.nbi.'
    }
    assert result['num_images'] == 5
    assert 0.0 <= result['retrieval_top1'] <= 1.0
    assert sum(result['pca_explained_variance_ratio']) <= 1.0 + 1e-9
    assert png_size(out) == inches_to_px((11, 5.2))


def test_feature_pca_clear_errors(tmp_path, kvasir, finetune_ckpt):
    # A fine-tuning checkpoint has no 'backbone.' encoder.
    with pytest.raises(SystemExit, match="under 'backbone.'.*--prefix"):
        feature_pca.main([
            PRETRAIN_CFG, finetune_ckpt, '--out',
            str(tmp_path / 'x.png'), '--data-root', kvasir
        ])
    with pytest.raises(SystemExit, match='make_splits.py'):
        feature_pca.main([
            PRETRAIN_CFG, finetune_ckpt, '--out',
            str(tmp_path / 'x.png'), '--data-root', kvasir, '--split',
            'splits/nope.json'
        ])
    with pytest.raises(SystemExit, match='not found'):
        feature_pca.main([
            PRETRAIN_CFG, str(tmp_path / 'nope.pth'), '--out',
            str(tmp_path / 'x.png'), '--data-root', kvasir
        ])


# --------------------------------------------------------------------------
# gradcam.py

MEAN_STD = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def tiny_classifier(backbone, neck, in_channels):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MICSMultiModalClassifier',
            backbone=backbone,
            neck=neck,
            head=dict(type='MICSDistShiftHead', num_classes=3,
                      in_channels=in_channels),
            data_preprocessor=dict(type='PerModalityDataPreprocessor',
                                   **MEAN_STD)))
    model.init_weights()
    return model.eval()


def test_grad_cam_equals_cam_for_a_linear_head():
    """Concat fusion + linear head on average-pooled maps: Grad-CAM's channel
    weights are the head's weights over h*w, so the normalised map is the
    class activation map relu(sum_c W[t, c] A_c)."""
    model = tiny_classifier(
        dict(type='ResNet', depth=18, base_channels=8, stem_channels=8),
        dict(type='MICSFusionNeck', in_channels=64, mode='concat'), 128)
    torch.manual_seed(1)
    size = 96  # a 3 x 3 last-stage map
    inputs = {m: torch.randn(3, 3, size, size) for m in ('wli', 'nbi')}
    weight = model.head.fc.weight.detach()
    nonzero = 0
    for target in (torch.tensor([2, 0, 1]), torch.tensor([0, 1, 2])):
        cams, _, used = gradcam.grad_cam(model, inputs, target)
        assert used.tolist() == target.tolist()
        for k, m in enumerate(('wli', 'nbi')):
            with torch.no_grad():
                feat = model.backbones[m](inputs[m])[-1]
            assert feat.shape[-2:] == (3, 3)
            w = weight[target, 64 * k:64 * (k + 1)]
            cam = F.relu((w[:, :, None, None] * feat).sum(1, keepdim=True))
            cam = F.interpolate(cam, size=(size, size), mode='bilinear',
                                align_corners=False)[:, 0]
            peak = cam.flatten(1).max(dim=1).values.view(-1, 1, 1)
            cam = torch.where(peak > 0, cam / peak.clamp_min(1e-12), cam)
            assert cams[m].shape == (3, size, size)
            torch.testing.assert_close(cams[m], cam, rtol=1e-4, atol=1e-5)
            nonzero += int((peak > 0).sum())
    assert nonzero >= 6  # of 12 maps: the comparison is not all zeros
    # Default target: the prediction; hooks are removed afterwards.
    _, logits, pred = gradcam.grad_cam(model, inputs)
    assert pred.tolist() == logits.argmax(1).tolist()
    assert not model.backbones['wli']._forward_hooks


def test_grad_cam_vit_uses_tokens_entering_the_last_block():
    vit = dict(
        type='VisionTransformer',
        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64),
        img_size=32, patch_size=8, out_type='cls_token')
    model = tiny_classifier(
        vit, dict(type='MICSFusionNeck', in_channels=32,
                  mode='cross_attention', embed_dims=32, num_heads=2), 32)
    torch.manual_seed(1)
    inputs = {m: torch.randn(2, 3, 32, 32) for m in ('wli', 'nbi')}
    cams, _, _ = gradcam.grad_cam(model, inputs)
    for m in ('wli', 'nbi'):
        assert cams[m].shape == (2, 32, 32)
        assert cams[m].min() >= 0 and cams[m].max() <= 1
        assert (cams[m].flatten(1).max(dim=1).values > 0).all()
    # Why not the tokens leaving the last block: with a class-token output
    # their patch part gets no gradient at all.
    kept = {}

    def keep(module, args, out):
        kept['out'] = out

    handle = model.backbones['wli'].layers[-1].register_forward_hook(keep)
    x = {m: t.clone().requires_grad_(True) for m, t in inputs.items()}
    try:
        logits = model(x, mode='tensor')
        grad = torch.autograd.grad(logits[:, 0].sum(), kept['out'])[0]
    finally:
        handle.remove()
    assert torch.count_nonzero(grad[:, 1:]) == 0


def test_gradcam_tool_grid(tmp_path, kvasir, finetune_ckpt):
    out = tmp_path / 'gradcam.png'
    result = gradcam.main([
        FINETUNE_CFG, finetune_ckpt, '--out',
        str(out), '--data-root', kvasir, '--num-images', '3', '--target',
        'gt'
    ])
    assert len(result['indices']) == 3
    assert len(set(result['gt'])) == 3  # spread over the classes
    assert result['target'] == result['gt']
    for m in ('wli', 'nbi'):
        assert result['cams'][m].shape == (3, 64, 64)  # config's img_size
    assert png_size(out) == inches_to_px(gradcam.figure_size(3, 2))


def test_gradcam_tool_rejects_other_models(tmp_path, kvasir, mics_ckpt):
    with pytest.raises(SystemExit, match='MICSMultiModalClassifier'):
        gradcam.main([
            PRETRAIN_CFG, mics_ckpt, '--out',
            str(tmp_path / 'x.png'), '--data-root', kvasir
        ])


# --------------------------------------------------------------------------
# tools/brainmvp/export_templates.py (also run after a BrainMVP training in
# tests/test_engine/test_brainmvp_training.py) and the simulated-NBI figure
# (tests/test_tools/test_make_demo_kvasir.py)


def test_export_templates_nifti_and_montage(tmp_path):
    torch.manual_seed(0)
    templates = torch.randn(3, 6, 7, 8) * 5 + 2
    ckpt = tmp_path / 'brainmvp.pth'
    torch.save({'state_dict': {'templates.templates': templates}}, ckpt)
    tool = load_tool(osp.join(ROOT, 'tools', 'brainmvp',
                              'export_templates.py'))
    assert tool.main([str(ckpt), '--out', str(tmp_path / 'out')]) == 0
    for name in ('flair', 't1', 't1c'):  # the first 3 modality names
        vol = nib.load(str(tmp_path / 'out' /
                           f'template_{name}.nii.gz')).get_fdata()
        assert vol.shape == (6, 7, 8)
        assert vol.min() == pytest.approx(0) and vol.max() == pytest.approx(1)
    assert not (tmp_path / 'out' / 'template_t2.nii.gz').exists()
    montage = tmp_path / 'out' / 'templates_montage.png'
    width, height = png_size(montage)
    assert width > 200 and height > 200  # 3 x 3 panels of 2 inches at 80 dpi
    with Image.open(montage) as img:
        assert img.mode == 'L'  # grey levels only
    torch.save({'state_dict': {'backbone.x': templates}}, ckpt)
    assert tool.main([str(ckpt), '--out', str(tmp_path / 'out2')]) == 1


# --------------------------------------------------------------------------
# TensorBoard runtime


TINY_TRAIN = """
_base_ = [{runtime!r}]
data_root = {data_root!r}
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root,
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        num_classes=2, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True),
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
val_cfg = dict()
default_hooks = dict(logger=dict(interval=1))
"""


def test_tensorboard_runtime_config_composes():
    cfg = Config.fromfile(TB_RUNTIME)
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'TensorboardVisBackend'
    ]
    assert cfg.default_scope == 'mics_mm'
    assert cfg.custom_imports['imports'] == ['mics_mm']
    # The command-line alternative documented in docs/analysis.md.
    local = Config.fromfile(osp.join(ROOT, 'configs', '_base_',
                                     'default_runtime.py'))
    local.merge_from_dict(
        {'visualizer.vis_backends.0.type': 'TensorboardVisBackend'})
    assert local.visualizer.vis_backends == [
        dict(type='TensorboardVisBackend')
    ]


@pytest.mark.slow
def test_tiny_training_writes_tensorboard_events_and_curves(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    data = tmp_path / 'data'
    rng = np.random.default_rng(0)
    for label in ('a', 'b'):
        (data / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(
                rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(
                    data / label / f'{i}.png')
    config = tmp_path / 'tiny_tb.py'
    config.write_text(TINY_TRAIN.format(runtime=TB_RUNTIME,
                                        data_root=str(data)))
    work = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([
        sys.executable, 'tools/train.py', str(config), '--work-dir',
        str(work)
    ], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    events = glob.glob(str(work / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert len(events) == 1, os.listdir(work)
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert 'loss' in tags and 'accuracy/top1' in tags
    assert len(acc.Scalars('loss')) == 2  # 8 images / batch 4

    summary = plot_curves.main([str(work), '--out', str(tmp_path / 'c.png')])
    assert summary['train'][0] == 'loss' and 'lr' in summary['train']
    assert summary['val'] == ['accuracy/top1']
    assert png_size(tmp_path / 'c.png') == inches_to_px(
        plot_curves.figure_size(len(summary['train']) + 1))


# --------------------------------------------------------------------------
# mim: model-index.yml and setup.py's .mim folder

METHODS = ('mics', 'brainmvp', 'baselines')


def alias_target(path):
    """The config an alias file (``# Alias ...`` + one ``_base_``) names."""
    with open(path) as f:
        text = f.read()
    if not text.startswith('# Alias'):
        return None
    code = [line for line in text.splitlines()
            if line.strip() and not line.startswith('#')]
    assert len(code) == 1 and code[0].startswith('_base_ = '), path
    return osp.normpath(
        osp.join(osp.dirname(path), code[0].split('=', 1)[1].strip()[1:-1]))


def load_index(path):
    from modelindex import load
    index = load(path)
    index.build_models_with_collections()  # as mim does
    return index


def test_model_index_lists_every_config():
    index = load_index(osp.join(ROOT, 'model-index.yml'))
    names = [m.name for m in index.models]
    assert len(names) == len(set(names)), 'model names must be unique'
    listed = set()
    for model in index.models:
        path = osp.join(ROOT, model.config)
        assert osp.isfile(path), f'{model.name}: {model.config} missing'
        assert model.in_collection in {c.name for c in index.collections}
        for name in model.data.get('Downstream') or []:
            assert name in names, f'{model.name}: unknown downstream {name}'
        listed.add(osp.normpath(path))
    for collection in index.collections:
        assert osp.isfile(osp.join(ROOT, collection.readme))
    for method in METHODS:
        for path in glob.glob(osp.join(ROOT, 'configs', method, '**',
                                       '*.py'), recursive=True):
            if '_base_' in path:
                continue
            path = osp.normpath(path)
            target = alias_target(path)
            assert path in listed or target in listed, (
                f'{osp.relpath(path, ROOT)} is not in model-index.yml: add it'
                f' to configs/{method}/metafile.yml')


@pytest.mark.parametrize('mode', ['copy', 'symlink'])
def test_setup_puts_mim_files_into_the_package(tmp_path, mode):
    setup = load_tool(osp.join(ROOT, 'setup.py'))  # setup() is not run
    repo = tmp_path / 'repo'
    (repo / 'mics_mm').mkdir(parents=True)
    for name in setup.MIM_FILES:
        os.symlink(osp.join(ROOT, name), repo / name)
    mim = setup.add_mim_extension(mode=mode, repo=str(repo))
    assert mim == str(repo / 'mics_mm' / '.mim')
    for name in setup.MIM_FILES:
        assert osp.islink(osp.join(mim, name)) == (mode == 'symlink')
    # What mim reads: the index, and every config it names, from .mim.
    index = load_index(osp.join(mim, 'model-index.yml'))
    assert len(index.models) > 30
    for model in index.models:
        assert osp.isfile(osp.join(mim, model.config)), model.config
    assert osp.isfile(osp.join(mim, 'tools', 'train.py'))
    # Re-running replaces the folder's content (no error, no nesting).
    setup.add_mim_extension(mode=mode, repo=str(repo))
    assert not osp.exists(osp.join(mim, 'configs', 'configs'))
