import math

import numpy as np
import pytest
import torch

from skdcore.evaluation.metrics import classification_metrics


def test_metrics_on_a_hand_computed_case():
    # 6 classes, 4 samples.
    logits = torch.tensor([
        [0.9, 0.1, 0.0, 0.0, 0.0, 0.0],  # label 0: top1 hit
        [0.5, 0.4, 0.3, 0.2, 0.1, 0.0],  # label 5: ranked 6th -> top5 miss
        [0.1, 0.2, 0.9, 0.0, 0.0, 0.0],  # label 1: predicted 2, ranked 2nd -> top5 hit
        [0.0, 0.0, 0.0, 0.1, 0.9, 0.0],  # label 4: hit
    ])
    labels = torch.tensor([0, 5, 1, 4])
    m = classification_metrics(logits, labels, num_classes=6)
    assert m["top1"] == pytest.approx(2 / 4)
    assert m["top5"] == pytest.approx(3 / 4)
    expected_confusion = np.zeros((6, 6), dtype=np.int64)
    for true, pred in ((0, 0), (5, 0), (1, 2), (4, 4)):
        expected_confusion[true, pred] += 1
    np.testing.assert_array_equal(m["confusion"], expected_confusion)
    per_class = m["per_class"]
    assert per_class[0] == 1.0 and per_class[1] == 0.0 and per_class[4] == 1.0 and per_class[5] == 0.0
    assert math.isnan(per_class[2]) and math.isnan(per_class[3])  # no samples of classes 2, 3


def test_metrics_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"logits must be \(N, num_classes\)"):
        classification_metrics(torch.zeros(3), torch.zeros(3, dtype=torch.long), 2)
