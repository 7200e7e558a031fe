"""Makes the packages named in MLRT_TEST_HIDE (comma-separated) look uninstalled to this
interpreter: their import fails and importlib.metadata does not find their distribution.

Put this folder first on PYTHONPATH of a child Python; nothing is uninstalled.
"""

import importlib.abc
import importlib.metadata
import os
import sys

_HIDDEN = {n.strip() for n in os.environ.get("MLRT_TEST_HIDE", "").split(",") if n.strip()}


class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


_from_name = importlib.metadata.Distribution.from_name.__func__


def _hidden_from_name(cls, name):
    if name.replace("_", "-").lower() in {h.replace("_", "-").lower() for h in _HIDDEN}:
        raise importlib.metadata.PackageNotFoundError(name)
    return _from_name(cls, name)


if _HIDDEN:
    sys.meta_path.insert(0, _Hide())
    importlib.metadata.Distribution.from_name = classmethod(_hidden_from_name)
