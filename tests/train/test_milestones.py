"""optim.milestones: epochs or fractions of the run, never silently past its end."""
import pytest

from skdcore.train import ConfigError, config_from_dict
from skdcore.train.config import OptimConfig
from skdcore.train.optim import lr_factor


def _optim(**values):
    return config_from_dict({"optim": values}).optim


def test_epoch_milestones_drop_at_the_epochs_first_step():
    cfg = _optim(epochs=10, milestones=[5, 8], gamma=0.1)
    factors = [lr_factor(step, 4, cfg) for step in range(40)]
    assert factors[19] == 1.0 and factors[20] == pytest.approx(0.1)
    assert factors[31] == pytest.approx(0.1) and factors[32] == pytest.approx(0.01)


def test_fractions_scale_with_the_run():
    for epochs in (10, 30, 55):
        cfg = _optim(epochs=epochs, milestones=[0.5, 0.75], gamma=0.1)
        total = epochs * 7
        factors = [lr_factor(step, 7, cfg) for step in range(total)]
        first, second = factors.index(pytest.approx(0.1)), factors.index(pytest.approx(0.01))
        assert first == -(-total // 2) and second == -(-3 * total // 4)  # ceil: the share of all steps
    one_epoch = _optim(epochs=1, milestones=[0.5])  # a fraction drops mid-epoch too
    assert [lr_factor(step, 4, one_epoch) for step in range(4)] == pytest.approx([1, 1, 0.1, 0.1])


def test_ints_stay_ints_in_the_saved_config():
    assert _optim(epochs=10, milestones=[5, 8]).milestones == [5, 8]
    assert all(type(m) is int for m in _optim(epochs=10, milestones=[5, 8]).milestones)


@pytest.mark.parametrize("values, message", [
    ({"epochs": 30}, r"optim.milestones \[30, 40, 50\] are at or past the end of the run \(optim.epochs=30"),
    ({"epochs": 10, "milestones": [7, 12]}, r"optim.milestones \[12\] are at or past the end"),
    ({"epochs": 10, "milestones": [10]}, r"optim.milestones \[10\] are at or past the end"),
    ({"epochs": 10, "milestones": [1.5]}, r"must be epochs \(ints >= 1\) or fractions.*\[1.5\]"),
    ({"epochs": 10, "milestones": [0, 5]}, r"must be epochs.*got \[0\]"),
    ({"epochs": 10, "milestones": [0.8, 5]}, r"must be increasing.*\[8.0, 5\]"),
    ({"epochs": 10, "milestones": ["x"]}, r"must be epochs.*\['x'\]"),
])
def test_milestones_that_would_be_ignored_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        _optim(**values)


def test_cosine_ignores_milestones_by_design():
    assert _optim(epochs=10, schedule="cosine").milestones == [30, 40, 50]
    assert OptimConfig().milestones == [30, 40, 50] and _optim().epochs == 55
