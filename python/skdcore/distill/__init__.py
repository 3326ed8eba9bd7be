"""SKD for any PyTorch model, in your own training loop (plain PyTorch, Lightning, MMAction2 / PYSKL).

    from skdcore.distill import Distiller

    distiller = Distiller(teacher, student, adaption=(256, 256))    # + SKD's 1x1 adaption conv
    optimizer = torch.optim.SGD(distiller.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    for hq, lq, labels in loader:
        optimizer.zero_grad()
        out = distiller(hq, lq, labels)        # teacher(hq) frozen, student(lq), the four losses
        distiller.backward(out)                # revised gradient added to p.grad
        optimizer.step()
        log(out.loss.item())                   # the total loss (out.losses: each one by name)

Gradient accumulation: ``distiller.backward(out, micro_batches=k)`` for each of k micro-batches, then
``optimizer.step()`` (each micro-batch is revised on its own; see ``Distiller.backward``). Lightning:
manual optimisation (``automatic_optimization = False``) with the same calls in ``training_step``. Own
loss terms: ``backward(out, task_losses={...}, distillation_losses={...})``. No revision at all:
``Distiller(..., gradient_revision=False)`` and ``out.loss.backward()``.

A model returns ``(logits, features)`` with features (N, C, T, V) or (N, C, T, V, M), or returns logits
and names its feature layer (``student_layer="backbone.layer10"``, read by a forward hook). The losses
are SKD's: cross-entropy, KL(teacher || student) without temperature, feature MSE, graph matching
(skdcore's fused op), weight 1 each; gradient revision projects a distillation gradient that conflicts
with the task gradient off it, over all parameters as one vector. Mixed precision: run the models under
``torch.autocast``; the losses are computed in float32, and ``distiller.backward(out, scaler)`` scales
each loss with a ``torch.amp.GradScaler``. Under ``torch.distributed`` the distiller averages the
gradients over ranks itself (a DistributedDataParallel student is unwrapped). ``skd distill`` trains
with this same class.
"""
from .distiller import Distiller, DistillOutput, ModelOutput, fold_persons
from .losses import LOSS_WEIGHTS

__all__ = ["DistillOutput", "Distiller", "LOSS_WEIGHTS", "ModelOutput", "fold_persons"]
