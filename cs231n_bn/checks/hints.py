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
        "Follow the table in notebook 1 one name at a time (mu, xmu, var, sqrtvar, ivar, xhat, out) "
        "and print each one's shape on a small x, say 4 x 3: a statistic of a feature has one value "
        "per column, and each column of xhat should come out with mean 0. Then write down what "
        "momentum = 0.9 means in words (how much of the old running value is kept) before you code "
        "the update, and store the updated averages in bn_param. The cache holds every one of those "
        "names; in test mode its mu and var are the running statistics.",
    ),
    "batchnorm_backward": (
        "Walk the graph of notebook 2 backwards. Each gradient is local gradient times upstream "
        "gradient. A value read by two nodes (xmu, and x) gets the sum of both branches; a (D,) "
        "value used in all N rows (mu, ivar, gamma, beta) gets a sum over axis 0.",
        "The failure message says which path is off. The variance branch is divar, dsqrtvar, dvar, "
        "dsq, dxmu2: derive each local gradient from its node's formula in notebook 2 (a product, a "
        "reciprocal, a square root with eps, a mean, a square). The mean branch is dmu and dx2: mind "
        "the sign of x - mu and how many entries a mean divides by. Check each step on its own with "
        "graph.check_gradient.",
    ),
    "batchnorm_backward_alt": (
        "Start from notebook 3's three paths from x_i to the loss: direct, through mu, through var. "
        "The sum of the deviations from the mean is zero, which removes one term; x - mu = xhat / ivar "
        "turns the variance path into a term in xhat.",
        "Collect everything over one common factor. Aim for dx written with dout, the two sums "
        "dbeta and dgamma, and xhat only: every other intermediate (dmu, dvar, xmu) can be rewritten "
        "in those. Then check the signs and where N goes, term by term, against the paths in the "
        "failure message.",
    ),
    "layernorm_forward": (
        "Layer norm is batch norm with the axes swapped: each sample (row) is normalized over its own "
        "features, with the biased variance and eps inside the root; gamma and beta are still one per "
        "feature. There are no running statistics and no train/test difference.",
        "Try your function on a 2 x 3 x whose rows have very different means, e.g. [[0, 1, 2], "
        "[100, 110, 120]]: print the shape of each statistic and the mean and variance of each row "
        "of xhat. Every row should come out with mean 0 and variance close to 1; if a shape is wrong "
        "or the rows disagree, the statistics are taken over the wrong axis or lose it before "
        "x - mu. The cache holds the same names as batch norm's."
    ),
    "layernorm_backward": (
        "Inside each sample the algebra is batch norm's: the closed form of notebook 3, with means over "
        "the features instead of over the batch. dgamma and dbeta still sum over the batch, because "
        "gamma and beta are shared by all samples.",
        "First ask how out depends on xhat, entry by entry: that gives the gradient arriving at xhat. "
        "Then redo notebook 3's three paths with the roles of the axes exchanged: a sample's "
        "statistics mix its own features only, so every sum over the batch in notebook 3 becomes a "
        "sum over one sample's features. The failure message says which path is off.",
    ),
    "spatial_batchnorm_forward": (
        "Spatial batch norm keeps one mean and one variance per channel, taken over the batch AND every "
        "position: N*H*W values per channel. That is vanilla batch norm on a matrix whose columns are "
        "the channels.",
        "Test your rearrangement on x = np.arange(2 * 3 * 2 * 2.0).reshape(2, 3, 2, 2): print the "
        "matrix you hand to batchnorm_forward and check that each column holds the values of one "
        "channel only (compare with x[:, c].ravel()). A reshape keeps neighbours in memory together, "
        "so ask which axis has to be last for one channel's values to land in one column; and check "
        "that your output comes back with every value where x had it."
    ),
    "spatial_batchnorm_backward": (
        "Your forward pass let vanilla batch norm do the work on a rearranged x. Can the backward pass "
        "lean on a vanilla backward pass the same way? Ask in which layout that function expects dout, "
        "and in which layout the caller expects dx.",
        "dout arrives in the layout of x, and dx must leave in it: the vanilla backward pass needs "
        "them in the layout your forward pass gave it. Check on np.arange data that your rearrangement "
        "of dout and its inverse give back the array you started with, and that dgamma has one entry "
        "per channel, summed over N*H*W values."
    ),
    "spatial_groupnorm_forward": (
        "Group norm normalizes each sample on its own, over groups of C/G consecutive channels and all "
        "their positions; gamma and beta stay one per channel.",
        "Group g of a sample is channels g*C/G to (g+1)*C/G - 1 with all their positions, and a "
        "sample's channels follow each other in memory. Find a reshape of x that puts one group's "
        "values in one row, and test it on np.arange data: the row of sample 0, group 1 must equal "
        "x[0, C//G:2*C//G].ravel(). gamma and beta act per channel, so they apply in x's own shape."
    ),
    "spatial_groupnorm_backward": (
        "Inside each group the algebra is layer norm's closed form; dgamma and dbeta sum over the batch "
        "and the positions, once per channel.",
        "Inside a group the gradient is the one you derived for layer norm, with the group's values "
        "in the place of a sample's features. gamma is per channel, so it enters the gradient where "
        "the channels are still apart (x's own layout); the group-wise step then works on the layout "
        "your forward pass used for the statistics, and dx goes back to x's shape. Compare with a "
        "numeric gradient on a tiny input (N=1, C=4, G=2, H=W=1)."
    ),
    "fc_net_forward": (
        "Every hidden layer is affine -> [batch or layer norm] -> activation -> [dropout], with its own "
        "W, b, gamma, beta and bn_params entry. Batch norm needs to know the pass's mode; dropout acts "
        "only in train mode.",
        "Batch norm reads the pass's mode from the dict it is given, not from an argument: how does "
        "this pass's mode get there? Layers are numbered from 1 and self.bn_params from 0. The cache "
        "keeps what the activation received under z. Print the scores of a 2-layer net in train and "
        "test mode on the same X: with batch norm they must differ, without it (and without dropout) "
        "they must not.",
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
        "Check your rule on numbers before the check does: w = 0, dw = 1, learning_rate = 0.1, "
        "momentum = 0.9 and a zero velocity. Work out by hand how far two identical steps should move w "
        "(the second moves further than the first, because the velocity remembers the first), then "
        "compare. Which way must the velocity point relative to dw? Store the new velocity in config.",
    ),
    "adam": (
        "Adam keeps exponential averages of the gradient (m) and of its square (v), corrects both for "
        "their start at zero, and steps by the corrected m divided by the square root of the corrected "
        "v. t counts the steps.",
        "Test one step on numbers: m = v = 0, t = 0 and a constant dw. The bias corrections exist so "
        "that the corrected averages already equal the average of that constant gradient (and of its "
        "square) at the first step; then the step's size is about the learning rate whatever dw is. "
        "If yours is not, look at when t is counted and at where epsilon enters. config must keep the "
        "uncorrected m and v, and t.",
    ),
    "undo": (
        "The layer computes gamma * xhat + beta, where xhat is x centred by the batch mean and divided "
        "by the batch standard deviation (notebook 1, section 1). Which gamma and beta turn that "
        "expression back into x?",
        "Write the layer's output with xhat spelled out in terms of x and ask that it equal x for every "
        "x: the coefficient of x and the constant term must both match. Use the statistics batch norm "
        "itself uses (biased variance, the same eps).",
    ),
    "dx_from_dxhat": (
        "This is the middle line of your derivation in notebook 3, before the gradient arriving at xhat "
        "is written in terms of dout: the backward pass of x -> xhat alone.",
        "In notebook 3's derivation, find the line just before the gradient arriving at xhat is "
        "written with dout and gamma: it uses only the three inputs this function gets. Check yours "
        "on a case you can do by hand: N = 2, so that each column of xhat is about (-1, 1); what must "
        "dx be when dxhat is the same in both rows, and why?",
    ),
    "keras_convnet": (
        "One Keras layer per entry of the list after the input, in the list's order: Conv2D, "
        "BatchNormalization, ReLU, MaxPooling2D, Flatten, Dense. The images arrive channels last, "
        "(N, H, W, C); start the model with keras.Input of that shape so that it has its weights.",
        "Read each entry's numbers into the layer's arguments: the conv's filters and size with the "
        "padding that keeps H and W; batch norm's eps and momentum (Keras's momentum weighs the old "
        "value, as ours does, but its defaults are not ours); the pool's size and stride; the affine "
        "layer's units. Weights need no initializer of yours: the converters overwrite them.",
    ),
    "fourth_order_gradient": (
        "Start from the Taylor series of section 1, written out for a step of 2h as well as h. The "
        "centered difference at h and the one at 2h have the same leading error term, up to a power "
        "of 2 that you can read off; a weighted combination of the two in which that term cancels, "
        "with weights that sum to 1, is accurate to the next even power of h.",
        "Write D(h) = f' + C h^2 + O(h^4) and do the same for D(2h); solve the two lines for f' and "
        "drop the O(h^4). Then expand the result into the four values f(x + 2h), f(x + h), f(x - h), "
        "f(x - 2h), and nudge one entry of x at a time exactly as a centered difference does, putting "
        "it back afterwards. If the check says 'second order', the h^2 terms did not cancel.",
    ),
    "running_mean_after": (
        "Write out the first three running means by hand from notebook 1's update rule (section 5), "
        "starting at r_0 = 0 with the same batch mean s every step: r_1, r_2, r_3. Look at what is "
        "still missing from s after each step.",
        "Subtract s from both sides of the update: how does the shortfall s - r_k change from one step "
        "to the next, and what was it at the start? A quantity multiplied by the same factor every "
        "step has a closed form in k. Check yours against r_1 and r_2 by hand, and for k = 0.",
    ),
    "staged_step": (
        "Each step is one node of notebook 2's graph: the node's local gradient (how its output moves "
        "when this input moves, read off the node's formula in the step's heading) times the gradient "
        "that arrives at the node's output from above, which an earlier step computed.",
        "The gradient has the shape of the value it is the gradient of: print that shape first. A value "
        "used in every row (a per-feature statistic, gamma, beta) collects what arrives from all rows; a "
        "value read by two nodes collects both branches. graph.numeric_gradient(name, x, gamma, beta, "
        "dout) estimates one step: compare your signs and shape with it, then derive the exact value "
        "(the check refuses the estimate itself).",
    ),
    "pick_h": (
        "A centered difference's error is the sum of two terms that move in opposite directions with "
        "h: truncation, which shrinks like h^2, and round-off, which grows like the machine epsilon "
        "divided by h (section 2). The best step balances them, so it depends on the precision.",
        "Set the two terms equal and solve for h, once with float64's machine epsilon (about 2e-16) and "
        "once with float32's (about 1e-7); then read where each V of sections 2 and 3 bottoms out. A "
        "round power of ten near the bottom is enough: the V is flat there, steep on either side.",
    ),
    "two_layer_loss": (
        "Run the layers forward in the order of the formula in section 7, keeping every cache; then "
        "run their backward functions in the opposite order, each fed the gradient that the layer "
        "after it returned. Batch norm runs in train mode.",
        "Every backward function returns the gradient of its input first, then those of its "
        "parameters; print what softmax_loss returns on a tiny input to see what it gives besides the "
        "loss. Collect one gradient per key of params, under the same key. grads['b1'] comes out "
        "(almost) zero, and rightly: batch norm subtracts the mean again, bias included.",
    ),
    "steps_to_reach": (
        "Two questions, one after the other: at which positions of the history does the accuracy reach "
        "the target (reaching it exactly counts), and which of those positions comes first? The answer "
        "is then read from eval_steps at that position.",
        "NumPy compares a whole array with a number at once, and has functions that list the positions "
        "of the True entries of such a comparison. Return a Python int (int(...)), not a NumPy integer, "
        "and None when no position qualifies; try an empty history and a target of 0 too.",
    ),
    "normalize_over": (
        "All three functions are one computation, with different axes: section 1's statistics taken "
        "over a set of axes, shaped so that they still line up with x. For the axes, colour the cube of "
        "section 1 in your head: which axes does one block of each normalization run along?",
        "Two passes means: first the mean, then the variance from the deviations from that mean (the "
        "mean of the squares minus the squared mean cancels away every digit at x + 1e6). Print the "
        "shape of your mean: it must broadcast against x. For group norm, the reshape of section 4 puts "
        "a group's channels on an axis of their own: over which axes of the reshaped array does one "
        "group's statistic run?",
    ),
    "load_trained": (
        "Test mode uses stored numbers only: gamma, beta, the running mean and variance, eps. Find each "
        "in the trained module (its parameters and buffers) and ask what our bn_param calls it; momentum "
        "must be converted to our convention even though test mode does not use it.",
        "Section 6 converts a module's state to our gamma, beta and bn_param, with a choice about the "
        "running variance. For this goal ask what the module's eval() divides by: the stored "
        "running_var as it is, or something rescaled? The conversion must give that same number, and "
        "bn_param's mode must be 'test'.",
    ),
    "torch_running_var": (
        "Compare what the two layers put into their running variance at every step, and where each "
        "average starts. Both averages are linear in what they average, so a difference in every "
        "batch's contribution carries through the whole average, and a start value fades by the "
        "same weight at every step.",
        "Split PyTorch's running variance into two parts: what the k batches contributed, and what "
        "is left of its start value. Notebook 8, section 3, measures the first part next to ours with "
        "both averages started at zero; for the second, follow the start value through k updates "
        "with PyTorch's momentum, written in ours (section 2). Test your function with "
        "running_var = 0 and k = 0 before the general case.",
    ),
}


