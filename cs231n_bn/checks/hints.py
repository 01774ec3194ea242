"""Hints on request, in levels: the idea, then where to look, then (optionally) the formula.

    checks.hint("batchnorm_backward_alt")      # level 1
    checks.hint("batchnorm_backward_alt", 2)   # level 2

Levels 1 and 2 are here and ship with every edition. Level 3, the formula itself, lives in
`cs231n_bn/checks/solution_hints.py`; the student edition carries that file only if the
instructor chooses to (by default the release leaves it out, and level 3 then says so).
"""

import importlib

HINTS = {
    "batchnorm_forward": (
        "Batch norm treats every feature (column) on its own, over the batch: centre it with the "
        "batch mean, divide by a standard deviation built from the biased variance with eps inside "
        "the square root, then scale by gamma and shift by beta. Train mode also updates running "
        "averages of the mean and variance; test mode uses those instead of the batch's own.",
        "Follow the table in notebook 1 one line per name (mu, xmu, var, sqrtvar, ivar, xhat, out); "
        "every statistic is taken over axis 0. momentum is the weight kept on the OLD running value, "
        "and the updated averages go back into bn_param as new arrays. The cache holds every one of "
        "those names; in test mode its mu and var are the running statistics.",
    ),
    "batchnorm_backward": (
        "Walk the graph of notebook 2 backwards. Each gradient is local gradient times upstream "
        "gradient. A value read by two nodes (xmu, and x) gets the sum of both branches; a (D,) "
        "value used in all N rows (mu, ivar, gamma, beta) gets a sum over axis 0.",
        "The failure message says which path is off. The variance branch is divar, dsqrtvar, dvar, "
        "dsq, dxmu2; their local gradients are in the table of notebook 2 (xmu; the derivative of "
        "1/u; that of sqrt(v + eps); 1/N; that of u squared). The mean branch is dmu (a sum, with "
        "the minus sign of x - mu) and dx2 (1/N). Check each against graph.check_gradient.",
    ),
    "batchnorm_backward_alt": (
        "Start from notebook 3's three paths from x_i to the loss: direct, through mu, through var. "
        "The sum of the deviations from the mean is zero, which removes one term; x - mu = xhat / ivar "
        "turns the variance path into a term in xhat.",
        "Collect everything over the common factor ivar / N. You should end with dx in terms of dout, "
        "the two sums dbeta and dgamma and xhat only: one term in dout itself, one that is the same "
        "for every row of a feature, and one proportional to xhat. Then check the signs and where "
        "N goes, term by term, against the paths in the failure message.",
    ),
    "layernorm_forward": (
        "Layer norm is batch norm with the axes swapped: each sample (row) is normalized over its own "
        "features, with the biased variance and eps inside the root; gamma and beta are still one per "
        "feature. There are no running statistics and no train/test difference.",
        "Take every statistic over axis 1 and keep that axis, so that an (N, 1) mean broadcasts "
        "against the (N, D) input. Fill LayerNormCache with the same names as batch norm's.",
    ),
    "layernorm_backward": (
        "Inside each sample the algebra is batch norm's: the closed form of notebook 3, with means over "
        "the features instead of over the batch. dgamma and dbeta still sum over the batch, because "
        "gamma and beta are shared by all samples.",
        "Write dxhat = gamma * dout first. Then the three paths of notebook 3 become three terms, with "
        "means over each row (axis 1, kept) where batch norm has sums over the batch divided by N; "
        "dgamma and dbeta are still sums over axis 0.",
    ),
    "spatial_batchnorm_forward": (
        "Spatial batch norm keeps one mean and one variance per channel, taken over the batch AND every "
        "position: N*H*W values per channel. That is vanilla batch norm on a matrix whose columns are "
        "the channels.",
        "Move the channel axis last before reshaping to (N*H*W, C), so that each row is one position of "
        "one image; after batchnorm_forward undo the reshape and the transpose in reverse order.",
    ),
    "spatial_batchnorm_backward": (
        "The backward pass undoes the same reshaping: turn dout into the (N*H*W, C) matrix, apply the "
        "vanilla backward pass, and turn dx back into (N, C, H, W).",
        "Use exactly the transpose and reshape of the forward pass (and their inverses in reverse "
        "order); the group size the vanilla backward pass sees is then N*H*W, as it must be.",
    ),
    "spatial_groupnorm_forward": (
        "Group norm normalizes each sample on its own, over groups of C/G consecutive channels and all "
        "their positions; gamma and beta stay one per channel.",
        "A reshape to (N, G, -1) lines up each group's values along the last axis; take the statistics "
        "there (keeping the axis), then reshape back before applying the per-channel gamma and beta.",
    ),
    "spatial_groupnorm_backward": (
        "Inside each group the algebra is layer norm's closed form; dgamma and dbeta sum over the batch "
        "and the positions, once per channel.",
        "Form dxhat = gamma * dout in (N, C, H, W), reshape it to (N, G, -1) like xhat, apply the "
        "closed form with means over the last axis, and reshape dx back.",
    ),
    "fc_net_forward": (
        "Every hidden layer is affine -> [batch or layer norm] -> activation -> [dropout], with its own "
        "W, b, gamma, beta and bn_params entry. Batch norm needs to know the pass's mode; dropout acts "
        "only in train mode.",
        "Pass mode on to bn_params[i - 1] before calling batchnorm_forward; keep the normalization's "
        "output as z (what the activation receives, stored in the cache); apply dropout to the "
        "activation's output with the mode and the generator given.",
    ),
    "fc_net_backward": (
        "Go through the hidden layer in reverse: dropout, activation, normalization, affine. Each step "
        "uses the cache its forward step made, and the normalization's backward pass also gives the "
        "layer's dgamma and dbeta.",
        "The failure message compares networks that differ in one feature: the step of that feature is "
        "the one to look at. Store gamma{i}/beta{i}/W{i}/b{i} gradients under exactly those keys.",
    ),
    "sgd_momentum": (
        "Momentum keeps a velocity: a decaying sum of past steps. Each step first updates the velocity "
        "from the old velocity and the gradient, then moves w by the new velocity.",
        "The velocity decays by momentum and gains minus learning_rate times dw (it points downhill), "
        "and the learning rate appears nowhere else. Store the new velocity in config.",
    ),
    "adam": (
        "Adam keeps exponential averages of the gradient (m) and of its square (v), corrects both for "
        "their start at zero, and steps by the corrected m divided by the square root of the corrected "
        "v. t counts the steps.",
        "Increment t first. m uses beta1, v uses beta2 and the squared gradient; the corrections divide "
        "by 1 minus beta to the power t; epsilon is added after the square root. Store m, v and t, "
        "uncorrected, in config.",
    ),
    "undo": (
        "The layer computes gamma * xhat + beta with xhat = (x - mu) / sqrt(var + eps). Which gamma and "
        "beta turn that expression back into x?",
        "Solve gamma * (x - mu) / sqrt(var + eps) + beta = x for every x: the coefficient of x and the "
        "constant term must both match. Use the statistics batch norm itself uses (biased variance, "
        "the same eps).",
    ),
    "dx_from_dxhat": (
        "This is the middle line of your derivation in notebook 3, before dxhat = gamma * dout is "
        "substituted: the backward pass of x -> xhat alone.",
        "Take the closed form you derived for batchnorm_backward_alt and undo its last substitution: "
        "the sums of dxhat and of dxhat * xhat over the batch take the places of gamma * dbeta and "
        "gamma * dgamma.",
    ),
}


