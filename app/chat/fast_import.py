"""Import Gradio without its stub writer: `citeqa chat` starts faster (~0.3 s on an idle machine, ~1 s when busy).

When each component class is created, Gradio's `ComponentMeta` calls `create_or_modify_pyi`: it reads and parses
the component's own source file (`ast`) to write or refresh a `.pyi` type stub next to it, inside the installed
package (81 classes, 162 parses of their source files per import). That is a development aid with no effect on a
running app. This finder runs once, when `gradio.component_meta` is first imported, and replaces that one
function with a no-op; if a Gradio release renames it, nothing is patched and Gradio imports as usual.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

_TARGET = "gradio.component_meta"


class _SkipStubWriter(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)  # once; and so that the lookup below finds the real module
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            if callable(getattr(module, "create_or_modify_pyi", None)):
                module.create_or_modify_pyi = lambda *args, **kwargs: None

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Call before the first `import gradio` (later calls, or after Gradio is imported, do nothing)."""
    if _TARGET not in sys.modules and not any(isinstance(f, _SkipStubWriter) for f in sys.meta_path):
        sys.meta_path.insert(0, _SkipStubWriter())
