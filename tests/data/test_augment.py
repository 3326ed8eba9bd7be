"""data/augment.py: the random rotation and scale of training batches, HQ and LQ of a pair alike."""
import math

import pytest
import torch

from skdcore.data.augment import random_rotate_scale


def _clips(n=3, c=3, t=5, v=6, m=2, seed=0):
    x = torch.randn(n, c, t, v, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 2.0
    x[:, :, :, :, 1] = 0  # an absent second person
    x[0, :, 1, 2, 0] = 0  # an absent joint
    return x


def _run(hq, lq, rotate_deg, scale, num_coords, seed=7):
    return random_rotate_scale(hq, lq, torch.Generator().manual_seed(seed), rotate_deg, scale, num_coords)


def _pairwise(x, num_coords=3):
    """(N, T, M, V, V) distances between the joints of each frame and person."""
    coords = x[:, :num_coords].permute(0, 2, 4, 3, 1)  # (N, T, M, V, k)
    return torch.cdist(coords, coords)


def _present(x, num_coords=3):
    return (x[:, :num_coords] != 0).any(1, keepdim=True)


def _centre(x, num_coords=3):
    present = _present(x, num_coords)
    return (x[:, :num_coords] * present).sum((2, 3, 4)) / present.sum((2, 3, 4))


def _draw(seed, n, rotate_deg, scale, num_coords):
    """R and s re-drawn by the recipe of the module docstring."""
    g = torch.Generator().manual_seed(seed)
    angles = (2 * torch.rand(n, 3 if num_coords == 3 else 1, generator=g, dtype=torch.float64) - 1)
    angles = angles * math.radians(rotate_deg)
    scales = 1 + (2 * torch.rand(n, generator=g, dtype=torch.float64) - 1) * scale
    rotations = []
    for a in angles.tolist():
        if num_coords == 2:
            c, s = math.cos(a[0]), math.sin(a[0])
            rotations.append(torch.tensor([[c, -s], [s, c]], dtype=torch.float64))
            continue
        (cx, cy, cz), (sx, sy, sz) = [math.cos(v) for v in a], [math.sin(v) for v in a]
        rx = torch.tensor([[1, 0, 0], [0, cx, -sx], [0, sx, cx]], dtype=torch.float64)
        ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float64)
        rz = torch.tensor([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]], dtype=torch.float64)
        rotations.append(rz @ ry @ rx)
    return rotations, scales.tolist()


def _formula(x, rotations, scales, centre_of, num_coords):
    out = x.clone()
    for i, (r, s) in enumerate(zip(rotations, scales)):
        c = _centre(centre_of[i:i + 1], num_coords)[0]
        for t in range(x.shape[2]):
            for v in range(x.shape[3]):
                for m in range(x.shape[4]):
                    p = x[i, :num_coords, t, v, m]
                    if bool((p != 0).any()):
                        out[i, :num_coords, t, v, m] = s * (r @ (p - c)) + c
    return out


def test_rotation_keeps_distances_and_the_centre():
    x = _clips()
    hq, _ = _run(x, x, 30.0, 0.0, 3)
    present = _present(x)[:, 0]
    assert not torch.allclose(hq, x)
    pair = present.permute(0, 1, 3, 2)[..., :, None] & present.permute(0, 1, 3, 2)[..., None, :]
    torch.testing.assert_close(_pairwise(hq)[pair], _pairwise(x)[pair])
    torch.testing.assert_close(_centre(hq), _centre(x))
    assert bool((hq[:, :3][~_present(x).expand_as(x)] == 0).all())


def test_scale_multiplies_distances_by_the_drawn_factor():
    x = _clips()
    _, scales = _draw(7, len(x), 0.0, 0.2, 3)
    hq, _ = _run(x, x, 0.0, 0.2, 3)
    present = _present(x)[:, 0].permute(0, 1, 3, 2)
    pair = present[..., :, None] & present[..., None, :]
    ratio = torch.tensor(scales, dtype=x.dtype)[:, None, None, None, None].expand_as(pair)
    torch.testing.assert_close(_pairwise(hq)[pair], _pairwise(x)[pair] * ratio[pair])
    torch.testing.assert_close(_centre(hq), _centre(x))
    assert all(0.8 <= s <= 1.2 for s in scales) and len(set(scales)) == len(scales)


def test_output_is_the_formula_with_hand_drawn_rotation_and_scale():
    x = _clips()
    rotations, scales = _draw(11, len(x), 25.0, 0.1, 3)
    hq, lq = _run(x, x.clone(), 25.0, 0.1, 3, seed=11)
    expected = _formula(x, rotations, scales, x, 3)
    torch.testing.assert_close(hq, expected)
    torch.testing.assert_close(lq, expected)


def test_hq_and_lq_get_one_transform_and_absent_lq_joints_stay_zero():
    x = _clips()
    x_before = x.clone()
    hq, lq = _run(x, x.clone(), 40.0, 0.1, 3)
    torch.testing.assert_close(hq, lq, rtol=0, atol=0)
    lq_in = x.clone()
    lq_in[:, :, 2:4, 1] = 0  # joints occluded in the LQ copy only
    lq_in[1, :, :, 4] = 0
    hq2, lq2 = _run(x, lq_in, 40.0, 0.1, 3)
    torch.testing.assert_close(hq2, hq, rtol=0, atol=0)  # the centre is the HQ clip's
    gone = ~_present(lq_in).expand_as(lq_in)
    assert bool((lq2[gone] == 0).all())
    torch.testing.assert_close(lq2[~gone], hq2[~gone], rtol=0, atol=0)
    torch.testing.assert_close(x, x_before, rtol=0, atol=0)  # inputs untouched


def test_2d_coordinates_rotate_in_plane_and_the_score_channel_is_kept():
    x = _clips(c=3)
    x[:, 2] = torch.rand(x[:, 2].shape, dtype=x.dtype)  # scores
    x[:, 2][~_present(x, 2)[:, 0]] = 0
    rotations, scales = _draw(5, len(x), 60.0, 0.0, 2)
    hq, lq = _run(x, x.clone(), 60.0, 0.0, 2, seed=5)
    torch.testing.assert_close(hq[:, 2], x[:, 2], rtol=0, atol=0)
    torch.testing.assert_close(hq, _formula(x, rotations, scales, x, 2))
    assert not torch.allclose(hq[:, :2], x[:, :2])
    present = _present(x, 2)[:, 0].permute(0, 1, 3, 2)
    pair = present[..., :, None] & present[..., None, :]
    torch.testing.assert_close(_pairwise(hq, 2)[pair], _pairwise(x, 2)[pair])


def test_float32_on_the_batch_dtype():
    x = _clips().float()
    hq, lq = _run(x, x, 10.0, 0.1, 3)
    assert hq.dtype == lq.dtype == torch.float32 and hq.shape == x.shape


@pytest.mark.parametrize("shape, num_coords, message", [
    ((2, 3, 4, 5, 1), 1, "2 or 3 coordinate channels"),
    ((2, 2, 4, 5, 1), 3, "only 2 channels"),
])
def test_unusable_coordinates_are_a_clear_error(shape, num_coords, message):
    x = torch.ones(shape)
    with pytest.raises(ValueError, match=message):
        _run(x, x, 10.0, 0.1, num_coords)
