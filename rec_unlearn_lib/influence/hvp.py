"""The objective adapter: a parameter subset phi and Hessian-vector products on it.

The user's problem enters the influence machinery through one object,
:class:`InfluenceProblem`. It holds

* the parameters the influence is taken with respect to, as a list of
  :class:`ParameterBlock` (a tensor, or selected rows of a tensor such as an
  embedding table; IFRU's pruned parameter set phi, Zhang et al. 2024, Eq. 17-19);
* a closure ``loss_fn() -> scalar`` giving the MEAN training loss over all of D,
  computed from the live tensors of the model;
* an optional regulariser ``regularizer() -> scalar`` Omega(theta).

The objective whose Hessian is taken is::

    J(theta; D) = loss_fn() + regularizer()  =  (1/|D|) sum_{z in D} l(z; theta) + Omega(theta).

Everything else (frozen parameters psi, data, graph structure) is a constant of the
closures. Solvers only ever see the flat vector functions this class exposes
(``hvp``), never the model.

Flat layout. ``phi`` is the concatenation over blocks of ``tensor[rows].reshape(-1)``
(row-major), so a block of ``r`` rows of an ``(R, d)`` table occupies ``r * d``
consecutive entries. ``p = num_params`` is the total length.

Costs (``n`` = rows of data touched by the closure, ``P`` = total size of the
tensors that carry blocks):

* :meth:`InfluenceProblem.grad`: one forward and one backward pass, O(n P) time.
* :meth:`InfluenceProblem.hvp`: double back-propagation (Pearlmutter 1994),
  ``H v = grad_theta( grad_theta J(theta)^T v )``, i.e. IFRU Eq. 16. Without a cached
  graph this is a forward pass, a backward pass with ``create_graph=True`` and a
  second backward pass, about 3-4 gradient evaluations; inside
  :meth:`InfluenceProblem.frozen_graph` the first-order graph is built once and each
  product costs one extra backward pass (what the official IFRU code does). Memory is
  the graph of the gradient plus O(P) for the zero-padded direction. The Hessian is
  never materialised.
* :meth:`InfluenceProblem.explicit_hessian`: ``p`` Hessian-vector products and
  O(p^2) memory; for small problems and tests only.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence, Union

import torch
from torch import Tensor

__all__ = [
    "LossClosure",
    "BlockSpec",
    "ParameterBlock",
    "InfluenceProblem",
]

LossClosure = Callable[[], Tensor]
"""A function of no argument returning a scalar loss computed from the live tensors."""

RowsLike = Union[Tensor, Sequence[int], None]
BlockSpec = Union[Tensor, "ParameterBlock", tuple[Tensor, RowsLike]]
"""A tensor (all of it), a ``(tensor, rows)`` pair (``rows=None`` means all rows) or a block."""


@dataclass(frozen=True)
class ParameterBlock:
    """Selected rows of one parameter tensor.

    Attributes:
        tensor: a leaf tensor with ``requires_grad=True`` (an ``nn.Parameter`` such as
            ``nn.Embedding.weight``), shape ``(R, *S)``.
        rows: ``LongTensor`` of shape ``(r,)`` with distinct row indices in ``[0, R)``,
            on the tensor's device, or ``None`` for the whole tensor.
    """

    tensor: Tensor
    rows: Tensor | None = None

    @staticmethod
    def create(tensor: Tensor, rows: RowsLike = None) -> "ParameterBlock":
        """Validate and normalise ``rows`` (a sequence or tensor of ints, or None)."""
        if not isinstance(tensor, Tensor):
            raise TypeError(f"expected a tensor, got {type(tensor).__name__}")
        if not tensor.requires_grad or not tensor.is_leaf:
            raise ValueError(
                "each parameter block must be a leaf tensor with requires_grad=True "
                "(e.g. an nn.Parameter)"
            )
        if rows is None:
            return ParameterBlock(tensor, None)
        idx = torch.as_tensor(rows, dtype=torch.long, device=tensor.device).reshape(-1)
        if tensor.dim() == 0:
            raise ValueError("row selection needs a tensor with at least one dimension")
        if idx.numel() > 0:
            if int(idx.min()) < 0 or int(idx.max()) >= tensor.shape[0]:
                raise IndexError(
                    f"row index out of range [0, {tensor.shape[0]}) for tensor of shape "
                    f"{tuple(tensor.shape)}"
                )
            if torch.unique(idx).numel() != idx.numel():
                raise ValueError("row indices of a block must be distinct")
        return ParameterBlock(tensor, idx)

    @property
    def shape(self) -> torch.Size:
        """Shape of the selected part: ``(r, *S)``, or the tensor's shape if ``rows`` is None."""
        if self.rows is None:
            return self.tensor.shape
        return torch.Size((self.rows.numel(), *self.tensor.shape[1:]))

    @property
    def numel(self) -> int:
        """Number of scalar parameters in the block."""
        return math.prod(self.shape)

    def select(self, full: Tensor) -> Tensor:
        """The selected part of a tensor shaped like ``self.tensor`` (e.g. its gradient)."""
        return full if self.rows is None else full.index_select(0, self.rows)

    def mask(self) -> Tensor:
        """Boolean mask over the rows of ``tensor`` that this block selects (shape ``(R,)``)."""
        m = torch.zeros(self.tensor.shape[0] if self.tensor.dim() else 1, dtype=torch.bool,
                        device=self.tensor.device)
        if self.rows is None:
            m[:] = True
        else:
            m[self.rows] = True
        return m


