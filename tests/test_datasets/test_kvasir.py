"""Tests of KvasirDataset: layouts, pairing, ann_file and bad input."""
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest

import mics_mm  # noqa: F401  (registers the dataset)
from mics_mm.datasets import KvasirDataset
from mics_mm.structures import KVASIR_CLASSES


def _img(path, value=0, size=8):
    """Write a tiny image (``value`` fills it, so files are told apart)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full((size, size, 3), value, np.uint8))
    return str(path)


def _kvasir_tree(root, counts):
    """``root/<class>/<i>.jpg`` for ``counts = {class: n}``."""
    for cls, n in counts.items():
        for i in range(n):
            _img(osp.join(root, cls, f'{i:03d}.jpg'), value=i)
    return str(root)


def _paired_tree(root, split, counts, names=('{i:03d}_wli', '{i:03d}_nbi'),
                 mods=('WLI', 'NBI')):
    """``root/<split>/<class>_<MOD>/...`` with one name template per
    modality."""
    for cls, n in counts.items():
        for mod, template in zip(mods, names):
            for i in range(n):
                _img(
                    osp.join(root, split, f'{cls}_{mod}',
                             template.format(i=i) + '.png'),
                    value=10 * i + (mod == 'NBI'))
    return str(root)


def _m(path):
    """Regex matching ``path`` literally."""
    return re.escape(str(path))


# ----------------------------------------------------------------- layouts
def test_kvasir_layout(tmp_path):
    root = _kvasir_tree(tmp_path / 'kv', {'polyps': 3, 'esophagitis': 2})
    (tmp_path / 'kv' / 'polyps' / 'notes.txt').write_text('not an image')
    (tmp_path / 'kv' / 'README.md').write_text('top-level file')
    _img(tmp_path / 'kv' / 'splits' / 'x.png')  # split folder: ignored
    _img(tmp_path / 'kv' / '.cache' / 'x.png')  # hidden: ignored
    ds = KvasirDataset(data_root=root)
    assert len(ds) == 5
    assert ds.metainfo['classes'] == ('esophagitis', 'polyps')
    assert ds.metainfo['modalities'] == ('wli', 'nbi')
    assert ds.source_layout == 'kvasir'
    assert ds.get_gt_labels().tolist() == [0, 0, 1, 1, 1]
    info = ds.get_data_info(2)
    assert info['img_path'] == {
        'wli': osp.join(osp.abspath(root), 'polyps', '000.jpg')
    }
    assert osp.isabs(info['img_path']['wli'])
    assert info['gt_label'] == 1
    assert info['modalities'] == ('wli', 'nbi')
    assert info['sample_idx'] == 2
    assert set(info) == {'img_path', 'gt_label', 'modalities', 'sample_idx'}


def test_kvasir_given_classes_order(tmp_path):
    root = _kvasir_tree(tmp_path, {'polyps': 1, 'esophagitis': 1})
    ds = KvasirDataset(
        data_root=root, classes=KVASIR_CLASSES, modalities=('wli', ))
    assert ds.metainfo['classes'] == KVASIR_CLASSES
    labels = {
        osp.basename(osp.dirname(ds.get_data_info(i)['img_path']['wli'])):
        ds.get_data_info(i)['gt_label']
        for i in range(len(ds))
    }
    assert labels == {'esophagitis': 2, 'polyps': 6}
    assert ds.get_data_info(0)['modalities'] == ('wli', )


def test_three_modalities_kvasir_has_first_only(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 2})
    ds = KvasirDataset(data_root=root, modalities=('wli', 'nbi', 'lci'))
    info = ds.get_data_info(0)
    assert list(info['img_path']) == ['wli']
    assert info['modalities'] == ('wli', 'nbi', 'lci')


def test_paired_layout_by_name(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'polyps': 3, 'normal': 2})
    _paired_tree(tmp_path, 'test', {'polyps': 1, 'zeta': 1})
    ds = KvasirDataset(data_root=root, split='train')
    assert ds.source_layout == 'paired'
    # classes come from all split folders, so labels agree between splits
    assert ds.metainfo['classes'] == ('normal', 'polyps', 'zeta')
    assert len(ds) == 5
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        wli, nbi = info['img_path']['wli'], info['img_path']['nbi']
        assert osp.basename(wli).replace('_wli', '') == \
            osp.basename(nbi).replace('_nbi', '')
        assert osp.dirname(wli).endswith('_WLI')
        assert osp.dirname(nbi).endswith('_NBI')
        cls = osp.basename(osp.dirname(wli))[:-len('_WLI')]
        assert ds.metainfo['classes'][info['gt_label']] == cls
    test = KvasirDataset(data_root=root, split='test')
    assert test.metainfo['classes'] == ds.metainfo['classes']
    assert sorted(test.get_gt_labels().tolist()) == [1, 2]


def test_paired_name_equal_stems_and_mixed_case(tmp_path):
    root = _paired_tree(
        tmp_path, 'train', {'a': 3}, names=('{i}', 'NBI-{i}'))
    ds = KvasirDataset(data_root=root)
    pairs = [(osp.basename(ds.get_data_info(i)['img_path']['wli']),
              osp.basename(ds.get_data_info(i)['img_path']['nbi']))
             for i in range(len(ds))]
    assert pairs == [('0.png', 'NBI-0.png'), ('1.png', 'NBI-1.png'),
                     ('2.png', 'NBI-2.png')]


def test_paired_by_order(tmp_path):
    root = _paired_tree(
        tmp_path, 'train', {'a': 3}, names=('w{i}', 'n{i}'))
    with pytest.raises(ValueError, match="pairing='order'"):
        KvasirDataset(data_root=root)
    ds = KvasirDataset(data_root=root, pairing='order')
    pairs = [(osp.basename(ds.get_data_info(i)['img_path']['wli']),
              osp.basename(ds.get_data_info(i)['img_path']['nbi']))
             for i in range(len(ds))]
    assert pairs == [('w0.png', 'n0.png'), ('w1.png', 'n1.png'),
                     ('w2.png', 'n2.png')]


def test_explicit_layout_kvasir_on_paired_tree_fails(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 1})
    with pytest.raises(ValueError, match='contains sub-folders'):
        KvasirDataset(data_root=root, layout='kvasir')
    assert len(KvasirDataset(data_root=root, layout='paired')) == 1


# ---------------------------------------------------------------- ann_file
def _write_ann(path, data_list, classes=('a', 'b'), mods=('wli', 'nbi')):
    with open(path, 'w') as f:
        json.dump(
            dict(
                metainfo=dict(classes=list(classes), modalities=list(mods)),
                data_list=data_list), f)
    return str(path)


def test_ann_file(tmp_path):
    root = _kvasir_tree(tmp_path / 'kv', {'a': 2, 'b': 1})
    os.makedirs(tmp_path / 'kv' / 'splits')
    abs_b = osp.join(root, 'b', '000.jpg')
    _write_ann(tmp_path / 'kv' / 'splits' / 'train.json', [
        dict(img_path=dict(wli='a/001.jpg'), gt_label=0),
        dict(img_path=dict(wli=abs_b), gt_label=1),
    ])
    ds = KvasirDataset(data_root=root, ann_file='splits/train.json')
    assert ds.source_layout == 'ann_file'
    assert len(ds) == 2
    assert ds.metainfo['classes'] == ('a', 'b')
    assert ds.get_data_info(0)['img_path'] == {
        'wli': osp.join(osp.abspath(root), 'a', '001.jpg')
    }
    assert ds.get_data_info(1)['img_path'] == {'wli': abs_b}
    assert ds.get_gt_labels().tolist() == [0, 1]
    assert ds.get_data_info(1)['modalities'] == ('wli', 'nbi')
    # given classes re-map the file's labels by name
    ds = KvasirDataset(
        data_root=root, ann_file='splits/train.json', classes=('b', 'x', 'a'))
    assert ds.get_gt_labels().tolist() == [2, 0]
    # an absolute ann_file works too
    ds = KvasirDataset(
        data_root=root, ann_file=str(tmp_path / 'kv' / 'splits/train.json'))
    assert len(ds) == 2


def test_ann_file_paired_entries(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 1})
    ann = _write_ann(
        tmp_path / 'ann.json',
        [dict(img_path=dict(wli='train/a_WLI/000_wli.png',
                            nbi='train/a_NBI/000_nbi.png'), gt_label=0)],
        classes=('a', ))
    ds = KvasirDataset(data_root=root, ann_file=ann)
    assert set(ds.get_data_info(0)['img_path']) == {'wli', 'nbi'}


def test_build_from_registry(tmp_path):
    from mics_mm.registry import DATASETS
    root = _kvasir_tree(tmp_path, {'a': 2, 'b': 2})
    ds = DATASETS.build(
        dict(type='KvasirDataset', data_root=root, split=None))
    assert isinstance(ds, KvasirDataset)
    assert len(ds) == 4


def test_pipeline_receives_contract(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    seen = []

    def record(results):
        seen.append(dict(results))
        return results

    ds = KvasirDataset(data_root=root, pipeline=[record])
    ds[0]
    assert seen[0]['modalities'] == ('wli', 'nbi')
    assert seen[0]['gt_label'] == 0
    assert seen[0]['img_path']['wli'].endswith(osp.join('a', '000.jpg'))


def test_lazy_init_defers_errors(tmp_path):
    missing = tmp_path / 'nope'
    ds = KvasirDataset(data_root=str(missing), lazy_init=True)
    with pytest.raises(FileNotFoundError, match=_m(missing)):
        ds.full_init()


# --------------------------------------------------------------- bad input
def test_missing_data_root(tmp_path):
    missing = tmp_path / 'no_such_dir'
    with pytest.raises(FileNotFoundError) as info:
        KvasirDataset(data_root=str(missing))
    msg = str(info.value)
    assert msg.startswith('KvasirDataset: ')
    assert str(missing) in msg
    assert 'https://datasets.simula.no/kvasir/' in msg
    assert 'train_dataloader.dataset.data_root=DIR' in msg
    assert 'make demo' in msg
    assert 'tools/data/make_demo_kvasir.py --out data/kvasir_demo_synthetic' \
        in msg
    with pytest.raises(FileNotFoundError, match='data_root is empty'):
        KvasirDataset()


def test_no_class_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match='no class folders found'):
        KvasirDataset(data_root=str(tmp_path))


def test_missing_split_folder_lists_available(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 1})
    _paired_tree(tmp_path, 'test', {'a': 1})
    with pytest.raises(FileNotFoundError) as info:
        KvasirDataset(data_root=root, split='val')
    msg = str(info.value)
    assert osp.join(root, 'val') in msg
    assert "['test', 'train']" in msg


def test_missing_nbi_folder(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 1})
    _img(tmp_path / 'train' / 'b_WLI' / '0.png')
    with pytest.raises(ValueError,
                       match=_m(osp.join(root, 'train', 'b_NBI'))):
        KvasirDataset(data_root=root)
    # and vice versa
    root2 = _paired_tree(tmp_path / 'r2', 'train', {'a': 1})
    _img(tmp_path / 'r2' / 'train' / 'c_NBI' / '0.png')
    with pytest.raises(ValueError,
                       match=_m(osp.join(root2, 'train', 'c_WLI'))):
        KvasirDataset(data_root=root2)


def test_unequal_counts_by_name(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 3})
    os.remove(tmp_path / 'train' / 'a_NBI' / '001_nbi.png')
    with pytest.raises(ValueError) as info:
        KvasirDataset(data_root=root)
    msg = str(info.value)
    assert msg.startswith('KvasirDataset: ')
    assert osp.join(root, 'train', 'a_WLI') in msg
    assert osp.join(root, 'train', 'a_NBI') in msg
    assert '001_wli.png' in msg
    assert "pairing='order'" not in msg  # counts differ: order cannot help
    with pytest.raises(ValueError, match='needs equal image counts'):
        KvasirDataset(data_root=root, pairing='order')


def test_unmatched_names_lists_at_most_five(tmp_path):
    root = _paired_tree(
        tmp_path, 'train', {'a': 7}, names=('w{i}', 'n{i}'))
    with pytest.raises(ValueError) as info:
        KvasirDataset(data_root=root)
    msg = str(info.value)
    assert 'w4.png' in msg and 'w5.png' not in msg
    assert "pass pairing='order'" in msg


def test_unknown_class_folder(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1, 'extra': 1})
    with pytest.raises(ValueError) as info:
        KvasirDataset(data_root=root, classes=('a', 'b'))
    msg = str(info.value)
    assert osp.join(root, 'extra') in msg
    assert "('a', 'b')" in msg and 'classes=' in msg
    proot = _paired_tree(tmp_path / 'p', 'train', {'a': 1, 'extra': 1})
    with pytest.raises(ValueError, match=_m(osp.join(proot, 'train'))):
        KvasirDataset(data_root=proot, classes=('a', ))


def test_empty_class_folder(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    os.makedirs(tmp_path / 'b')
    (tmp_path / 'b' / 'readme.txt').write_text('no images here')
    with pytest.raises(ValueError,
                       match=_m(osp.join(root, 'b')) + '.*no image files'):
        KvasirDataset(data_root=root)
    proot = _paired_tree(tmp_path / 'p', 'train', {'a': 1})
    for f in os.listdir(osp.join(proot, 'train', 'a_NBI')):
        os.remove(osp.join(proot, 'train', 'a_NBI', f))
    with pytest.raises(ValueError,
                       match=_m(osp.join(proot, 'train', 'a_NBI'))):
        KvasirDataset(data_root=proot)


def test_folder_without_modality_suffix(tmp_path):
    root = _paired_tree(tmp_path, 'train', {'a': 1})
    _img(tmp_path / 'train' / 'stray' / '0.png')
    with pytest.raises(ValueError,
                       match=_m(osp.join(root, 'train', 'stray'))):
        KvasirDataset(data_root=root)


def test_paired_folders_without_split_level(tmp_path):
    _img(tmp_path / 'a_WLI' / '0.png')
    _img(tmp_path / 'a_NBI' / '0.png')
    with pytest.raises(ValueError, match='not inside a split folder'):
        KvasirDataset(data_root=str(tmp_path))


def test_ann_file_missing(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    with pytest.raises(FileNotFoundError) as info:
        KvasirDataset(data_root=root, ann_file='splits/train.json')
    msg = str(info.value)
    assert osp.join(root, 'splits/train.json') in msg
    assert f'python tools/data/make_splits.py --data-root {root}' in msg


def test_ann_file_empty(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    ann = _write_ann(tmp_path / 'empty.json', [])
    with pytest.raises(ValueError, match=_m(ann) + '.*no samples'):
        KvasirDataset(data_root=root, ann_file=ann)


def test_ann_file_missing_image(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    ann = _write_ann(tmp_path / 'ann.json',
                     [dict(img_path=dict(wli='a/gone.jpg'), gt_label=0)])
    with pytest.raises(FileNotFoundError,
                       match=_m(osp.join(root, 'a', 'gone.jpg'))):
        KvasirDataset(data_root=root, ann_file=ann)


def test_ann_file_unknown_modality(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    ann = _write_ann(tmp_path / 'ann.json',
                     [dict(img_path=dict(lci='a/000.jpg'), gt_label=0)])
    with pytest.raises(ValueError, match=_m(ann) + ".*modality 'lci'"):
        KvasirDataset(data_root=root, ann_file=ann)


def test_ann_file_bad_label_and_class(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 1})
    ann = _write_ann(tmp_path / 'ann.json',
                     [dict(img_path=dict(wli='a/000.jpg'), gt_label=5)])
    with pytest.raises(ValueError, match='gt_label=5'):
        KvasirDataset(data_root=root, ann_file=ann)
    ann = _write_ann(tmp_path / 'ann2.json',
                     [dict(img_path=dict(wli='a/000.jpg'), gt_label=1)])
    with pytest.raises(ValueError, match="class 'b'"):
        KvasirDataset(data_root=root, ann_file=ann, classes=('a', ))


def test_verify_images(tmp_path):
    root = _kvasir_tree(tmp_path, {'a': 2})
    ds = KvasirDataset(data_root=root)
    ds.verify_images()  # all fine
    bad = tmp_path / 'a' / '001.jpg'
    bad.write_bytes(b'definitely not a jpeg')
    with pytest.raises(ValueError, match="cannot decode image '" + _m(bad)):
        ds.verify_images()


@pytest.mark.parametrize('kwargs, match', [
    (dict(modalities=('WLI', 'nbi')), 'lower-case'),
    (dict(modalities=('wli', 'wli')), 'repeated'),
    (dict(modalities=()), 'empty'),
    (dict(layout='flat'), 'layout='),
    (dict(pairing='random'), 'pairing='),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match='^KvasirDataset: .*' + match):
        KvasirDataset(data_root=str(tmp_path), **kwargs)
