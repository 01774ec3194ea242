"""Check cells for the exercises: one PASS line, or what is wrong; hints on request.

    from cs231n_bn import checks
    checks.check_batchnorm_forward(batchnorm_forward)   # PASS ... or CheckFailed
    checks.hint("batchnorm_forward")                    # level 1; then 2, then 3

A package exercise's check takes the implementation under test as its first argument (a
function; the FullyConnectedNet class for the two network exercises), None meaning the
installed package's; a notebook exercise's check takes what its cell computed (values, or
the functions it defines) and the inputs they were computed from. registry.py lists which
check each graded cell calls: the grader makes the same call on secret inputs. Backward checks also take `forward=`, the forward pass that makes
their caches. A pass prints one line starting with "PASS"; a failure raises CheckFailed
(an AssertionError) whose message states what is wrong, names the mistake when the evidence
proves it, and offers a hint. The package ships in the student edition and holds no
solution; only `solution_hints` (the last hint level) does, and the release leaves it out
unless the instructor asks for it.

A check never computes a right answer: where it needs one (an expected output, a cache
field, the paths of a gradient) it asks `reference` for it, which gives the values the
instructor's code computed on the check's fixed inputs (shipped as data), or, in the
grader, on secret inputs. Gradients must agree with the right ones to rounding, which a
numeric gradient cannot.

Modules: display (how a check speaks), core (calling the code under test), reference (right
answers as data), normalized (judging a normalized output), backward (judging gradients
path by path), one module per exercise family (batch_norm, layer_norm, spatial_norm,
network, optimizers, frameworks), the checks of exercises written in notebook cells
(notebook_steps: notebooks 1-3; notebook_functions: notebooks 4-8), registry (one row per
graded cell: which check, on what, for how many points) and hints.
"""

from cs231n_bn.checks.batch_norm import check_batchnorm_backward, check_batchnorm_backward_alt, check_batchnorm_forward
from cs231n_bn.checks.display import CheckFailed, NotImplementedYet
from cs231n_bn.checks.frameworks import check_keras_convnet
from cs231n_bn.checks.hints import hint
from cs231n_bn.checks.layer_norm import check_layernorm_backward, check_layernorm_forward
from cs231n_bn.checks.network import check_fc_net_backward, check_fc_net_forward
from cs231n_bn.checks.notebook_functions import (
    check_channel_statistics,
    check_fourth_order_gradient,
    check_group_numeric,
    check_group_special_cases,
    check_load_trained,
    check_normalize_over,
    check_pick_h,
    check_spatial_numeric,
    check_steps_to_reach,
    check_torch_running_var,
    check_two_layer_loss,
)
from cs231n_bn.checks.notebook_steps import (
    check_alt_vs_staged,
    check_backward_on_staged_batch,
    check_dx_from_dxhat,
    check_running_mean_after,
    check_step,
    check_undo,
    staged_batch,
)
from cs231n_bn.checks.optimizers import check_adam, check_sgd_momentum
from cs231n_bn.checks.spatial_norm import (
    check_spatial_batchnorm_backward,
    check_spatial_batchnorm_forward,
    check_spatial_groupnorm_backward,
    check_spatial_groupnorm_forward,
)

__all__ = [
    "CheckFailed",
    "NotImplementedYet",
    "hint",
    "check_adam",
    "check_batchnorm_backward",
    "check_batchnorm_backward_alt",
    "check_batchnorm_forward",
    "check_fc_net_backward",
    "check_fc_net_forward",
    "check_keras_convnet",
    "check_layernorm_backward",
    "check_layernorm_forward",
    "check_sgd_momentum",
    "check_spatial_batchnorm_backward",
    "check_spatial_batchnorm_forward",
    "check_spatial_groupnorm_backward",
    "check_spatial_groupnorm_forward",
    "check_step",
    "check_undo",
    "check_alt_vs_staged",
    "check_backward_on_staged_batch",
    "check_fourth_order_gradient",
    "check_channel_statistics",
    "check_dx_from_dxhat",
    "check_group_numeric",
    "check_group_special_cases",
    "check_load_trained",
    "check_normalize_over",
    "check_pick_h",
    "check_running_mean_after",
    "check_spatial_numeric",
    "check_steps_to_reach",
    "check_torch_running_var",
    "check_two_layer_loss",
    "staged_batch",
]
