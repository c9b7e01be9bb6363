"""Adversarial training with FGM (Fast Gradient Method, Miyato et al. 2017) on the word embeddings.

Each training step: the usual forward / backward; then the word-embedding matrix is moved by
epsilon * g / ||g|| (g: its gradient), a second forward / backward at the perturbed embeddings adds
its gradients, and the embeddings are put back before the optimizer step. The step costs about two
forward / backward passes."""
from __future__ import annotations

import torch
from transformers import Trainer

from ..errors import SegscopeError


def word_embeddings(model: torch.nn.Module) -> torch.nn.Parameter:
    return model.get_input_embeddings().weight


class FGM:
    """Perturb and restore one embedding matrix along its gradient."""

    def __init__(self, param: torch.nn.Parameter, epsilon: float):
        self.param, self.epsilon = param, epsilon
        self.backup: torch.Tensor | None = None

    def attack(self) -> bool:
        """Add epsilon * g / ||g||; False (nothing changed) when there is no usable gradient."""
        grad = self.param.grad
        if grad is None:
            return False
        norm = torch.linalg.vector_norm(grad.float())
        if not torch.isfinite(norm) or norm == 0:
            return False
        self.backup = self.param.data.clone()
        self.param.data.add_((self.epsilon * grad / norm).to(self.param.dtype))
        return True

    def restore(self) -> None:
        if self.backup is not None:
            self.param.data.copy_(self.backup)
            self.backup = None


class FGMTrainer(Trainer):
    """A Trainer whose training step adds the loss at FGM-perturbed word embeddings."""

    def __init__(self, *args, fgm_epsilon: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fgm_epsilon = fgm_epsilon
        self.adversarial_losses: list[float] = []

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)  # forward + backward
        param = word_embeddings(self.accelerator.unwrap_model(model))
        if not param.requires_grad:
            raise SegscopeError("FGM needs trainable word embeddings; it cannot be combined with LoRA.")
        fgm = FGM(param, self.fgm_epsilon)
        if fgm.attack():
            try:  # gradients of the perturbed loss add to the clean ones
                adv = super().training_step(model, inputs, num_items_in_batch)
                self.adversarial_losses.append(float(adv))
            finally:
                fgm.restore()
        return loss
