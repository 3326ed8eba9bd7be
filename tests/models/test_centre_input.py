"""centre_input: each clip minus the mean of its present joints, so where a person stands does not matter."""
import pytest
import torch

from skdcore.models import build_model
from skdcore.models.skeleton_model import centre_on_clip_mean


def test_centre_on_clip_mean_values():
    x = torch.randn(2, 3, 5, 4, 2, dtype=torch.float64)
    x[0, :, 1, 2, 0] = 0  # an absent (occluded) joint
    x[1, :, :, :, 1] = 0  # an absent second person
    out = centre_on_clip_mean(x)
    for n in range(2):
        present = (x[n] != 0).any(0)  # (T, V, M)
        mean = x[n][:, present].mean(1)  # (C,)
        expected = (x[n] - mean[:, None, None, None]) * present
        torch.testing.assert_close(out[n], expected)
    assert (out[0, :, 1, 2, 0] == 0).all() and (out[1, :, :, :, 1] == 0).all()


@pytest.mark.parametrize("name", ["st_gcn", "shift_gcn", "ctr_gcn"])
def test_models_ignore_where_the_person_stands(name, one_torch_thread):
    torch.manual_seed(0)
    args = dict(num_class=5, num_person=1, channels=[8, 16], strides=[1, 2], ops="reference", layout="coco17")
    x = torch.randn(3, 3, 12, 17, 1)
    x[0, :, 3, 5] = 0  # an occluded joint stays absent after the shift below
    shifted = x + torch.tensor([2.0, -1.0, 0.5]).view(1, 3, 1, 1, 1) * (x != 0).any(1, keepdim=True)
    centred = build_model(name, centre_input=True, **args).eval()
    torch.testing.assert_close(centred(shifted)[0], centred(x)[0], atol=1e-5, rtol=1e-5)
    plain = build_model(name, **args).eval()  # the default keeps the reference's input as is
    assert not torch.allclose(plain(shifted)[0], plain(x)[0], atol=1e-3)
    assert set(plain.state_dict()) == set(centred.state_dict())  # no new weights: old checkpoints load
