import json
import math
from itertools import product

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

from mics_mm.evaluation import (ClsReportMetric, binary_roc_auc,
                                save_confusion_matrix_png)

# 3 classes, 10 samples; class 2 is never predicted; scores have ties
# between positives and negatives.
GT = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
SCORES = [
    [0.7, 0.2, 0.1],
    [0.6, 0.3, 0.1],
    [0.5, 0.4, 0.1],
    [0.3, 0.6, 0.1],
    [0.2, 0.7, 0.1],
    [0.4, 0.5, 0.1],
    [0.6, 0.3, 0.1],
    [0.5, 0.3, 0.2],
    [0.3, 0.5, 0.2],
    [0.45, 0.35, 0.2],
]
CLASSES = ['polyp', 'normal', 'ulcer']


def _samples(gt=GT, scores=SCORES):
    return [
        DataSample().set_gt_label(g).set_pred_score(torch.tensor(s))
        for g, s in zip(gt, scores)
    ]


def _brute_auc(scores, pos):
    p = [s for s, y in zip(scores, pos) if y]
    n = [s for s, y in zip(scores, pos) if not y]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0
               for a, b in product(p, n))
    return wins / (len(p) * len(n))


def _compute(metric, samples):
    metric.process(None, [s.to_dict() for s in samples])
    return metric.compute_metrics(metric.results)


def test_hand_computed_values():
    res = _compute(ClsReportMetric(classes=CLASSES), _samples())
    assert res['confusion_matrix'] == [[3, 1, 0], [1, 2, 0], [2, 1, 0]]
    assert res['accuracy'] == pytest.approx(0.5)
    assert res['precision_per_class'] == pytest.approx([0.5, 0.5, 0.0])
    assert res['recall_per_class'] == pytest.approx([0.75, 2 / 3, 0.0])
    assert res['f1_per_class'] == pytest.approx([0.6, 4 / 7, 0.0])
    assert res['support_per_class'] == [4, 3, 3]
    assert res['precision_macro'] == pytest.approx(1 / 3)
    assert res['recall_macro'] == pytest.approx(17 / 36)
    assert res['f1_macro'] == pytest.approx((0.6 + 4 / 7) / 3)
    # pairwise counts by hand, ties count 1/2
    auc = [17.5 / 24, 14.5 / 21, 1.0]
    assert res['auc_per_class'] == pytest.approx(auc)
    assert res['auc_macro'] == pytest.approx(sum(auc) / 3)
    assert res['auc_undefined_classes'] == []
    assert res['classes'] == CLASSES
    json.dumps(res)  # plain Python values only


def test_auc_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 30))
        scores = rng.integers(0, 5, n) / 4.0  # many ties
        pos = rng.random(n) < 0.4
        if pos.all() or not pos.any():
            assert binary_roc_auc(scores, pos) is None
            continue
        assert binary_roc_auc(scores, pos) == pytest.approx(
            _brute_auc(scores.tolist(), pos.tolist()))


def test_undefined_auc_class_is_excluded():
    gt = [0, 1, 0, 1]
    scores = [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.4, 0.5, 0.1],
              [0.5, 0.4, 0.1]]
    res = _compute(ClsReportMetric(num_classes=3), _samples(gt, scores))
    assert res['auc_per_class'][2] is None
    assert res['auc_undefined_classes'] == [2]
    assert res['auc_per_class'][0] == pytest.approx(0.75)
    assert res['auc_macro'] == pytest.approx(
        (res['auc_per_class'][0] + res['auc_per_class'][1]) / 2)
    assert res['support_per_class'] == [2, 2, 0]
    assert res['classes'] is None
    assert not any(
        isinstance(v, float) and math.isnan(v) for v in res.values())


def test_evaluator_path_with_dataset_meta():
    evaluator = Evaluator(dict(type='ClsReportMetric'))
    evaluator.dataset_meta = dict(classes=CLASSES)
    samples = _samples()
    evaluator.process(data_samples=samples[:4])
    evaluator.process(data_samples=samples[4:])
    res = evaluator.evaluate(len(samples))
    assert res['accuracy'] == pytest.approx(0.5)
    assert res['classes'] == CLASSES
    assert res['confusion_matrix'][2] == [2, 1, 0]
    prefixed = Evaluator(dict(type='ClsReportMetric', prefix='test'))
    prefixed.process(data_samples=samples)
    assert prefixed.evaluate(len(samples))['test/accuracy'] == 0.5


def test_process_accepts_data_sample_objects():
    metric = ClsReportMetric(prefix='x')
    metric.process(None, _samples())
    res = metric.compute_metrics(metric.results)
    assert res['accuracy'] == pytest.approx(0.5)


def test_confusion_matrix_png(tmp_path):
    path = save_confusion_matrix_png([[3, 1, 0], [1, 2, 0], [2, 1, 0]],
                                     CLASSES, tmp_path / 'sub' / 'cm.png',
                                     title='demo')
    with open(path, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(ValueError):
        save_confusion_matrix_png([[1, 2]], CLASSES, tmp_path / 'bad.png')
