"""Worker processes, each holding one warm Checker (its sandbox, the lecture's contexts) for the whole class:
a task goes to a free worker, its result comes back on that worker's pipe. A worker that dies (or sits on one
file past the watchdog) costs that file a row with the reason and is replaced; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tutor.grading.judge import refused
from tutor.grading.submissions import Task


@dataclass(frozen=True)
class Settings:
    """What every worker's Checker is made with, and how rows are judged."""

    course_root: str
    data: str | None = None
    device: str = "cpu"
    timeout: float = 10.0
    lang: str = "en"
    train_steps: int = 0

    def tag(self) -> str:
        """The part of a result's cache key that the settings decide."""
        return f"{self.device}|{self.timeout:g}|{self.lang}|{self.train_steps}|{self.data or ''}"

    def watchdog_s(self) -> float:
        """Past this a worker is stuck on a file, not judging it (the sandbox stops the file's own runs)."""
        runs = 6 if not self.train_steps else 6 + self.train_steps / 50
        return 60.0 + runs * self.timeout * 2


def open_checker(settings: Settings):
    import warnings

    warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
    from tutor.course import load_course
    from tutor.engine.check import Checker

    course = load_course(Path(settings.course_root))
    data = Path(settings.data) if settings.data else None
    return course, Checker(course, data=data, device=settings.device, timeout=settings.timeout, back_to_back=True)


def worker_main(conn: Connection, settings: Settings) -> None:
    """A worker: build the Checker, say ready, then judge each task sent until None (or the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from tutor.grading.judge import judge_task

    try:
        course, checker = open_checker(settings)
    except Exception as exc:  # noqa: BLE001 - said once by the parent, in one line
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    judged = 0
    with checker:
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return
            if task is None:
                return
            conn.send(("done", judge_task(checker, course, task, settings.lang, settings.train_steps)))
            judged += 1
            if judged == 1:
                # what the worker keeps from here on (the checker, its contexts): out of the collector's way, which
                # would otherwise walk it again in every collection of what each file leaves behind
                gc.collect()
                gc.freeze()


class WorkerFailed(Exception):
    """No worker could start (the data file, the device): said in one line."""


@dataclass
class Worker:
    process: Any
    conn: Connection
    task: tuple[int, Task] | None = None
    since: float = 0.0
    ready: bool = False


class Pool:
    """`jobs` workers; `run(tasks, on_result)` judges every task and calls on_result(index, result) as each
    comes back (in the order they finish)."""

    def __init__(self, settings: Settings, jobs: int) -> None:
        self.settings = settings
        self.jobs = max(1, jobs)
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[Worker] = []

    def _start(self) -> Worker:
        mine, theirs = self.context.Pipe()
        process = self.context.Process(target=worker_main, args=(theirs, self.settings), daemon=True, name="grade-worker")
        with sigint_ignored():  # inherited through exec: a Ctrl-C while the worker imports is the parent's alone
            process.start()
        theirs.close()
        return Worker(process, mine)

    def run(self, tasks: list[tuple[int, Task]], on_result: Callable[[int, dict[str, Any]], None]) -> None:
        retry: list[tuple[int, Task]] = []  # files whose worker died under them, to be judged once more
        given_again: set[int] = set()
        queue: Iterator[tuple[int, Task]] = iter(tasks)
        pending = len(tasks)
        self.workers = [self._start() for _ in range(min(self.jobs, max(pending, 1)))]
        failures = 0
        try:
            while pending:
                self._feed(retry, queue)
                ready = wait([w.conn for w in self.workers] + [w.process.sentinel for w in self.workers], timeout=1.0)
                for worker in list(self.workers):
                    if worker.conn in ready:
                        try:
                            kind, value = worker.conn.recv()
                        except (EOFError, OSError):
                            kind, value = "died", None
                    elif worker.process.sentinel in ready and not worker.process.is_alive():
                        kind, value = "died", None
                    elif worker.task and time.monotonic() - worker.since > self.settings.watchdog_s():
                        kind, value = "stuck", None
                    else:
                        continue
                    if kind == "failed":
                        failures += 1
                        if failures >= self.jobs:
                            raise WorkerFailed(value)
                        self._replace(worker)
                    elif kind == "ready":
                        worker.ready = True
                    elif kind == "done" and worker.task:
                        index, _ = worker.task
                        worker.task = None
                        pending -= 1
                        on_result(index, value)
                    else:  # the worker died or hung on its file
                        if worker.task and kind == "died" and worker.task[0] not in given_again:
                            # killed from outside (the OOM killer, a kill -9) as likely as by the file (its code runs
                            # in a sandboxed child): judged once more on a fresh worker before the file is blamed
                            given_again.add(worker.task[0])
                            retry.append(worker.task)
                        elif worker.task:  # that file's row says so
                            index, task = worker.task
                            pending -= 1
                            worker.process.join(1.0)
                            why = "ran past the grader's watchdog" if kind == "stuck" else f"stopped the grader's worker twice (exit {worker.process.exitcode})"
                            on_result(index, refused(task, f"this file {why}; it was not judged"))
                        worker.task = None
                        self._replace(worker)
        finally:
            self.close()

    def _feed(self, retry: list[tuple[int, Task]], queue: Iterator[tuple[int, Task]]) -> None:
        """Give each idle worker its next file: one to be judged again first, then the queue's next."""
        for worker in self.workers:
            if worker.ready and worker.task is None:
                item = retry.pop(0) if retry else next(queue, None)
                if item is None:
                    return
                worker.task, worker.since = item, time.monotonic()
                worker.conn.send(item[1])

    def _replace(self, worker: Worker) -> None:
        self._stop(worker)
        self.workers[self.workers.index(worker)] = self._start()

    def _stop(self, worker: Worker) -> None:
        try:
            worker.conn.close()
        except OSError:
            pass
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(2)
            if worker.process.is_alive():
                worker.process.kill()
        worker.process.join(1)

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive() and worker.task is None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 3
        for worker in self.workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            self._stop(worker)
        self.workers = []


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to hand on
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
