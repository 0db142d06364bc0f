"""What runs inside the forked, sandboxed child: the learner's file, with limits, and its results packed."""

from __future__ import annotations

import base64
import gc
import marshal
import os
import resource
import signal
import sys
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F

from tutor.learner.file import LearnerFile
from tutor.process.limits import (
    BoundedOutput,
    OutputLimit,
    describe_exception,
    die_with_parent,
    is_memory_error,
    learner_error,
    learner_line,
    limit_memory,
    short_repr,
)
from tutor.process.wire import FrameBytes, encode_frame, pack_tensors, read_frame, unpack_tensors, write_all
from tutor.sandbox.guard import AutogradUsed, forbid_autograd
from tutor.sandbox.isolate import FINISH_HOOK, instrument
from tutor.sandbox.reaper import become_subreaper


class LearnerTimeout(BaseException):
    """Raised inside the learner's code when its time is up (BaseException: `except Exception` won't eat it)."""


def describe(value: Any) -> dict[str, Any]:
    if value is None:
        return {"kind": "missing"}
    # type(), not isinstance(): an object may claim `__class__ = torch.Tensor` without being one
    if issubclass(type(value), torch.Tensor):
        return {"kind": "tensor"}
    return {"kind": "other", "type": type(value).__name__}


def pack_values(found: dict[str, torch.Tensor]) -> tuple[dict[str, dict[str, Any]], bytes, dict[str, str]]:
    """Pack each tensor the learner left on its own, so that one that cannot be read (a subclass whose
    `dtype` raises, a tensor without storage) spoils only its own step. Returns the entries by name (with
    `requires_grad`), the blob, and for each unreadable name a short description of why."""
    entries: dict[str, dict[str, Any]] = {}
    parts: list[bytes] = []
    unreadable: dict[str, str] = {}
    if all(type(value) is torch.Tensor for value in found.values()):
        try:  # plain tensors (the usual case): packed in one go
            meta, blob = pack_tensors(found)
            return {m["name"]: {**m, "requires_grad": bool(found[m["name"]].requires_grad)} for m in meta}, blob, {}
        except BaseException:  # noqa: BLE001 - one that cannot be read: each on its own below
            pass
    offset = 0
    for name, value in found.items():
        try:
            plain = torch.Tensor.as_subclass(value, torch.Tensor) if type(value) is not torch.Tensor else value
            (entry,), data = pack_tensors({name: plain})
            entry = {**entry, "offset": offset, "requires_grad": bool(plain.requires_grad)}
        except BaseException as exc:  # whatever a subclass's properties raise
            unreadable[name] = f"{type(value).__name__} that cannot be read as a tensor ({type(exc).__name__})"
            continue
        entries[name] = entry
        parts.append(data)
        offset += len(data)
    return entries, b"".join(parts), unreadable


