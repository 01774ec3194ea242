"""Every graded cell of the course, one row each: which check it calls, on what, for how many points.

A notebook's check cell is one call, `checks.<check>(<args>)`; the grader makes the same
call with inputs of its own. The student edition's release, the grader and
`python -m cs231n_bn.progress` all read this table, so there is one truth about what
grades what. Nothing here says how an exercise is solved.

Two kinds of rows:
- a package exercise's cell (`exercise` names the function in cs231n_bn/): the grader calls
  the check with a proxy of the student's function, which runs in a sandboxed process;
- a notebook exercise's cell (`cells` names the solution cells the arguments come from):
  the grader runs those cells of the student's notebook in the sandbox on inputs of its
  own, and calls the check with the values they define (a function they define is called
  there, through a proxy).
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackageExercise:
    """One function the student implements in the package."""

    function: str  # e.g. "batchnorm_forward", or "FullyConnectedNet._hidden_forward"
    module: str  # file under cs231n_bn/, e.g. "batchnorm.py"
    notebook: int  # number of the notebook that explains it
    topic: str  # what that notebook is about, for messages when its file is missing


@dataclass(frozen=True)
class GradedCell:
    """One check cell: `checks.<check>(<args>)`."""

    grade_id: str  # the cell's nbgrader grade_id
    notebook: int
    check: str  # the function of cs231n_bn.checks it calls
    args: tuple  # the cell's arguments as written: names of its namespace, or string literals
    points: int
    exercise: str = ""  # the package exercise it grades ("" for a notebook exercise)
    cells: tuple = ()  # grade_ids of the notebook's solution cells whose values the arguments are


PACKAGE_EXERCISES = (
    PackageExercise("batchnorm_forward", "batchnorm.py", 1, "the forward pass"),
    PackageExercise("batchnorm_backward", "batchnorm.py", 2, "the staged backward pass"),
    PackageExercise("batchnorm_backward_alt", "batchnorm.py", 3, "the simplified backward pass"),
    PackageExercise("layernorm_forward", "layernorm.py", 6, "layer norm"),
    PackageExercise("layernorm_backward", "layernorm.py", 6, "layer norm"),
    PackageExercise("spatial_batchnorm_forward", "spatial.py", 7, "conv nets"),
    PackageExercise("spatial_batchnorm_backward", "spatial.py", 7, "conv nets"),
    PackageExercise("spatial_groupnorm_forward", "spatial.py", 7, "conv nets"),
    PackageExercise("spatial_groupnorm_backward", "spatial.py", 7, "conv nets"),
    PackageExercise("FullyConnectedNet._hidden_forward", "fc_net.py", 5, "training with batch norm"),
    PackageExercise("FullyConnectedNet._hidden_backward", "fc_net.py", 5, "training with batch norm"),
    PackageExercise("sgd_momentum", "optim.py", 5, "training with batch norm"),
    PackageExercise("adam", "optim.py", 5, "training with batch norm"),
    PackageExercise("steps_to_reach", "experiments.py", 5, "training with batch norm"),
    PackageExercise("torch_running_var", "torch_stats.py", 8, "the frameworks"),
    # Not graded, but solved it would answer notebook 4's exercise "pick h".
    PackageExercise("best_step", "numerics.py", 4, "numeric gradient checks"),
)

BY_FUNCTION = {e.function: e for e in PACKAGE_EXERCISES}

# Notebook 2's gradients in the order its cells derive them ("dxmu" joins the two branches).
STAGED_STEPS = ("dbeta", "dgammax", "dgamma", "dxhat", "divar", "dxmu1", "dsqrtvar", "dvar", "dsq", "dxmu2",
                "dxmu", "dx1", "dmu", "dx2", "dx")
_STAGED_INPUTS = ("x", "gamma", "beta", "dout", "eps")


def _package(grade_id, notebook, function, points, check=None, arg=None):
    short = function.rsplit(".", 1)[0] if "." in function else function
    return GradedCell(grade_id, notebook, check or f"check_{short}", (arg or short,), points, exercise=function)


def _staged(step, points):
    solved = tuple(f"nb02_solve_{s}" for s in STAGED_STEPS[: STAGED_STEPS.index(step) + 1])
    return GradedCell(f"nb02_check_{step}", 2, "check_step", (f'"{step}"', step, *_STAGED_INPUTS), points,
                      cells=solved)


CELLS = (
    _package("nb01_check_forward", 1, "batchnorm_forward", 4),
    GradedCell("nb01_check_undo", 1, "check_undo", ("gamma_undo", "beta_undo", "h", "eps"), 2, cells=("nb01_undo",)),
    GradedCell("nb01_check_running_after_k", 1, "check_running_mean_after", ("running_mean_after",), 2,
               cells=("nb01_running_after_k",)),
    *(_staged(step, 2 if step == "dxmu" else 1) for step in STAGED_STEPS),
    _package("nb02_check_backward", 2, "batchnorm_backward", 4),
    _package("nb02_check_backward_matches_steps", 2, "batchnorm_backward", 1, check="check_backward_on_staged_batch"),
    _package("nb03_check_backward_alt", 3, "batchnorm_backward_alt", 3),
    _package("nb03_check_alt_vs_staged", 3, "batchnorm_backward_alt", 2, check="check_alt_vs_staged"),
    GradedCell("nb03_check_dx_from_dxhat", 3, "check_dx_from_dxhat", ("dx_from_dxhat",), 2,
               cells=("nb03_dx_from_dxhat",)),
    GradedCell("nb04_check_centered_gradient", 4, "check_centered_gradient", ("centered_gradient",), 2,
               cells=("nb04_centered_gradient",)),
    GradedCell("nb04_check_pick_h", 4, "check_pick_h", ("h_float64", "h_float32"), 1, cells=("nb04_pick_h",)),
    GradedCell("nb04_check_two_layer", 4, "check_two_layer_loss", ("two_layer_loss",), 3,
               cells=("nb04_two_layer_loss",)),
    _package("nb05_check_fc_forward", 5, "FullyConnectedNet._hidden_forward", 5, check="check_fc_net_forward",
             arg="FullyConnectedNet"),
    _package("nb05_check_fc_backward", 5, "FullyConnectedNet._hidden_backward", 5, check="check_fc_net_backward",
             arg="FullyConnectedNet"),
    _package("nb05_check_sgd_momentum", 5, "sgd_momentum", 2),
    _package("nb05_check_adam", 5, "adam", 3),
    _package("nb05_check_steps_to_reach", 5, "steps_to_reach", 1, arg="experiments.steps_to_reach"),
    _package("nb06_check_forward", 6, "layernorm_forward", 2),
    _package("nb06_check_backward", 6, "layernorm_backward", 2),
    GradedCell("nb06_check_normalize_over", 6, "check_normalize_over",
               ("normalize_over", "normalization_axes", "group_norm"), 3, cells=("nb06_normalize_over",)),
    _package("nb07_check_sbn_forward", 7, "spatial_batchnorm_forward", 2),
    _package("nb07_check_sbn_stats", 7, "spatial_batchnorm_forward", 1, check="check_channel_statistics"),
    _package("nb07_check_sbn_backward", 7, "spatial_batchnorm_backward", 2),
    _package("nb07_check_sbn_numeric", 7, "spatial_batchnorm_backward", 1, check="check_spatial_numeric"),
    _package("nb07_check_gn_forward", 7, "spatial_groupnorm_forward", 2),
    _package("nb07_check_gn_special_cases", 7, "spatial_groupnorm_forward", 2, check="check_group_special_cases"),
    _package("nb07_check_gn_backward", 7, "spatial_groupnorm_backward", 2),
    _package("nb07_check_gn_numeric", 7, "spatial_groupnorm_backward", 1, check="check_group_numeric"),
    _package("nb08_check_torch_running_var", 8, "torch_running_var", 2, arg="torch_stats.torch_running_var"),
    GradedCell("nb08_check_load_trained", 8, "check_load_trained",
               ("gamma_e", "beta_e", "bn_param_e", "trained", "x_new"), 2, cells=("nb08_load_trained",)),
)

BY_GRADE_ID = {c.grade_id: c for c in CELLS}


def call_source(cell):
    """The one line a graded cell holds: `checks.<check>(<args>)`."""
    return f"checks.{cell.check}({', '.join(cell.args)})"


def cells_of(function):
    """The graded cells of one package exercise, in course order."""
    return [c for c in CELLS if c.exercise == function]


def notebook_path(root, number):
    """notebooks/NN_*.ipynb under root, or None while that notebook does not exist."""
    found = sorted(Path(root, "notebooks").glob(f"{number:02d}_*.ipynb"))
    return found[0] if found else None


def notebook_label(root, number, topic):
    """How a message names a notebook: its path if it exists, else its number and topic."""
    path = notebook_path(root, number)
    return f"notebooks/{path.name}" if path else f"notebook {number:02d} ({topic})"
