"""Matrix factorisation: ``s_ui = p_u . q_i`` with no biases (as in all three papers' code)."""

from __future__ import annotations

import torch

from .base import EmbeddingModel


class MF(EmbeddingModel):
    """Matrix factorisation; its representations are the embedding tables themselves.

    Trained with BCE it is IFRU's MF, with BPR it is BPR-MF, with the whole-data
    weighted loss it is WMF: the objective, not the model, makes the difference.

    Args:
        num_users, num_items: id-space sizes.
        emb_dim: embedding size ``d``.
        objective: the training loss.
        init_std, generator: the initialisation (see :class:`~.base.EmbeddingModel`).
    """

    name = "mf"

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb, self.item_emb
