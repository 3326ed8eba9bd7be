"""Layouts as data: dict / YAML / JSON round trips, get_layout's accepted forms, errors that name the fix."""

import json

import numpy as np
import pytest

from skdcore.graph import partitions
from skdcore.layouts import (
    BUILTIN_LAYOUTS,
    NTU25,
    get_layout,
    layout_from_dict,
    load_layout,
    make_layout,
    save_layout,
)

UPPER8 = {
    "name": "upper8",
    "joint_names": [
        "pelvis",
        "spine",
        "neck",
        "head",
        "left_shoulder",
        "left_hand",
        "right_shoulder",
        "right_hand",
    ],
    "edges": [
        ["pelvis", "spine"],
        ["spine", "neck"],
        ["neck", "head"],
        ["neck", "left_shoulder"],
        ["left_shoulder", "left_hand"],
        ["neck", "right_shoulder"],
        ["right_shoulder", "right_hand"],
    ],
    "center": "neck",
}


@pytest.mark.parametrize("layout", list(BUILTIN_LAYOUTS.values()), ids=list(BUILTIN_LAYOUTS))
def test_builtin_layouts_round_trip_through_dict_and_json(layout):
    data = layout.to_dict()
    assert layout_from_dict(json.loads(json.dumps(data))) == layout
    assert get_layout(data) == layout


def test_names_resolve_to_indices_and_roles_strategy_survive(tmp_path):
    layout = layout_from_dict({**UPPER8, "roles": {"spine_top": "neck"}, "strategy": "uniform"})
    assert layout.center == 2 and layout.edges[3] == (2, 4) and layout.roles == {"spine_top": 2}
    for suffix in (".yaml", ".json"):
        path = save_layout(layout, tmp_path / f"layout{suffix}")
        assert load_layout(path) == layout
        assert get_layout(str(path)) == layout and get_layout(path) == layout
    # the strategy chooses the partition models build
    assert partitions(layout).shape == (1, 8, 8)
    assert partitions(get_layout(UPPER8)).shape == (3, 8, 8)


