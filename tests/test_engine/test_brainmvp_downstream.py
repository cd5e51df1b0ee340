"""BrainMVP downstream, end to end on the real-brain demo set (MNI152 from
nilearn's package data, at 4 mm): the data tool, 2D pre-training through
tools/train.py, the hand-over of its encoder and templates to an mmseg
EncoderDecoder (which keys load), segmentation fine-tuning and testing
through tools/train.py / tools/test.py and mmseg's own train.py, and
classification through mmpretrain's ImageClassifier."""
import json
import os.path as osp
import sys

import cv2
import nibabel as nib
import numpy as np
import pytest
from reliability_helpers import run_tool
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mics_mm.testing.brain_demo import find_mni152, make_brain_demo
from mics_mm.structures import TISSUE_CLASSES

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = 'configs/brainmvp/pretrain_brain_demo.py'
BENCH = 'configs/brainmvp/benchmarks/'
SEG_PRE = BENCH + 'upernet_resnet18_brainmvp-pre_1xb8-300it_brain-demo-96px.py'
SEG_SCRATCH = BENCH + 'upernet_resnet18_1xb8-300it_brain-demo-96px.py'
CLS = BENCH + 'uniformer-s_brainmvp-pre_8xb4-coslr-100e_brats-cls-96px.py'


def run(cmd):
    return run_tool(cmd)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('brain') / 'demo'
    make_brain_demo(str(root), subjects=5, factor=4, labelled=2, held_out=1,
                    itk_dir=None)
    return str(root)


# ------------------------------------------------------------ the data
def test_demo_set_from_the_real_template(demo, tmp_path):
    prov = json.load(open(osp.join(demo, 'provenance.json')))
    assert prov['canvas'] == [49, 58, 47] and prov['voxel_mm'] == 4
    assert prov['splits'] == dict(
        pretrain=['sub000', 'sub001', 'sub002'],
        seg_train=['sub000', 'sub001'],
        seg_val=['sub003'],
        seg_test=['sub004'])
    # sub000's T1 is the MNI152 T1 itself, block-averaged
    mni = nib.as_closest_canonical(nib.load(find_mni152()['t1']))
    ref = np.asarray(mni.dataobj, np.float32)[:196, :232, :188] / 255
    ref = ref.reshape(49, 4, 58, 4, 47, 4).mean(axis=(1, 3, 5))
    t1 = nib.load(osp.join(demo, 'sub000', 'sub000_t1.nii.gz')).get_fdata()
    np.testing.assert_allclose(t1, ref, atol=1e-5)
    # derived subjects differ from it; labels are the 4 tissue classes
    t1b = nib.load(osp.join(demo, 'sub001', 'sub001_t1.nii.gz')).get_fdata()
    assert np.abs(t1b - t1).mean() > 0.01
    seg = nib.load(osp.join(demo, 'sub001', 'sub001_seg.nii.gz')).get_fdata()
    counts = np.bincount(seg.astype(int).ravel(), minlength=4)
    assert len(counts) == len(TISSUE_CLASSES) and (counts > 0).all()
    brain = counts[1:].sum()
    assert counts[2] > 0.2 * brain and counts[3] > 0.2 * brain  # GM, WM
    # the segmentation splits give the T1 only; SIMULATED is said
    for split in ('seg_train', 'seg_val', 'seg_test'):
        for item in json.load(open(osp.join(demo, split + '.json'))):
            assert set(item['images']) == {'t1'} and 'label' in item
    pre = json.load(open(osp.join(demo, 'pretrain.json')))
    assert all(set(i['images']) == {'t1', 't2', 'pd', 'flair'} for i in pre)
    assert 'SIMULATED' in open(osp.join(demo, 'README.txt')).read()
    with pytest.raises(FileExistsError, match='already holds'):
        make_brain_demo(demo, subjects=5, factor=4, labelled=2, held_out=1)


