"""Sub-models and study cells on a Ray cluster: Ray tasks behind the library's two maps.

The K sub-models of a sharded method are independent: :func:`ray_shard_map` trains each one as
a Ray task (one GPU per task where the cluster has GPUs), on the local machine or on a running
cluster. Ray is optional (``pip install "rec_unlearn_lib[ray]"``); without it the default
``map`` trains the sub-models one after another, with the same results::

    from rec_unlearn_lib.parallel import ray_shard_map
    method = RecEraser("bpr", shard_map=ray_shard_map())

``ray.init`` is called once if Ray is not running yet: it connects to the cluster named by
``$RAY_ADDRESS`` (Ray's own variable, e.g. ``ray://head:10001`` or ``auto``), else starts a
local instance. Each task trains with as many torch threads as CPUs it reserved, so tasks do
not oversubscribe a machine; with the same threads, a sub-model trained through Ray equals one
trained in the calling process bit for bit on the CPU. A task that fails is retried
(``max_retries``) and otherwise reported with its shard; the results of the other tasks are
discarded, so nothing is half-updated.

:func:`ray_imap` is the study's map (``study --engine ray``): it yields each job's result as soon as
its task finishes, so the study writes every finished group of cells at once.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, TypeVar

import torch

Job = TypeVar("Job")
Result = TypeVar("Result")


class ShardTaskError(RuntimeError):
    """A Ray task failed (a sub-model's training after its retries, or a study's group of cells)."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError("ray_shard_map needs Ray: pip install 'rec_unlearn_lib[ray]' (or pip install ray)") from None
    return ray


def _with_threads(fn: Callable[[Job], Result], threads: int) -> Callable[[Job], Result]:
    def run(job: Job) -> Result:
        torch.set_num_threads(threads)
        return fn(job)
    return run


def _gpus(job: Any, num_gpus: float | None) -> float:
    if num_gpus is not None:
        return num_gpus
    device = getattr(job, "device", None)
    return 1 if device is not None and torch.device(device).type == "cuda" else 0


ShardMap = Callable[[Callable[[Job], Result], Iterable[Job]], list[Result]]


def ray_shard_map(num_cpus: int = 1, num_gpus: float | None = None, max_retries: int = 2,
                  init: dict[str, Any] | None = None) -> ShardMap:
    """A ``shard_map`` that runs each job as a Ray task and returns the results in job order.

    Args:
        num_cpus: CPUs reserved per task (and torch threads in it).
        num_gpus: GPUs per task; default 1 for a job whose ``device`` is a GPU, else 0.
        max_retries: retries of a task whose worker died or that raised.
        init: keyword arguments of ``ray.init`` when Ray is not running yet (e.g. ``{"num_cpus": 2}``).

    Raises:
        ImportError: Ray is not installed.
    """
    ray = _import_ray()

    def shard_map(fn: Callable[[Job], Result], jobs: Iterable[Job]) -> list[Result]:
        if not ray.is_initialized():
            ray.init(**(init or {}))
        task = ray.remote(_with_threads(fn, num_cpus))
        jobs = list(jobs)
        refs = [task.options(num_cpus=num_cpus, num_gpus=_gpus(job, num_gpus), max_retries=max_retries,
                             retry_exceptions=True).remote(job) for job in jobs]
        results = []
        for job, ref in zip(jobs, refs):
            try:
                results.append(ray.get(ref))
            except Exception as err:     # ray.exceptions.RayTaskError and worker deaths
                _cancel_unfinished(ray, refs)    # the failed task has finished: it is left alone
                cell = getattr(job, "shard", job)
                raise ShardTaskError(f"training sub-model {cell} failed after {max_retries} retries: {err}") from err
        return results

    return shard_map


def _cancel_unfinished(ray: Any, refs: list[Any]) -> None:
    """Cancel the tasks of ``refs`` that have not finished, without force (killing a worker mid-task took the
    driver down with it). A finished or failed task is left alone: cancelling one whose reply the driver is still
    processing can abort the driver in Ray's own code (the check ``it != submissible_tasks_.end()``, a race between
    cancellation and a task's reply, ray-project/ray#54798), which ended test runs here."""
    if refs:
        _, unfinished = ray.wait(refs, num_returns=len(refs), timeout=0)
        for other in unfinished:
            ray.cancel(other)


def ray_imap(fn: Callable[[Job], Result], jobs: Iterable[Job], num_cpus: int = 1, num_gpus: float | None = None,
             init: dict[str, Any] | None = None) -> Iterator[tuple[int, Result]]:
    """Run ``fn`` on every job as a Ray task; yield ``(index of the job, result)`` in the order tasks finish.

    Args:
        num_cpus, num_gpus, init: as :func:`ray_shard_map` (one GPU per task whose job runs on a GPU).

    Raises:
        ImportError: Ray is not installed.
        ShardTaskError: a task failed. Whenever the iteration ends early (a failed task, an error in the
            caller, the caller stopping), the tasks not yet finished are cancelled.
    """
    ray = _import_ray()
    if not ray.is_initialized():
        ray.init(**(init or {}))
    task = ray.remote(_with_threads(fn, num_cpus))
    jobs = list(jobs)
    pending = {task.options(num_cpus=num_cpus, num_gpus=_gpus(job, num_gpus)).remote(job): j
               for j, job in enumerate(jobs)}
    try:
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ref)
            try:
                result = ray.get(ref)
            except Exception as err:     # ray.exceptions.RayTaskError and worker deaths
                raise ShardTaskError(f"job {index} ({jobs[index]!r:.200}) failed: {err}") from err
            yield index, result
    finally:                             # an error here or in the caller, or the caller stopped: no task left over
        _cancel_unfinished(ray, list(pending))