def test_hand_written_yaml(tmp_path):
    path = tmp_path / "layout.yaml"
    path.write_text("name: tiny\njoint_names: [a, b, c]\nedges: [[a, b], [b, c]]\ncenter: b\n")
    layout = get_layout(str(path))
    assert layout.joint_names == ("a", "b", "c") and layout.edges == ((0, 1), (1, 2)) and layout.center == 1
    np.testing.assert_array_equal(layout.hop_distance(), [1, 0, 1])


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown layout keys \\['joints'\\]"):
        layout_from_dict({**UPPER8, "joints": []})
    with pytest.raises(ValueError, match="needs \\['edges'\\]"):
        layout_from_dict({k: v for k, v in UPPER8.items() if k != "edges"})
    with pytest.raises(ValueError, match="not connected"):
        layout_from_dict({**UPPER8, "edges": UPPER8["edges"][:-1]})
    with pytest.raises(ValueError, match="strategy='star' is not valid"):
        make_layout("x", ["a", "b"], [[0, 1]], 0, strategy="star")
    with pytest.raises(ValueError, match="layout file .*missing.yaml not found"):
        get_layout(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml is not valid YAML"):
        load_layout(bad)
    with pytest.raises(ValueError, match="layout.yaml path"):
        get_layout("upper9")


def test_center_is_optional_the_graph_centre_by_default():
    # upper8: the neck is at most 2 hops from every joint, every other joint is 3 or more from one
    layout = layout_from_dict({k: v for k, v in UPPER8.items() if k != "center"})
    assert layout.center == 2 and layout.to_dict()["center"] == 2
    # a chain a-b-c-d-e: the middle joint; an even chain a-b-c-d: the lower index of the two middles
    assert make_layout("chain", list("abcde"), [[0, 1], [1, 2], [2, 3], [3, 4]]).center == 2
    assert make_layout("chain", list("abcd"), [[0, 1], [1, 2], [2, 3]]).center == 1
    for name, builtin in BUILTIN_LAYOUTS.items():  # a joint of the built-ins' smallest eccentricity
        hops = builtin.hop_distance()
        centre = make_layout(name, builtin.joint_names, builtin.edges)
        assert centre.hop_distance().max() <= hops.max()
    with pytest.raises(ValueError, match="not connected"):
        make_layout("split", list("abcd"), [[0, 1], [2, 3]])


def test_a_layout_object_is_returned_as_is():
    assert get_layout(NTU25) is NTU25 and get_layout("NTU25") is NTU25


ESTIMATOR_LAYOUTS = {  # name: (joints, centre joint, the joints normalisation's roles name)
    "halpe26": (26, "neck", {"spine_base": "hip", "spine_top": "neck"}),
    "mediapipe33": (33, "nose", {}),
    "h36m17": (17, "thorax", {"spine_base": "pelvis", "spine_top": "thorax"}),
    "openpose25": (25, "neck", {"spine_base": "mid_hip", "spine_top": "neck"}),
    "kinect20": (20, "shoulder_center", {"spine_base": "hip_center", "spine_top": "shoulder_center"}),
}


@pytest.mark.parametrize("name", list(ESTIMATOR_LAYOUTS))
def test_estimator_layouts_are_trees_with_valid_partitions_and_roles(name):
    from skdcore.data.skeleton_tree import parents
    from skdcore.data.transforms import pre_normalise

    joints, centre, spine_roles = ESTIMATOR_LAYOUTS[name]
    layout = get_layout(name)
    assert layout.num_joints == joints and layout.joint_names[layout.center] == centre
    # a connected tree: V - 1 edges and every joint reachable from the centre
    assert len(layout.edges) == joints - 1 and (layout.hop_distance() >= 0).all()
    parent = parents(layout)
    assert parent[layout.center] == layout.center and sorted(set(range(joints)) - {layout.center}) == sorted(
        j for j in range(joints) if parent[j] != j)
    A = partitions(layout)  # spatial: identity, inward, outward; each edge once in one direction
    assert A.shape == (3, joints, joints)
    np.testing.assert_array_equal(A[0], np.eye(joints))
    np.testing.assert_array_equal(A[1], A[2].T)
    assert A[1].sum() == joints - 1
    np.testing.assert_array_equal(A[1].sum(axis=1), [0 if j == layout.center else 1 for j in range(joints)])
    # the roles name the joints they say (by name: a wrong index would pick another joint)
    roles = {k: layout.joint_names[v] for k, v in layout.roles.items()}
    assert roles["left_shoulder"].replace("shoulder_left", "left_shoulder") == "left_shoulder"
    assert roles["right_shoulder"].replace("shoulder_right", "right_shoulder") == "right_shoulder"
    assert {k: roles[k] for k in spine_roles} == spine_roles
    # with spine roles, 3-D normalisation rotates the spine onto +z and the shoulders onto +x
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, joints, 1)).astype(np.float32) + 5
    out = pre_normalise(x, layout)
    assert np.allclose(out[:, :, layout.center, 0], 0, atol=1e-6)
    if spine_roles:
        r = layout.roles
        spine = out[:, 0, r["spine_top"], 0] - out[:, 0, r["spine_base"], 0]
        shoulders = out[:, 0, r["left_shoulder"], 0] - out[:, 0, r["right_shoulder"], 0]
        assert abs(spine[0]) < 1e-4 and abs(spine[1]) < 1e-4 and spine[2] > 0
        assert abs(shoulders[1]) < 1e-4 and shoulders[0] > 0
    assert layout_from_dict(json.loads(json.dumps(layout.to_dict()))) == layout


@pytest.mark.parametrize("name", list(ESTIMATOR_LAYOUTS))
def test_models_build_and_run_on_estimator_layouts(name):
    import torch

    from skdcore.models import build_model

    joints = ESTIMATOR_LAYOUTS[name][0]
    for model_name in ("st_gcn", "shift_gcn"):
        model = build_model(model_name, num_class=4, layout=name, channels=(8, 16), strides=(1, 2),
                            num_person=1).eval()
        with torch.no_grad():
            logits, _ = model(torch.randn(2, 3, 8, joints, 1))
        assert logits.shape == (2, 4) and torch.isfinite(logits).all()


def test_arrays_keep_their_default_layout_for_shared_joint_counts():
    from skdcore.data.readers import ArraySource

    for joints, name in ((17, "coco17"), (25, "ntu25")):
        x = np.ones((2, 3, 5, joints), dtype=np.float32)
        assert ArraySource(x, np.array([0, 1])).layout.name == name