def enter_sandbox(parent: int) -> None:
    """What a freshly forked child does before anything else: its own process group, death with the
    zygote, no terminal signals, stdio on /dev/null, no core dumps."""
    os.setpgid(0, 0)
    die_with_parent()
    # What the learner's code forks stays below this process even after its parent dies (see reaper.py).
    become_subreaper()
    if os.getppid() != parent:  # the zygote died before the line above could take effect
        os._exit(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def place_contexts(contexts: dict[str, dict[str, Any]]) -> dict[str, dict[str, torch.Tensor]]:
    """Every context's tensors on its device (on a GPU this initialises CUDA: the costly part), warmed up."""
    placed = {key: {name: t.to(ctx["device"]) for name, t in ctx["tensors"].items()} for key, ctx in contexts.items()}
    for device in {ctx["device"] for ctx in contexts.values()}:
        warm_up(device)
    for key, ctx in contexts.items():
        # the learner's likely ops, run once here: the pages and caches they touch are this child's own by
        # the time the learner's file arrives (a forked child pays for every page it first writes)
        warm_up_ops(ctx.get("warm", ""), {**ctx, "tensors": placed[key]})
    forbid_autograd()  # nothing below needs autograd: from here on only the learner's code runs here
    # Everything set up so far lives until exit: the garbage collector need never walk it again. A full
    # collection during the run would otherwise touch (and copy, page by page) the heap shared with the zygote.
    gc.collect()
    gc.freeze()
    return placed


def warm_up_ops(source: str, context: dict[str, Any]) -> None:
    """Run `source` once on stand-ins of the context's tensors (every float replaced by 0.5; indices kept,
    they are the learner's inputs anyway): the kernels and code paths the learner's file will use are then
    warm in every child forked from here. Nothing computed is an answer, and nothing is kept."""
    if not source:
        return
    ns: dict[str, Any] = {"torch": torch, "F": F, **context["scalars"]}
    for name, t in context["tensors"].items():
        ns[name] = torch.full_like(t, 0.5) if t.is_floating_point() else t.clone()
    try:
        with torch.no_grad():
            exec(compile(source, "<warm-up>", "exec"), ns)
    except Exception:  # noqa: BLE001 - a warm-up that fails only leaves the children colder
        pass
    ns.clear()


def warm_up(device: str) -> None:
    """Pay the first-call costs (a GPU's BLAS handle, the first kernels) before the learner's clock starts.

    Uses no random numbers: the learner's file must find torch's generators as the zygote left them."""
    x = torch.linspace(-1.0, 1.0, 64, device=device).reshape(8, 8)
    h = torch.tanh(x @ x.T)
    out = (h.exp() / h.exp().sum(1, keepdim=True)).log().max(1, keepdim=True).values.sum(0)
    if out.device.type == "cuda":
        torch.cuda.synchronize(out.device)


def run_specs(header: dict[str, Any]) -> list[dict[str, Any]]:
    """A run request's entries, one per run: {"key"} of a context the zygote holds, or {"inline": {"scalars",
    "device"}} with all its tensors in "extra"; plus "extra" tensors, "inject" tensors and "hook" names."""
    runs = header.get("runs")
    if isinstance(runs, list) and all(isinstance(r, dict) for r in runs) and runs:
        return runs
    return [{"key": header.get("key", ""), "extra": header.get("extra", [])}]


def run_device(spec: dict[str, Any], contexts: dict[str, dict[str, Any]]) -> str:
    inline = spec.get("inline")
    return str(inline["device"]) if isinstance(inline, dict) else contexts[spec["key"]]["device"]


def build_runs(
    header: dict[str, Any], blob: bytes, contexts: dict[str, dict[str, Any]], placed: dict[str, dict[str, torch.Tensor]]
) -> list[dict[str, Any]]:
    """What each run of the request starts from: copies of its context's tensors (already on the device) and
    extras, or of an inline context sent with the request; the tensors to inject and the names to capture."""
    runs = []
    for spec in run_specs(header):
        device = run_device(spec, contexts)
        extra = {name: t.to(device) for name, t in unpack_tensors(spec.get("extra", []), blob).items()}
        inline = spec.get("inline")
        if isinstance(inline, dict):
            tensors, scalars = extra, dict(inline.get("scalars", {}))
        else:
            ctx = contexts[spec["key"]]
            tensors = placed.get(spec["key"]) or {name: t.to(device) for name, t in ctx["tensors"].items()}
            tensors, scalars = {**tensors, **extra}, ctx["scalars"]
        inject = {name: t.to(device) for name, t in unpack_tensors(spec.get("inject", []), blob).items()}
        hook = [str(name) for name in spec.get("hook") or []]
        # a run's in-place edits stay its own; only the first run's are reported, so only it keeps pristine copies
        given = {name: t.clone() for name, t in tensors.items()}
        pristine = {name: t.clone() for name, t in given.items()} if not runs else {}
        runs.append({"given": given, "pristine": pristine, "scalars": scalars, "device": device, "inject": inject, "hook": hook})
    return runs


# The exit code of a child whose result pipe the learner's code closed: no frame can come back.
RESULT_LOST = 71

# A spare's first byte on its result pipe: set up, waiting for the request (written before any learner code).
READY = b"R"


def wait_and_run(contexts: dict[str, dict[str, Any]], parent: int, request_fd: int, result_fd: int) -> None:
    """A spare child's life (see spare.py): set up, wait for its one request, run it, exit. Never returns.

    The request comes in frames: the runs (contexts, tensors to inject: the tutor may send them while the
    learner is still typing, and they are unpacked and copied at once), then the learner's code as it is, and
    for the local-rule run its instrumented form, which the tutor builds while the first runs run. None of
    the learner's code runs before the second frame is in."""
    failure: BaseException | None = None
    placed: dict[str, dict[str, torch.Tensor]] = {}
    try:
        enter_sandbox(parent)
        placed = place_contexts(contexts)
    except BaseException as exc:  # reported with the request, so that the check still gets a verdict
        failure = exc
    try:
        os.write(result_fd, READY)
        inbox = open(request_fd, "rb")
        header, blob = read_frame(inbox)
    except BaseException:  # the zygote or the tutor dropped this spare, or died: nothing to run
        os._exit(0)
    runs: list[dict[str, Any]] = []
    device = "cpu"
    try:
        if failure is None:
            device = run_device(run_specs(header)[0], contexts)
            runs = build_runs(header, FrameBytes(blob), contexts, placed)  # every tensor a view of one copy
    except BaseException as exc:  # the tutor's own failure: reported once the code has come
        failure = exc
    del header, blob
    try:
        request, _ = read_frame(inbox)
        if not request.get("hooked"):
            inbox.close()  # nothing more comes
    except BaseException:
        os._exit(0)
    try:
        if failure is not None:
            raise failure
        request["device"] = device
        if device == "cpu" and request.get("memory_limit"):
            limit_memory(int(request["memory_limit"]))
        forbid_autograd()  # already done while setting up, unless that failed half-way (then it raises above)
    except BaseException as exc:  # the tutor's own failure inside the child: report, never hang
        send(checker_failure(exc), b"", result_fd)
        os._exit(0)

    def more() -> dict[str, Any]:  # the instrumented form, read when the first run that needs it starts
        try:
            return read_frame(inbox)[0]
        finally:
            inbox.close()

    _execute_all(request, runs, lambda header, blob: send(header, blob, result_fd), more)
    os._exit(0)


def send(header: dict[str, Any], blob: bytes, result_fd: int) -> None:
    """One frame to the tutor; the result pipe closed after the last. Exits if the pipe is gone."""
    try:
        write_all(result_fd, encode_frame(header, blob))
        if header.get("last", True):
            os.close(result_fd)
    except OSError:  # the learner's code closed (or replaced) the result pipe: say so by the exit code
        os._exit(RESULT_LOST)  # the zygote has its verdict now, not after this big process is torn down


def checker_failure(exc: BaseException) -> dict[str, Any]:
    """A run's header for the tutor's own failure inside the child (reported as a crash, never a hang)."""
    return {"error": {"kind": "crash", "message": f"checker failure: {exc!r}", "line": None}}


# A run that ended this way says nothing new on another batch, and repeating it only costs time.
STOPS_LATER_RUNS = ("timeout", "output", "memory", "syntax", "forbidden")


def _execute_all(
    request: dict[str, Any], runs: list[dict[str, Any]], emit: Callable[[dict[str, Any], bytes], None],
    more: Callable[[], dict[str, Any]],
) -> None:
    """Each run in turn, each emitted as one frame as soon as it ends ({"last": true} on the final one), so the
    tutor judges it while the next one runs. Once a run stops the others, they are emitted skipped."""
    stopped: dict[str, Any] | None = None
    codes: dict[Any, Any] = {}
    for index, run in enumerate(runs):
        last = index == len(runs) - 1
        try:
            if stopped is not None:
                header, blob = {"error": stopped, "values": [], "output": "", "modified": [], "skipped": True}, b""
            else:
                header, blob = _execute(request, run, codes, more)
                error = header.get("error")
                if error and error.get("kind") in STOPS_LATER_RUNS:
                    stopped = error
        except BaseException as exc:  # the tutor's own failure inside the child: report, never hang
            header, blob = checker_failure(exc), b""
            last = True
        emit({**header, "last": last}, blob)
        if last:
            return


def _compile(request: dict[str, Any], hook: list[str], codes: dict[Any, Any], more: Callable[[], dict[str, Any]]) -> Any:
    """The learner's code object: the tutor's compiled form when it sent one (as it is for runs that capture
    nothing; instrumented for the captured names, in a frame of its own that `more` reads, for the others:
    see client.compiled_form), else compiled here, instrumented when names are captured."""
    if hook and request.get("hooked") and "hooked" not in codes:
        try:
            codes["hooked"] = more().get("code")
        except BaseException:  # noqa: BLE001 - the frame never came (or was taken): compiled here below
            codes["hooked"] = None
    form = codes.get("hooked") if hook else request.get("code")
    if isinstance(form, dict) and isinstance(form.get("code"), str) and set(hook) <= set(form.get("hook") or ()):
        key: Any = ("tutor", bool(hook))
        if key not in codes:  # from the tutor, which is trusted
            codes[key] = marshal.loads(base64.b64decode(form["code"]))
        return codes[key]
    key = tuple(hook)
    if key not in codes:
        learner = LearnerFile(request["source"], request["filename"])
        tree = learner.tree
        if tree is None:  # raise the syntax error as Python words it, for the run to report
            raise learner.syntax_error  # type: ignore[misc]
        codes[key] = compile(instrument(tree, hook, learner.writes) if hook else tree, learner.filename, "exec", dont_inherit=True)
    return codes[key]


def syntax_error(exc: Exception, message: str, line: int | None, lines: list[str]) -> dict[str, Any]:
    """A file that does not compile: its error with where in the line Python's caret points (a ValueError,
    such as a null byte, points nowhere)."""
    error = learner_error("syntax", message, line, lines)
    column, end = getattr(exc, "offset", None), getattr(exc, "end_offset", None)
    if isinstance(column, int) and column > 0 and error["source"] is not None:
        same_line = getattr(exc, "end_lineno", line) == line
        error["column"] = column
        error["end_column"] = end if isinstance(end, int) and same_line and end > column + 1 else None
    return error


def _execute(
    request: dict[str, Any], run: dict[str, Any], codes: dict[Any, Any], more: Callable[[], dict[str, Any]]
) -> tuple[dict, bytes]:
    filename, source = request["filename"], request["source"]
    lines = source.splitlines()
    names: list[str] = request["names"]
    hook: list[str] = list(run.get("hook") or [])
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": filename, "torch": torch, "F": F}
    namespace.update(run.get("scalars", {}))
    device = run["device"]
    given, pristine = run["given"], run["pristine"]  # its own copies (build_runs)
    namespace.update(given)
    captured: dict[str, Any] = {}
    if hook:
        inject = {name: t.to(device) for name, t in run.get("inject", {}).items()}
        hooked = set(hook)

        def finished(name: str) -> None:
            # the learner's value as its finishing statement left it; later lines read the injected gradient
            if name not in hooked:
                return
            value = namespace.get(name)
            captured[name] = value.detach().clone() if isinstance(value, torch.Tensor) else value
            if name in inject:
                namespace[name] = inject[name].clone()

        namespace[FINISH_HOOK] = finished
    else:
        namespace[FINISH_HOOK] = lambda name: None  # the tutor's compiled form calls it in every run
    out = BoundedOutput(int(request.get("output_limit", 1024 * 1024)))
    sys.stdout = sys.stderr = out  # type: ignore[assignment]
    error = None
    try:
        code = _compile(request, hook, codes, more)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        msg = f"{type(exc).__name__}: {getattr(exc, 'msg', None) or exc}"
        return {"error": syntax_error(exc, msg, line, lines), "values": [], "output": ""}, b""

    def on_alarm(signum: int, frame: Any) -> None:
        raise LearnerTimeout

    signal.signal(signal.SIGALRM, on_alarm)
    if device != "cpu":  # a file written for the CPU (torch.zeros(shape), torch.arange(n)) runs unchanged
        torch.set_default_device(device)
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, float(request["timeout"]))
    try:
        exec(code, namespace)
    except AutogradUsed as exc:
        error = learner_error("forbidden", str(exc), learner_line(exc, filename), lines)
    except LearnerTimeout as exc:
        error = learner_error("timeout", f"your code ran longer than {request['timeout']:g} s", learner_line(exc, filename), lines)
    except OutputLimit as exc:
        limit = request.get("output_limit", 1024 * 1024)
        error = learner_error("output", f"your code printed more than {limit // 1024} KiB; it was stopped", learner_line(exc, filename), lines)
    except SystemExit as exc:
        error = learner_error("exception", f"your code called exit({short_repr(exc.code)}); the rest of the file did not run", learner_line(exc, filename), lines)
    except BaseException as exc:
        kind = "memory" if is_memory_error(exc) else "exception"
        message = describe_exception(exc)
        error = learner_error(kind, message, learner_line(exc, filename), lines)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    elapsed = time.perf_counter() - started

    values: list[dict[str, Any]] = []
    found: dict[str, torch.Tensor] = {}
    for name in names:
        # a local-rule run reports the learner's own value at the line that finished it
        value = captured[name] if name in captured else namespace.get(name)
        entry = {"name": name, **describe(value)}
        if entry["kind"] == "tensor":
            found[name] = value
        values.append(entry)
    by_name, blob, unreadable = pack_values(found)
    for entry in values:
        if entry["name"] in by_name:
            entry.update(by_name[entry["name"]])
        elif entry["name"] in unreadable:
            entry.update(kind="other", type=unreadable[entry["name"]])
    modified = []
    for name, before in pristine.items():
        now = namespace.get(name)
        if now is given[name] and not torch.equal(before, now):
            modified.append(name)
    header = {"error": error, "values": values, "output": out.text(), "modified": modified, "elapsed": elapsed}
    return header, blob
