import numpy as np
import pytest

from skdcore.data.skeleton_tree import parents, topological_order


def test_tree_of_ntu25_and_bad_inputs_are_value_errors():
    parent = parents("ntu25")
    order = topological_order(parent)
    assert parent[20] == 20 and order[0] == 20 and sorted(order) == list(range(25))
    assert all(order.index(int(parent[j])) < order.index(j) for j in range(25) if parent[j] != j)
    with pytest.raises(ValueError, match="root joint 30 is outside 0..24"):
        parents("ntu25", root=30)
    with pytest.raises(ValueError, match="index outside 0..2"):
        topological_order(np.array([0, -1, 1]))  # joint 1 unreachable: no silent wrap-around to parent[-1]
    with pytest.raises(ValueError, match="has a cycle"):
        topological_order(np.array([1, 0]))
