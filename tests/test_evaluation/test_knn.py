"""Weighted kNN (InstDisc / DINO protocol) on tiny hand-computed cases."""
import math

import numpy as np
import pytest
import torch

from mics_mm.evaluation import knn_accuracy, knn_classify

# q = (1, 0): a = (1, 0) [label 0] has cosine 1; c1 = (0.6, 0.8) and
# c2 = (0.6, -0.8) [label 1] have cosine 0.6 each.
TRAIN = [[1.0, 0.0], [0.6, 0.8], [0.6, -0.8]]
LABELS = [0, 1, 1]
QUERY = [[1.0, 0.0]]


def test_k1_takes_the_nearest():
    # q = (0.8, 0.6): cosines a 0.8, c1 0.96, c2 0.0 -> c1 (label 1)
    assert knn_classify(TRAIN, LABELS, [[0.8, 0.6]], k=1).tolist() == [1]
    # q = (0.8, -0.6): c2 is nearest -> 1; q = (1, 0.1): a -> 0
    assert knn_classify(TRAIN, LABELS, [[0.8, -0.6], [1, 0.1]],
                        k=1).tolist() == [1, 0]


def test_temperature_weighting_by_hand():
    # T = 0.07: class 0 gets exp(1/0.07) = e^14.29, class 1 gets
    # 2 exp(0.6/0.07) = 2 e^8.57 -> class 0 (one close neighbour wins).
    assert math.exp(1 / 0.07) > 2 * math.exp(0.6 / 0.07)
    assert knn_classify(TRAIN, LABELS, QUERY, k=3).tolist() == [0]
    # T = 1: e^1 = 2.72 < 2 e^0.6 = 3.64 -> class 1 (the majority wins).
    assert math.exp(1) < 2 * math.exp(0.6)
    assert knn_classify(TRAIN, LABELS, QUERY, k=3,
                        temperature=1.0).tolist() == [1]
    # k = 1 ignores c1, c2 whatever the temperature
    assert knn_classify(TRAIN, LABELS, QUERY, k=1,
                        temperature=1.0).tolist() == [0]


def test_features_are_l2_normalised_inside():
    train = np.asarray(TRAIN) * np.array([[5.0], [0.1], [0.1]])
    assert knn_classify(train, LABELS, [[3.0, 0.0]], k=3,
                        temperature=1.0).tolist() == [1]
    assert knn_classify(torch.tensor(train), torch.tensor(LABELS),
                        torch.tensor([[30.0, 0.0]]), k=3).tolist() == [0]


def test_class_ties_go_to_the_lowest_index():
    # q = (1, 0) is orthogonal to both: equal weights -> class 0, for
    # either order of the training samples.
    for labels in ([1, 0], [0, 1]):
        assert knn_classify([[0, 1], [0, -1]], labels, [[1, 0]],
                            k=2).tolist() == [0]


def test_chunking_gives_the_same_predictions():
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(30, 8, generator=gen)
    labels = torch.randint(0, 4, (30, ), generator=gen)
    test = torch.randn(17, 8, generator=gen)
    full = knn_classify(train, labels, test, k=5, chunk_size=1024)
    for chunk in (1, 4, 16):
        assert torch.equal(
            knn_classify(train, labels, test, k=5, chunk_size=chunk), full)
    assert full.dtype == torch.long and full.shape == (17, )


def test_num_classes():
    pred = knn_classify(TRAIN, LABELS, QUERY, k=3, num_classes=5)
    assert pred.tolist() == [0]
    with pytest.raises(ValueError, match='labels must be in'):
        knn_classify(TRAIN, [0, 1, 5], QUERY, k=1, num_classes=5)


def test_accuracy_by_hand():
    # q1 = (1, 0) -> 0 (right), q2 = (0.8, 0.6) -> 1 with k=1 (wrong: 0)
    acc = knn_accuracy(TRAIN, LABELS, [[1, 0], [0.8, 0.6]], [0, 0], k=1)
    assert acc == 0.5
    assert knn_accuracy(TRAIN, LABELS, QUERY, [0], k=3) == 1.0
    # a test label beyond the training labels counts as wrong
    assert knn_accuracy(TRAIN, LABELS, QUERY, [2], k=3) == 0.0


@pytest.mark.parametrize('k', [4, 100])
def test_k_larger_than_train_set_raises(k):
    with pytest.raises(ValueError, match='larger than the training set'):
        knn_classify(TRAIN, LABELS, QUERY, k=k)


@pytest.mark.parametrize('kwargs,match', [
    (dict(k=0), 'positive int'),
    (dict(temperature=0), 'temperature'),
    (dict(chunk_size=0), 'chunk_size'),
])
def test_bad_arguments(kwargs, match):
    args = dict(k=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        knn_classify(TRAIN, LABELS, QUERY, **args)


def test_bad_shapes():
    with pytest.raises(ValueError, match='2 labels'):
        knn_classify(TRAIN, [0, 1], QUERY, k=1)
    with pytest.raises(ValueError, match='channels'):
        knn_classify(TRAIN, LABELS, [[1, 0, 0]], k=1)
    with pytest.raises(ValueError, match='test labels'):
        knn_accuracy(TRAIN, LABELS, QUERY, [0, 1], k=1)
