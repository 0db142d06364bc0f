"""The IPython extension's public name: `%load_ext tutor.jupyter` and `from tutor.jupyter import cmp`.

The magics live in tutor.notebook.magics; this module only keeps the name learners type."""

from __future__ import annotations

from tutor.notebook.cmp import cmp
from tutor.notebook.magics import load_ipython_extension, unload_ipython_extension

__all__ = ["cmp", "load_ipython_extension", "unload_ipython_extension"]
