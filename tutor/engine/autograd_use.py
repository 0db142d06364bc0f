"""Find autograd in a learner's file by reading its syntax tree: for exercises that must be done by hand.

A static check, not a sandbox: it catches every ordinary way to ask PyTorch for gradients (and the
getattr/__import__ spellings of them), so a learner who reaches for autograd by habit is told where.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from tutor.learner.file import LearnerFile

# Attribute names that only mean autograd: x.backward(), x.grad, x.requires_grad_(), torch.autograd.
ATTRIBUTES = {
    "backward": "`.backward()` asks autograd for the gradients",
    "grad": "`.grad` is where autograd leaves its gradients",
    "requires_grad_": "`.requires_grad_()` switches autograd on",
    "autograd": "`torch.autograd` is autograd itself",
    "functorch": "functorch computes gradients automatically",
}
MODULES = {
    "torch.autograd": "`torch.autograd` is autograd itself",
    "torch.func": "`torch.func` computes gradients automatically",
    "functorch": "functorch computes gradients automatically",
}
DYNAMIC = {"getattr", "setattr", "delattr", "hasattr", "__import__", "import_module"}


@dataclass(frozen=True)
class AutogradUse:
    line: int
    what: str
    source: str | None

    def message(self) -> str:
        return (
            f"{self.what}. This exercise trains without autograd: compute every gradient "
            "by hand from the forward tensors."
        )


def _module_reason(name: str) -> str | None:
    for module, reason in MODULES.items():
        if name == module or name.startswith(module + "."):
            return reason
    return None


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_true(node: ast.AST) -> bool:
    return not (isinstance(node, ast.Constant) and not node.value)


def _reason(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        if node.attr in ATTRIBUTES:
            return ATTRIBUTES[node.attr]
        dotted = _dotted(node)
        if dotted and _module_reason(dotted):
            return _module_reason(dotted)
        if node.attr == "requires_grad" and isinstance(node.ctx, ast.Store):
            return "setting `.requires_grad` switches autograd on"
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if _module_reason(alias.name):
                return _module_reason(alias.name)
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if _module_reason(module):
            return _module_reason(module)
        for alias in node.names:
            if _module_reason(f"{module}.{alias.name}"):
                return _module_reason(f"{module}.{alias.name}")
    elif isinstance(node, ast.keyword):
        if node.arg == "requires_grad" and _is_true(node.value):
            return "`requires_grad=True` switches autograd on"
    elif isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name in DYNAMIC:
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    text = arg.value
                    if text in ATTRIBUTES or text == "requires_grad" or _module_reason(text):
                        return f"`{name}(..., {text!r})` reaches for autograd"
    elif isinstance(node, ast.Name) and node.id == "functorch":
        return ATTRIBUTES["functorch"]
    return None


def find_autograd_use(learner: LearnerFile) -> list[AutogradUse]:
    """Every use of autograd in the learner's file, in line order; [] for clean code or code that does not parse."""
    tree = learner.tree
    if tree is None:
        return []  # the runner reports the syntax error with its own message
    lines = learner.lines
    found: dict[tuple[int, str], AutogradUse] = {}
    for node in ast.walk(tree):
        reason = _reason(node)
        line = getattr(node, "lineno", None)
        if reason is None or line is None:
            continue
        text = lines[line - 1].strip() if 0 < line <= len(lines) else None
        found.setdefault((line, reason), AutogradUse(line, reason, text))
    return sorted(found.values(), key=lambda use: use.line)
