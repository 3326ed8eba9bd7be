"""The compiled package loads, reports how it was built, and refuses a mismatched torch."""
import importlib
import sys
import types

import pytest
import torch

import skdcore
from skdcore import _loader


def test_build_info_describes_this_build():
    info = skdcore.build_info()
    assert info["version"] == skdcore.__version__
    def major_minor(version):
        return version.split("+")[0].split(".")[:2]

    assert major_minor(info["torch_version"]) == major_minor(torch.__version__)
    assert isinstance(info["cuda"], bool)
    assert info["num_threads"] >= 1
    assert info["openmp"] is True


def test_ops_are_registered_with_the_dispatcher():
    assert hasattr(torch.ops.skdcore, "normalize_adjacency")
    assert hasattr(torch.ops.skdcore, "_normalize_adjacency_backward")


def test_torch_version_mismatch_raises_clear_import_error(monkeypatch):
    fake_config = types.SimpleNamespace(TORCH_VERSION="1.0.0", WITH_CUDA=False)
    real_import = importlib.import_module

    def fake_import(name, *args):
        return fake_config if name == "skdcore._build_config" else real_import(name, *args)

    monkeypatch.setattr(_loader.importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match=r"built against torch 1\.0\.0.*pip install --no-build-isolation"):
        _loader.load_extension()


def test_source_tree_import_gives_clear_error(monkeypatch):
    real_import = importlib.import_module

    def fake_import(name, *args):
        if name == "skdcore._build_config":
            raise ImportError("No module named 'skdcore._build_config'")
        return real_import(name, *args)

    monkeypatch.setattr(_loader.importlib, "import_module", fake_import)
    with pytest.raises(ImportError, match="make install"):
        _loader.load_extension()


def test_package_is_imported_from_an_installed_build():
    assert "site-packages" in skdcore.__file__ or "dist-packages" in skdcore.__file__, skdcore.__file__
    assert sys.modules["skdcore._C"].__file__.endswith(".so")