# Where each exercise's derivation is worked out: what hint 3 points to when this edition
# does not carry the formula.
DERIVED_IN = {
    "batchnorm_forward": "notebooks/01_forward_pass.ipynb",
    "undo": "notebooks/01_forward_pass.ipynb",
    "batchnorm_backward": "notebooks/02_staged_backward.ipynb",
    "batchnorm_backward_alt": "notebooks/03_simplified_backward.ipynb",
    "dx_from_dxhat": "notebooks/03_simplified_backward.ipynb",
    "fc_net_forward": "notebooks/05_training_with_batchnorm.ipynb",
    "fc_net_backward": "notebooks/05_training_with_batchnorm.ipynb",
    "sgd_momentum": "notebooks/05_training_with_batchnorm.ipynb",
    "adam": "notebooks/05_training_with_batchnorm.ipynb",
    "layernorm_forward": "notebooks/06_layer_norm.ipynb",
    "layernorm_backward": "notebooks/06_layer_norm.ipynb",
    "spatial_batchnorm_forward": "notebooks/07_conv_nets.ipynb",
    "spatial_batchnorm_backward": "notebooks/07_conv_nets.ipynb",
    "spatial_groupnorm_forward": "notebooks/07_conv_nets.ipynb",
    "spatial_groupnorm_backward": "notebooks/07_conv_nets.ipynb",
}


def _last_level(exercise):
    """The formula level from solution_hints, or None when this edition does not carry it."""
    try:
        module = importlib.import_module("cs231n_bn.checks.solution_hints")
    except ModuleNotFoundError:
        return None
    return module.SOLUTIONS.get(exercise)


def hint(exercise, level=1):
    """Print hint `level` (1, 2 or 3) for an exercise; level 3 is the formula, if available."""
    if exercise not in HINTS:
        raise ValueError(f"hint: exercise must be one of {', '.join(sorted(HINTS))}; got {exercise!r}")
    if level not in (1, 2, 3):
        raise ValueError(f"hint: level must be 1, 2 or 3; got {level!r}")
    if level == 3:
        text = _last_level(exercise)
        if text is None:
            print(f"Hint 3 of 3 for {exercise}: the formula is not part of this edition. Work it out "
                  f"from the derivation in {DERIVED_IN.get(exercise, 'its notebook')}, the section "
                  f"of the exercise, one name at a time, with the check's diagnosis beside you "
                  f"(`python -m cs231n_bn.progress` shows it again). Still stuck: show that "
                  f"diagnosis and your code to your instructor or TA.")
            return
        print(f"Hint 3 of 3 for {exercise} (the formula):\n{text}")
        return
    print(f"Hint {level} of 3 for {exercise}: {HINTS[exercise][level - 1]}")
    print(f"More: checks.hint({exercise!r}, {level + 1})")
