"""Each package's curated public API (``__all__``) names real objects, and importing a package stays
cheap: the names load on first use, so ``import analysis`` does not pull in PyAV, librosa or OpenCV."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["kernel", "analysis", "planner", "nle_adapters", "resolve_bridge"]
HEAVY = ["av", "librosa", "cv2", "opentimelineio", "numpy", "openai", "requests"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_to_its_definition(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} exports nothing"
    for name in module.__all__:
        home = importlib.import_module(module._EXPORTS[name])
        # ``is``: a submodule named like an export would shadow it once imported.
        assert getattr(module, name) is getattr(home, name), f"{package}.{name} is not {home.__name__}.{name}"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018 - the lookup is the test


def test_importing_the_packages_loads_nothing_heavy() -> None:
    code = f"import sys\nimport {', '.join(PACKAGES)}\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"importing the packages loaded {loaded}"