class InfluenceProblem:
    """Objective adapter: the parameter subset phi, the training objective and its HVPs.

    Args:
        params: the blocks that make up phi, each a tensor, a ``(tensor, rows)`` pair or a
            :class:`ParameterBlock`. Several blocks may share a tensor if their rows are
            disjoint (e.g. users and items in one table). All blocks share dtype and device.
        loss_fn: closure returning the MEAN training loss over all of D (a scalar), computed
            from the live tensors; IFRU uses the full-batch mean BCE (official code, ``loss_fun``).
        regularizer: optional closure returning Omega(theta) (e.g. ``lam/2 * ||theta||^2``). It is
            part of the objective J whose gradient and Hessian are taken, so an L2 term makes a
            convex loss strongly convex. See :func:`influence_unlearn` for how it enters the
            forget gradient.

    Example:
        >>> problem = InfluenceProblem(
        ...     [(model.user_emb.weight, users), (model.item_emb.weight, items)],
        ...     loss_fn=lambda: model.loss(train_batch),           # mean over D
        ... )
        >>> hv = problem.hvp(torch.ones(problem.num_params, dtype=torch.float64))
    """

    def __init__(
        self,
        params: Sequence[BlockSpec],
        loss_fn: LossClosure,
        regularizer: LossClosure | None = None,
    ) -> None:
        blocks: list[ParameterBlock] = []
        for spec in params:
            if isinstance(spec, ParameterBlock):
                blocks.append(ParameterBlock.create(spec.tensor, spec.rows))
            elif isinstance(spec, Tensor):
                blocks.append(ParameterBlock.create(spec, None))
            else:
                tensor, rows = spec
                blocks.append(ParameterBlock.create(tensor, rows))
        if not blocks:
            raise ValueError("an InfluenceProblem needs at least one parameter block")
        dtypes = {b.tensor.dtype for b in blocks}
        devices = {b.tensor.device for b in blocks}
        if len(dtypes) != 1 or len(devices) != 1:
            raise ValueError(f"all blocks must share dtype and device, got {dtypes}, {devices}")

        # Unique tensors (autograd inputs) and, per block, the index of its tensor.
        self._tensors: list[Tensor] = []
        self._owner: list[int] = []
        for b in blocks:
            for j, t in enumerate(self._tensors):
                if t is b.tensor:
                    self._owner.append(j)
                    break
            else:
                self._tensors.append(b.tensor)
                self._owner.append(len(self._tensors) - 1)
        for j, t in enumerate(self._tensors):
            masks = [b.mask() for b, o in zip(blocks, self._owner) if o == j]
            if len(masks) > 1 and int(torch.stack(masks).sum(0).max()) > 1:
                raise ValueError("blocks of the same tensor must select disjoint rows")

        self.blocks: tuple[ParameterBlock, ...] = tuple(blocks)
        self.loss_fn: LossClosure = loss_fn
        self.regularizer: LossClosure | None = regularizer
        self._sizes: list[int] = [b.numel for b in blocks]
        self._frozen: tuple[tuple[int, ...], list[Tensor]] | None = None
        self._frozen_depth: int = 0

    # ------------------------------------------------------------------ layout
    @property
    def num_params(self) -> int:
        """Length ``p`` of the flat vector phi."""
        return sum(self._sizes)

    @property
    def dtype(self) -> torch.dtype:
        return self.blocks[0].tensor.dtype

    @property
    def device(self) -> torch.device:
        return self.blocks[0].tensor.device

    def flat(self) -> Tensor:
        """Current values of phi as a detached flat copy, shape ``(p,)``."""
        return torch.cat([b.select(b.tensor.detach()).reshape(-1) for b in self.blocks]).clone()

    def unflatten(self, vec: Tensor) -> list[Tensor]:
        """Split a flat ``(p,)`` vector into block-shaped pieces (views of ``vec``)."""
        self._check_vec(vec)
        return [piece.view(b.shape) for piece, b in zip(torch.split(vec, self._sizes), self.blocks)]

    def _check_vec(self, vec: Tensor) -> None:
        if vec.dim() != 1 or vec.numel() != self.num_params:
            raise ValueError(f"expected a flat vector of shape ({self.num_params},), got "
                             f"{tuple(vec.shape)}")

    def _gather(self, fulls: Sequence[Tensor]) -> Tensor:
        """Flat ``(p,)`` vector of the selected entries of per-tensor quantities (e.g. gradients)."""
        return torch.cat([b.select(fulls[o]).reshape(-1) for b, o in zip(self.blocks, self._owner)])

    def _scatter(self, vec: Tensor) -> list[Tensor]:
        """Zero-padded per-tensor copies of a flat vector (entries outside phi are zero)."""
        fulls = [torch.zeros_like(t, memory_format=torch.contiguous_format) for t in self._tensors]
        for piece, b, o in zip(self.unflatten(vec), self.blocks, self._owner):
            if b.rows is None:
                fulls[o] = fulls[o] + piece
            else:
                fulls[o].index_copy_(0, b.rows, piece)
        return fulls

    # --------------------------------------------------------------- objective
    def objective(self) -> Tensor:
        """J(theta; D) = loss_fn() + regularizer(): the objective whose Hessian is taken."""
        value = self.loss_fn()
        if self.regularizer is not None:
            value = value + self.regularizer()
        return value

    def with_loss(self, loss_fn: LossClosure, regularizer: LossClosure | None = None
                  ) -> "InfluenceProblem":
        """A problem over the same phi with another objective (e.g. the forget-set loss)."""
        return InfluenceProblem(self.blocks, loss_fn, regularizer)

    def grad(self, loss: Tensor | LossClosure | None = None) -> Tensor:
        """Gradient of a scalar with respect to phi, shape ``(p,)``, detached.

        Args:
            loss: a scalar tensor already computed from the live tensors, a closure returning one,
                or None for the objective J. Cost: one backward pass (plus a forward for closures).
        """
        with torch.enable_grad():
            value = self.objective() if loss is None else (loss() if callable(loss) else loss)
            _check_scalar(value)
            if not value.requires_grad:
                return torch.zeros(self.num_params, dtype=self.dtype, device=self.device)
            grads = torch.autograd.grad(value, self._tensors, allow_unused=True,
                                        materialize_grads=True)
        return self._gather(grads).detach()

    # ------------------------------------------------------------------- HVPs
    def _versions(self) -> tuple[int, ...]:
        return tuple(t._version for t in self._tensors)

    def _first_order(self, loss_fn: LossClosure | None, keep: bool) -> list[Tensor] | None:
        """Gradient graph of the objective (or ``loss_fn``) w.r.t. the tensors, create_graph=True."""
        if loss_fn is None and self._frozen is not None:
            versions, grads = self._frozen
            if versions != self._versions():
                raise RuntimeError(
                    "a parameter of the InfluenceProblem was modified inside frozen_graph(); "
                    "the cached Hessian would be stale"
                )
            return grads
        value = self.objective() if loss_fn is None else loss_fn()
        _check_scalar(value)
        if not value.requires_grad:
            return None
        grads = list(torch.autograd.grad(value, self._tensors, create_graph=True,
                                         allow_unused=True, materialize_grads=True))
        if keep:
            self._frozen = (self._versions(), grads)
        return grads

    @contextlib.contextmanager
    def frozen_graph(self) -> Iterator["InfluenceProblem"]:
        """Build the first-order graph of J once and reuse it for every HVP inside the block.

        Each :meth:`hvp` then costs one backward pass instead of a forward and two backward
        passes. The Hessian is that of theta at entry: modifying a block's tensor in place inside
        the block raises an error at the next product; anything else the closures read (data,
        frozen parameters) must not change either. Memory: the graph is kept alive until exit.
        """
        self._frozen_depth += 1
        try:
            if self._frozen_depth == 1:
                with torch.enable_grad():
                    self._first_order(None, keep=True)
            yield self
        finally:
            self._frozen_depth -= 1
            if self._frozen_depth == 0:
                self._frozen = None

    def hvp(self, v: Tensor, loss_fn: LossClosure | None = None) -> Tensor:
        """Hessian-vector product ``H v`` with ``H = d^2 J / d phi^2`` (IFRU Eq. 16), shape ``(p,)``.

        ``v`` is zero-padded outside phi, so the result is the phi-phi block of the full Hessian
        times ``v`` (psi fixed, IFRU Eq. 17-18).

        Args:
            v: flat direction, shape ``(p,)``, same dtype/device as the parameters.
            loss_fn: take the Hessian of this closure instead of J (no caching, regulariser not
                added); used for stochastic LiSSA batches and the retain-set Hessian.
        """
        self._check_vec(v)
        v = v.detach()
        with torch.enable_grad():
            keep = loss_fn is None and self._frozen is not None
            grads = self._first_order(loss_fn, keep=False)
            if grads is None:
                return torch.zeros_like(v)
            dot = sum((g * w).sum() for g, w in zip(grads, self._scatter(v)))
            if not dot.requires_grad:  # gradient does not depend on theta: H = 0
                return torch.zeros_like(v)
            hv = torch.autograd.grad(dot, self._tensors, retain_graph=keep, allow_unused=True,
                                     materialize_grads=True)
        return self._gather(hv).detach()

    def explicit_hessian(self, loss_fn: LossClosure | None = None) -> Tensor:
        """The ``(p, p)`` Hessian of J (or ``loss_fn``) w.r.t. phi, column by column.

        Cost: ``p`` HVPs (the first-order graph is built once) and O(p^2) memory. Small problems
        only: it exists for the direct reference solver and for tests.
        """
        p = self.num_params
        eye = torch.eye(p, dtype=self.dtype, device=self.device)
        if loss_fn is None:
            with self.frozen_graph():
                cols = [self.hvp(eye[j]) for j in range(p)]
        else:
            cols = [self.hvp(eye[j], loss_fn) for j in range(p)]
        return torch.stack(cols, dim=1)

    # ---------------------------------------------------------------- updates
    @torch.no_grad()
    def apply_update(self, delta: Tensor, alpha: float = 1.0) -> None:
        """In place ``phi <- phi + alpha * delta``, writing only the selected rows.

        Args:
            delta: flat update, shape ``(p,)``.
            alpha: step multiplier.
        """
        for piece, b in zip(self.unflatten(delta.to(self.dtype)), self.blocks):
            if b.rows is None:
                b.tensor.add_(piece, alpha=alpha)
            else:
                b.tensor.index_add_(0, b.rows, piece, alpha=alpha)

    @torch.no_grad()
    def set_flat(self, values: Tensor) -> None:
        """In place ``phi <- values`` (shape ``(p,)``), writing only the selected rows."""
        for piece, b in zip(self.unflatten(values.to(self.dtype)), self.blocks):
            if b.rows is None:
                b.tensor.copy_(piece)
            else:
                b.tensor.index_copy_(0, b.rows, piece)

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(b.shape)) for b in self.blocks)
        return (f"InfluenceProblem(p={self.num_params}, blocks=[{shapes}], dtype={self.dtype}, "
                f"regularizer={'yes' if self.regularizer is not None else 'no'})")


def _check_scalar(value: Tensor) -> None:
    if not isinstance(value, Tensor) or value.numel() != 1:
        raise ValueError("loss closures must return a scalar tensor")