def test_brainweb_slice_placed_at_its_level(tmp_path):
    """A T1 / PD pair cut from the MNI T1 at a known level is found there."""
    mni = nib.as_closest_canonical(nib.load(find_mni152()['t1']))
    vol = np.asarray(mni.dataobj, np.float32)
    level = 100  # 1 mm
    png = vol[8:189, 8:225, level].T  # rows = y, cols = x, 181 x 217 grid
    itk = tmp_path / 'itk'
    itk.mkdir()
    for name in ('BrainT1Slice.png', 'BrainProtonDensitySlice.png'):
        cv2.imwrite(str(itk / name), png.astype(np.uint8))
    out = tmp_path / 'demo'
    record = make_brain_demo(str(out), subjects=3, factor=4, labelled=1,
                             held_out=1, itk_dir=str(itk))
    info = record['sources']['brainweb']
    assert info['layout'] == 'T' and info['correlation'] > 0.95
    assert abs(info['axial_level'] - level // 4) <= 1
    assert 'brainweb' in record['splits']['pretrain']
    pd = nib.load(str(out / 'brainweb' / 'brainweb_pd.nii.gz')).get_fdata()
    assert np.flatnonzero(pd.any(axis=(0, 1))).tolist() == [
        info['axial_level']
    ]


# ------------------------------------------------ pre-train and hand over
def inflated(pretrained, own):
    """What InflatedPretrained loads: the tensor, or a 1-channel input
    kernel repeated over ``own``'s channels and divided by their number."""
    if pretrained.shape == own.shape:
        return pretrained
    channels = own.shape[1]
    return pretrained.repeat(1, channels,
                             *([1] * (pretrained.dim() - 2))) / channels


TINY_PRE = [
    'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
    'model.recon_neck.in_channels=128',
    'model.recon_neck.channels=[32,16,16,8,8]', 'model.neck.in_channels=128',
    'model.neck.hid_channels=32', 'model.neck.out_channels=16',
    'model.templates.canvas=[49,58,47]',
    'train_dataloader.dataset.times=2', 'train_dataloader.batch_size=3',
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.dataset.pipeline.3.size=[32,32]',
    'train_dataloader.dataset.dataset.pipeline.0.transforms.1.pixdim=[4,4,4]',
    'train_dataloader.dataset.dataset.pipeline.0.transforms.2.canvas='
    '[49,58,47]',
    'train_cfg.max_epochs=2', 'custom_hooks.0.cmr_start=1',
    'custom_hooks.0.cl_start=1',
    'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
    'param_scheduler.1.end=2', 'default_hooks.checkpoint.interval=2'
]


@pytest.fixture(scope='module')
def pretrained(demo, tmp_path_factory):
    work = tmp_path_factory.mktemp('pre')
    log = run([
        sys.executable, 'tools/train.py', PRETRAIN, '--work-dir',
        str(work), '--cfg-options',
        f'train_dataloader.dataset.dataset.data_root={demo}', *TINY_PRE
    ])
    assert 'loss_md' in log and 'loss_cl' in log
    return str(work / 'epoch_2.pth')


def tiny_seg(demo, ckpt=None, head='upernet'):
    opts = [
        'model.backbone.base_channels=16', 'model.backbone.stem_channels=16',
        'train_dataloader.batch_size=2', 'val_dataloader.batch_size=4',
        'test_dataloader.batch_size=4', 'train_cfg.max_iters=4',
        'train_cfg.val_interval=4', 'param_scheduler.0.end=2',
        'param_scheduler.1.begin=2', 'param_scheduler.1.end=4',
        'default_hooks.checkpoint.interval=4',
        'train_dataloader.dataset.pipeline.2.size=[32,32]',
        'val_dataloader.dataset.pipeline.2.size=[64,64]',
        'test_dataloader.dataset.pipeline.2.size=[64,64]'
    ]
    if head == 'upernet':
        opts += ['model.decode_head.in_channels=[16,32,64,128]',
                 'model.decode_head.channels=16']
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={demo}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False'
        ]
    if ckpt:
        opts += [
            f'model.backbone.init_cfg.checkpoint={ckpt}',
            f'model.data_preprocessor.templates={ckpt}'
        ]
    return opts


