"""A run-time fence around autograd for the learner's code: every exercise is written by hand.

The AST check (autograd_use.py) refuses the usual spellings before a file runs; this catches the rest at
run time, inside the sandboxed child (and exercise 4's trainer), where any way of reaching autograd's
engine raises AutogradUsed naming the learner's line. A teaching aid, not a proof against a determined
cheat: code that rebuilds torch's internals can still get around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


class AutogradUsed(BaseException):
    """Raised where the learner's code calls autograd (BaseException: `except Exception` won't eat it)."""


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AutogradUsed(f"{what} asks autograd for the gradient; here every gradient is written by hand")

    return refuse


class _NoEngine:
    def __getattr__(self, name: str) -> Any:
        return _refuse("autograd's engine")


def forbid_autograd() -> None:
    """Turn grad mode off and replace autograd's entry points with ones that raise AutogradUsed.

    Only for a process that runs nothing but the learner's code from here on (a sandboxed child). Calling it
    again costs next to nothing."""
    torch.set_grad_enabled(False)
    if getattr(torch.Tensor.backward, "__name__", "") == "refuse":
        return
    torch.Tensor.backward = _refuse("Tensor.backward()")  # type: ignore[method-assign]
    torch.autograd.backward = _refuse("torch.autograd.backward()")  # type: ignore[assignment]
    torch.autograd.grad = _refuse("torch.autograd.grad()")  # type: ignore[assignment]
    import torch.autograd.functional as functional
    import torch.autograd.variable as variable

    for name in ("vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"):
        setattr(functional, name, _refuse(f"torch.autograd.functional.{name}()"))
    variable.Variable._execution_engine = _NoEngine()  # type: ignore[attr-defined]
    try:
        import torch.func as func
    except ImportError:  # pragma: no cover - older torch
        return
    for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap_grad"):
        if hasattr(func, name):
            setattr(func, name, _refuse(f"torch.func.{name}()"))


__all__ = ["AutogradUsed", "forbid_autograd"]
