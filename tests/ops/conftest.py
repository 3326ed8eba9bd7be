"""Every test starts and ends with the op path table as the environment set it."""
import pytest

from skdcore.ops.paths import op_paths, set_op_path


@pytest.fixture(autouse=True)
def restore_op_paths():
    before = op_paths()
    yield
    for name, choice in before.items():
        set_op_path(name, choice)