def test_mmseg_encoder_decoder_takes_the_brainmvp_encoder(demo, pretrained):
    """Every backbone tensor comes from the checkpoint's 'backbone.' keys,
    no more, no fewer; the decode head is not in the checkpoint."""
    import mics_mm.seg  # noqa: F401
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, SEG_PRE))
    cfg.model.backbone.update(base_channels=16, stem_channels=16)
    cfg.model.backbone.init_cfg.checkpoint = pretrained
    cfg.model.decode_head.update(in_channels=[16, 32, 64, 128], channels=16)
    state = torch.load(pretrained, weights_only=False)['state_dict']
    encoder = {
        k[len('backbone.'):]: v
        for k, v in state.items() if k.startswith('backbone.')
    }
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        model.init_weights()
    own = model.backbone.state_dict()
    assert set(own) == set(encoder)
    for key, value in own.items():
        assert torch.equal(value, inflated(encoder[key], value)), key
    # the one-channel stem of the pre-training, inflated to 4 modalities
    assert encoder['conv1.weight'].shape[1] == 1
    assert own['conv1.weight'].shape[1] == 4
    assert not any(k.startswith('decode_head.') for k in state)
    changed = [k for k in own if not torch.equal(before['backbone.' + k],
                                                  own[k])]
    assert len(changed) > 0.5 * len(own)
    # a checkpoint without templates cannot fill missing modalities
    assert 'templates.templates' in state


def test_segmentation_finetune_and_test_through_the_tools(
        demo, pretrained, tmp_path):
    work = tmp_path / 'seg'
    log = run([
        sys.executable, 'tools/train.py', SEG_PRE, '--work-dir',
        str(work), '--cfg-options', *tiny_seg(demo, pretrained)
    ])
    assert "inflated input kernels: ['conv1.weight']" in log
    assert 'decode.loss_dice' in log
    assert 'mDice' in log
    out = tmp_path / 'metrics.json'
    run([
        sys.executable, 'tools/test.py', SEG_PRE,
        str(work / 'iter_4.pth'), '--work-dir',
        str(work), '--out',
        str(out), '--cfg-options', *tiny_seg(demo, pretrained)
    ])
    metrics = json.loads(out.read_text())
    assert metrics['num_cases'] == 1  # sub004, all its slices together
    for name in TISSUE_CLASSES:
        assert 0.0 <= metrics[f'Dice.{name}'] <= 1.0
    assert 0.0 <= metrics['mDice'] <= 1.0


@pytest.mark.parametrize('head', ['fcn', 'unet'])
def test_other_decode_heads_train(demo, pretrained, tmp_path, head):
    config = BENCH + f'{head}_resnet18_brainmvp-pre_1xb8-300it_brain-demo-96px.py'
    opts = tiny_seg(demo, pretrained, head=head)
    if head == 'fcn':
        opts += ['model.decode_head.in_channels=128']
    else:
        opts += ['model.decode_head.in_channels=[16,32,64,128]']
    opts += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
             'default_hooks.checkpoint.interval=2',
             'param_scheduler.1.end=2', 'param_scheduler.0.end=1',
             'param_scheduler.1.begin=1']
    log = run([
        sys.executable, 'tools/train.py', config, '--work-dir',
        str(tmp_path), '--cfg-options', *opts
    ])
    assert 'decode.loss_ce' in log and 'mDice' in log


def test_mmseg_packaged_train_runs_the_scratch_config(demo, tmp_path):
    import mmseg
    script = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                      'train.py')
    assert osp.isfile(script)
    log = run([
        sys.executable, script, SEG_SCRATCH, '--work-dir',
        str(tmp_path), '--cfg-options', *tiny_seg(demo)
    ])
    assert 'decode.loss_ce' in log and 'mDice' in log


