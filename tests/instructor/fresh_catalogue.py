"""A catalogue of student mistakes written afresh, from the math, for every graded package exercise.

Each entry is an implementation of one exercise with one realistic mistake (or a right one
written in an unusual way: float32, einsum, one-pass variance, a cache of its own), its
description, and, once its check's message has been read, how well that message names
the mistake (entry.judged: NAMED, GENERIC, MISNAMED or MISSED). The entries live in
tests/instructor/fresh/, one module per exercise; `python -m tests.instructor.run_fresh_catalogue`
runs them through their checks and prints the table.

best_step (notebook 4) has no entries: no check cell grades it.
"""

from tests.instructor.fresh import (
    adam,
    bn_backward,
    bn_backward_alt,
    bn_forward,
    fc_net,
    groupnorm,
    layernorm,
    sgd_momentum,
    spatial_bn,
    steps_to_reach,
    torch_running_var,
)

ENTRIES = [
    *bn_forward.ENTRIES,
    *bn_backward.ENTRIES,
    *bn_backward_alt.ENTRIES,
    *layernorm.ENTRIES,
    *spatial_bn.ENTRIES,
    *groupnorm.ENTRIES,
    *fc_net.ENTRIES,
    *sgd_momentum.ENTRIES,
    *adam.ENTRIES,
    *steps_to_reach.ENTRIES,
    *torch_running_var.ENTRIES,
]
MISTAKES = [e for e in ENTRIES if not e.correct]
CORRECT = [e for e in ENTRIES if e.correct]