# Where the course derives each exercise's answer: the last level points there when the
# edition leaves the formulas out.
DERIVED_IN = {
    "batchnorm_forward": "notebook 1, section 1 (The algorithm: the table of names)",
    "batchnorm_backward": "notebook 2, section 3 (Backwards through the graph, steps 1 to 14)",
    "batchnorm_backward_alt": "notebook 3, section 2 (The derivation)",
    "layernorm_forward": "notebook 6, section 1 (Two axes, two normalizations)",
    "layernorm_backward": "notebook 3, section 2 (The derivation), read with notebook 6, section 1's axes",
    "spatial_batchnorm_forward": "notebook 7, section 2 (Spatial batch norm)",
    "spatial_batchnorm_backward": "notebook 7, section 2 (Spatial batch norm)",
    "spatial_groupnorm_forward": "notebook 7, section 3 (Group norm)",
    "spatial_groupnorm_backward": "notebook 7, section 3 (Group norm), with notebook 3, section 2 (The derivation)",
    "fc_net_forward": "notebook 5, section 1 (A deep network with batch norm)",
    "fc_net_backward": "notebook 5, section 1 (A deep network with batch norm)",
    "sgd_momentum": "notebook 5, section 1 (Exercise 2: SGD with momentum, and Adam)",
    "adam": "notebook 5, section 1 (Exercise 2: SGD with momentum, and Adam)",
    "undo": "notebook 1, section 3 (gamma and beta can undo the normalization)",
    "dx_from_dxhat": "notebook 3, section 2 (The derivation), before dxhat is written in terms of dout",
    "keras_convnet": "notebook 9, section 1 (Our network as a list of layers) and section 3 (The layouts, measured)",
    "fourth_order_gradient": "notebook 4, section 1 (Exercise: a fourth-order centered difference)",
    "running_mean_after": ("notebook 1, section 5 (Running averages and the momentum convention: the unrolled "
                           "recursion)"),
    "staged_step": "notebook 2, section 3 (Backwards through the graph, one node at a time: the step's own heading)",
    "pick_h": "notebook 4, sections 2 and 3 (The step size: truncation against round-off; the same sweep in float32)",
    "two_layer_loss": "notebook 4, section 7 (End to end: a two-layer network with batch norm)",
    "steps_to_reach": "notebook 5, section 3 (How many fewer steps? Exercise 3)",
    "normalize_over": "notebook 6, section 1 (Two axes, two normalizations: the cube) and section 4 (the exercise)",
    "load_trained": "notebook 8, section 6 (Moving a layer between the frameworks)",
    "torch_running_var": "notebook 8, sections 2 to 4 (momentum, the stored variance, where it starts)",
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
                  f"from the derivation in {DERIVED_IN[exercise]}, one name at a time, with the "
                  f"check's diagnosis beside you (`python -m cs231n_bn.progress` shows it again). "
                  f"Still stuck: show that diagnosis and your code to your instructor or TA.")
            return
        print(f"Hint 3 of 3 for {exercise} (the formula):\n{text}")
        return
    print(f"Hint {level} of 3 for {exercise}: {HINTS[exercise][level - 1]}")
    print(f"More: checks.hint({exercise!r}, {level + 1})")