# ------------------------------------------------------------ classification
@pytest.fixture(scope='module')
def cls_root(tmp_path_factory):
    """Labelled studies: class 1 has a bright blob, class 0 has not."""
    root = tmp_path_factory.mktemp('cls')
    rng = np.random.default_rng(0)
    items = []
    for i in range(8):
        case, label = f'c{i}', i % 2
        (root / case).mkdir()
        for mod in ('t1', 'flair'):
            vol = np.zeros((20, 20, 20), np.float32)
            vol[2:18, 2:18, 2:18] = 1 + rng.random((16, 16, 16))
            if label:
                vol[6:12, 6:12, 6:12] = 6
            nib.save(nib.Nifti1Image(vol, np.eye(4)),
                     str(root / case / f'{case}_{mod}.nii.gz'))
        items.append(
            dict(case=case,
                 images={'t1': f'{case}/{case}_t1.nii.gz',
                         'flair': f'{case}/{case}_flair.nii.gz'},
                 gt_label=['LGG', 'HGG'][label]))
    for split in ('train', 'val', 'test'):
        (root / f'cls_{split}.json').write_text(json.dumps(items))
    return str(root)


def _brainmvp_3d_checkpoint(path):
    """A BrainMVP 3D checkpoint (tiny UniFormer, 20^3 canvas), untrained."""
    from mics_mm.registry import MODELS
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/brainmvp/pretrain_brats.py')).model
    cfg.backbone.arch = 'tiny'
    cfg.recon_neck.update(in_channels=128, channels=[32, 16, 16, 8, 8])
    cfg.neck.update(in_channels=128, hid_channels=32, out_channels=16)
    cfg.templates.canvas = (20, 20, 20)
    with DefaultScope.overwrite_default_scope('mics_mm'):
        model = MODELS.build(cfg)
        model.init_weights()
    torch.save(dict(state_dict=model.state_dict()), path)
    return model


def test_classification_through_mmpretrain(cls_root, tmp_path):
    ckpt = tmp_path / 'brainmvp3d.pth'
    brainmvp = _brainmvp_3d_checkpoint(ckpt)
    opts = [
        'model.backbone.arch=tiny', 'model.head.in_channels=128',
        f'model.backbone.init_cfg.checkpoint={ckpt}',
        f'model.data_preprocessor.templates={ckpt}', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
        'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
        'param_scheduler.1.end=2'
    ]
    for loader in ('train', 'val', 'test'):
        opts += [
            f'{loader}_dataloader.dataset.data_root={cls_root}',
            f'{loader}_dataloader.num_workers=0',
            f'{loader}_dataloader.persistent_workers=False',
            f'{loader}_dataloader.batch_size=4',
            f'{loader}_dataloader.dataset.pipeline.4.size=32'
        ]
    # the hand-over: the classifier's encoder is the BrainMVP encoder
    from mics_mm.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, CLS))
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    cfg.model.data_preprocessor.templates = str(ckpt)
    cfg.model.backbone.arch = 'tiny'
    cfg.model.head.in_channels = 128
    with DefaultScope.overwrite_default_scope('mics_mm'):
        clf = MODELS.build(cfg.model)
        clf.init_weights()
    ref = brainmvp.backbone.state_dict()
    own = clf.backbone.state_dict()
    assert set(own) == set(ref)
    assert all(torch.equal(own[k], inflated(ref[k], own[k])) for k in own)
    # ... and it trains and tests through the tools (t1c, t2 missing:
    # filled from the templates)
    work = tmp_path / 'cls'
    log = run([
        sys.executable, 'tools/train.py', CLS, '--work-dir',
        str(work), '--cfg-options', *opts
    ])
    assert 'loss' in log and 'accuracy' in log
    out = tmp_path / 'm.json'
    run([
        sys.executable, 'tools/test.py', CLS,
        str(work / 'epoch_2.pth'), '--work-dir',
        str(work), '--out',
        str(out), '--cfg-options', *opts
    ])
    metrics = json.loads(out.read_text())
    assert 0 <= metrics['accuracy'] <= 1 and 'auc_macro' in metrics
