"""The confidence channel of 2D pose data is found whether the manifest names its layout or holds it whole."""
from types import SimpleNamespace

import pytest

from skdcore.evaluation.robustness import score_channel_of
from skdcore.layouts import get_layout


@pytest.mark.parametrize("layout, channels, expected", [
    ("coco17", 3, 2), (get_layout("coco17").to_dict(), 3, 2), (get_layout("openpose18").to_dict(), 3, 2),
    (get_layout("ntu25").to_dict(), 3, None), (get_layout("coco17").to_dict(), 2, None),
])
def test_score_channel_from_layout_name_or_dict(layout, channels, expected):
    dataset = SimpleNamespace(manifest={"layout": layout}, num_channels=channels)
    assert score_channel_of(dataset) == expected
