"""Write and measure files in other processes while the device predicts the next ones.

The folder loop of :class:`~migraseg.inference.predict_files.BatchPredictor` is a bounded
pipeline: a reader thread reads the next file (:mod:`.prefetch`), the main process runs the
network, and :class:`WriterPool`'s processes measure each predicted file and write its outputs
(:class:`~migraseg.inference.file_writer.OutputWriter`). Files keep their order: each input
takes a :class:`Slot` when the loop reaches it, and its outcome is handed back (to update the
manifest and report it) only after every earlier input's. At most ``workers + 1`` files wait
in writers, so memory stays bounded; with ``workers=0`` everything runs in the main process.

Writer processes ignore Ctrl-C and leave stopping to the main process: interrupted (Ctrl-C,
or SIGTERM at a cluster's time limit), it records the files writers had finished and stops the
others at once, which removes their unfinished temporary files; a rerun redoes only those.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from migraseg.inference.file_writer import FilePlan, FileReport, LabelBlocks, OutputWriter
from migraseg.inference.planes import PlaneSource

MAX_WORKERS = 4  # measuring and writing keep up with one device with this many


def default_workers(n_files: int) -> int:
    """Writer processes for a run of ``n_files``: none for one file (nothing to overlap), else
    one per spare core, at most :data:`MAX_WORKERS`."""
    if n_files < 2:
        return 0
    return max(1, min(MAX_WORKERS, (os.cpu_count() or 1) - 1))


@dataclass
class WriteJob:
    """A predicted file, ready to be measured and written (picklable)."""

    path: Path
    plan: FilePlan  # its layout holds the whole image (a prefetch.LoadedImage)
    outputs: dict[str, Path]
    labels: list[np.ndarray]  # per frame, (Y, X) uint8
    scaled: list[np.ndarray]  # per frame, (len(writer.classes), Y, X) uint8 probabilities

    def infer(self, index: int, source: PlaneSource) -> LabelBlocks:
        """The frame's labels, as :data:`~migraseg.inference.file_writer.Infer` hands them."""
        yield 0, self.labels[index], self.scaled[index]


def write_job(writer: OutputWriter, job: WriteJob) -> FileReport:
    """Measure a predicted file and write all its outputs (in a writer process)."""
    return writer.write_file(job.path, job.plan, job.infer, job.outputs)


def _writer_signals() -> None:
    """Writer processes leave Ctrl-C to the main process, which stops them with SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)


def _stop(signum: int, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds atomic writes, removing their temporary files


@dataclass
class Slot:
    """One input's place in the loop's order, filled with its outcome: a report, an error
    or a pending :class:`~concurrent.futures.Future` of either."""

    then: Callable[[FileReport | BaseException], None]
    outcome: FileReport | BaseException | Future | None = None

    def fill(self, outcome: FileReport | BaseException | Future) -> None:
        self.outcome = outcome

    @property
    def filled(self) -> bool:
        return self.outcome is not None

    @property
    def ready(self) -> bool:
        """Filled, and not waiting for a writer."""
        return self.filled and not (isinstance(self.outcome, Future) and not self.outcome.done())

    @property
    def cancelled(self) -> bool:
        return isinstance(self.outcome, Future) and self.outcome.cancelled()

    def result(self) -> FileReport | BaseException:
        """The outcome, waiting for a writer if need be."""
        if not isinstance(self.outcome, Future):
            return self.outcome
        error = self.outcome.exception()
        if isinstance(error, BrokenProcessPool):
            return RuntimeError(
                "a writer process died while this file was with it (out of memory?); nothing "
                "of it was recorded: rerun to redo it"
            )
        return error if error is not None else self.outcome.result()


class WriterPool:
    """Writer processes and the ordered slots of a run (use as a context manager).

    Args:
        writer: what measures and writes each file.
        workers: writer processes (0: write in the calling process).
        work: what a writer does with a job (a module-level function, so it pickles).
    """

    def __init__(
        self,
        writer: OutputWriter,
        workers: int,
        work: Callable[[OutputWriter, WriteJob], FileReport] = write_job,
    ):
        self.writer, self.workers, self.work = writer, workers, work
        self.slots: deque[Slot] = deque()
        self.executor: ProcessPoolExecutor | None = None

    def slot(self, then: Callable[[FileReport | BaseException], None]) -> Slot:
        """A place for the next input; ``then`` gets its outcome, in input order."""
        self.slots.append(Slot(then))
        return self.slots[-1]

    def submit(self, slot: Slot, job: WriteJob) -> None:
        """Measure and write ``job`` in a writer process (here, without workers)."""
        if not self.workers:
            try:
                slot.fill(self.work(self.writer, job))
            except Exception as err:  # reported as that file's failure
                slot.fill(err)
            return
        try:
            slot.fill(self.executor_ready().submit(self.work, self.writer, job))
        except BrokenProcessPool:  # a writer died: its files fail, the next ones get new writers
            self.executor.shutdown(wait=False)
            self.executor = None
            slot.fill(self.executor_ready().submit(self.work, self.writer, job))

    def executor_ready(self) -> ProcessPoolExecutor:
        """The writer processes, started on first use: spawned, not forked, because the main
        process runs threads (torch, the reader)."""
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                self.workers, multiprocessing.get_context("spawn"), initializer=_writer_signals
            )
        return self.executor

    def hand_back(self, keep: int) -> None:
        """Hand back outcomes in order, waiting for writers while more than ``keep`` filled
        slots are pending; stops at the first slot not yet filled."""
        while self.slots and self.slots[0].filled:
            waiting = sum(s.filled and not s.ready for s in self.slots)
            if waiting <= keep and not self.slots[0].ready:
                return
            slot = self.slots.popleft()
            slot.then(slot.result())

    def finish(self) -> None:
        """Hand back every outcome (all slots must be filled)."""
        self.hand_back(keep=-1)

    def __enter__(self) -> WriterPool:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        """On an interruption, stop the writers at once (their unfinished files are removed)
        and hand back what they had finished; the rest gets the interruption as outcome."""
        try:
            if error is not None:
                futures = [s.outcome for s in self.slots if isinstance(s.outcome, Future)]
                for future in futures:
                    future.cancel()
                self.stop_writers()
                wait(futures)
                while self.slots:
                    slot = self.slots.popleft()
                    slot.then(slot.result() if slot.filled and not slot.cancelled else error)
        finally:
            if self.executor is not None:
                self.executor.shutdown(wait=True, cancel_futures=True)

    def stop_writers(self) -> None:
        """SIGTERM to every writer process (see :func:`_writer_signals`)."""
        if self.executor is None:
            return
        processes = getattr(self.executor, "_processes", None) or {}  # no public list before 3.14
        for process in list(processes.values()):
            if process.is_alive():
                process.terminate()
