"""
Loading a Python file that is not on the import path (an example, a
documentation script) as a module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def loadModule(name: str, path: Path) -> ModuleType:
    """
    Import the file at C{path} as a module called C{name}.

    The module is in C{sys.modules} while its code runs (dataclasses look
    their module up there), and only then: each call runs the file afresh.

    @param name: The module's name.
    @param path: The file.
    @return: The module.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a module")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous
    return module
