"""Batch normalization for a mini-batch of vectors, shape (N, D).

The forward pass follows Algorithm 1 of Ioffe & Szegedy (2015): normalize every feature
with the mean and the *biased* variance of the batch, eps inside the square root, then
scale by gamma and shift by beta. Two backward passes share one cache:

- `batchnorm_backward` walks the computational graph node by node (notebook 2);
- `batchnorm_backward_alt` is the closed form derived from it (notebook 3).

The intermediate names are the graph's: mu, xmu, sq, var, sqrtvar, ivar, xhat, gammax, out.
"""

from dataclasses import dataclass

import numpy as np

from cs231n_bn import validation
from cs231n_bn.threads import equal_slices, for_each_share

MODES = ("train", "test")
DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.9
# CS231n's names for bn_param's keys; any other key is refused (a misspelled 'epsilon'
# or 'momentun' would otherwise fall back to the default without a word)
BN_PARAM_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")
# Entries per block of rows for the elementwise passes that run one after the other over the
# same entries: a block of each array involved (1 MiB of float32) is still in the processor's
# caches when the next pass reads it, so only the first read and the last write of an entry
# reach memory.
BLOCK_ENTRIES = 2**18
# Entries per block of columns at most: whole features, the units that threads share (see
# SHARE_MIN_ENTRIES), cut into equal blocks. Fewer, longer calls beat blocks that stay in
# cache here: block 1's spatial batch norm (51200 x 32, float32) in 4 blocks of 8 columns
# against 7 of at most 5 (2^18 entries), medians of 5 interleaved rounds on a 2-vCPU Zen 3
# machine, forward 1.67 ms against 1.99 and backward 0.98 against 1.17 on two threads, 2.22
# against 2.34 and 1.45 against 1.56 on one; blocks of 1 to 2 columns were slower still.
COLUMN_BLOCK_ENTRIES = 2**19
# Arrays with fewer entries run their blocks in one thread, each pass over the whole array
# before the next. Handing a share to another thread costs more than it saves (spatial batch
# norm at 12800 x 32, float32, two threads: forward 0.75 ms against 0.54 on one, backward 0.44
# against 0.31; at 51200 x 32 backward 1.4 against 2.3): a handover alone takes about 0.12 ms
# on a 2-vCPU virtual machine (cs231n_bn.threads). Visiting each block once
# (independent_blocks) gains nothing there either: the backward pass took 0.39 ms against 0.37.
SHARE_MIN_ENTRIES = 2**20


def blocks(a):
    """(rows, cols) slices cutting the (N, D) array a into blocks.

    Blocks of rows, of about BLOCK_ENTRIES entries, when a's rows lie contiguous in memory;
    when its columns do (the transposed view that spatial batch norm passes), as few blocks
    of columns of equal width (within one column) as keep each at COLUMN_BLOCK_ENTRIES or
    fewer (one column may hold more). Each block is then a few contiguous runs of memory.
    Every feature's statistic needs all N rows, so the sums over a block of rows are added
    up block by block, those over a block of columns are complete.
    """
    N, D = a.shape
    if not _columns_contiguous(a):
        step = max(1, BLOCK_ENTRIES // D)
        return [(slice(start, start + step), slice(None)) for start in range(0, N, step)]
    return [(slice(None), cols) for cols in equal_slices(D, max(1, COLUMN_BLOCK_ENTRIES // N))]


def _columns_contiguous(a):
    """Whether the (N, D) array a's columns, rather than its rows, lie contiguous in memory."""
    return a.strides[0] < a.strides[1]


def for_each_block(a, body):
    """Call body(rows, cols) for every block of blocks(a), sharing them among threads when they can be.

    Blocks of columns hold every row of their features, so their sums are complete and the
    blocks independent: in an array of SHARE_MIN_ENTRIES or more they are dealt to the
    threads of cs231n_bn.threads, each block computed exactly as on one thread. Blocks of
    rows add up into the same sums, in order: they run one after the other in the calling
    thread, as do the blocks of a smaller array.
    """
    parts = blocks(a)
    if independent_blocks(a):
        for_each_share(body, parts)
    else:
        for rows, cols in parts:
            body(rows, cols)


def independent_blocks(a):
    """True when blocks(a) are blocks of whole features in an array of SHARE_MIN_ENTRIES or more.

    A block of columns holds all N rows of its features, so their sums over it are complete
    and the blocks are independent: they are shared among threads, and a pass that needs
    the sums can follow them in the same block, while its entries are still in the
    processor's caches.
    """
    return a.size >= SHARE_MIN_ENTRIES and _columns_contiguous(a)


def column_sums(a, b=None, shared=False):
    """Per column of the (N, k) block a, the sum over its N rows of a, or of a * b.

    Inputs:
    - a, b: (N, k) blocks of the same layout and dtype (b None for the plain sums)
    - shared: the block is one of several that threads sum at the same time
      (independent_blocks of the whole array)

    Returns (k,) sums, in float32 for float16 and float32 blocks, float64 for float64.

    einsum sweeps along memory once per sum and lets go of the GIL while it does. Where a
    float32 block's columns lie contiguous in memory (spatial batch norm's transposed view),
    its sums of products are dot products instead, np.vecdot handing each column to BLAS:
    half the time of einsum's at 12800 x 32 (50 us against 100). But vecdot holds the GIL
    as it loops over a block's few columns, which would stop the other threads, so a shared
    block goes through einsum: which one runs depends on the array, never on the thread
    count. float64 stays with einsum too, because OpenBLAS splits a float64 dot product of
    more than 10,000 entries among its threads and its bits then depend on their number
    (it does not split float32's: tests/test_layouts.py checks), and so does float16, whose
    dot products NumPy rounds to float16.
    """
    wide = np.promote_types(a.dtype, np.float32)
    if b is None:
        return np.einsum("nd->d", a, dtype=wide)
    if not shared and a.dtype == np.float32 and a.strides[0] == a.itemsize:
        # A sum that overflows is inf, as einsum's would be, without NumPy's warning: the
        # caller refuses such an x by name (validation.finite_variance)
        with np.errstate(over="ignore"):
            return np.vecdot(a, b, axis=0)
    return np.einsum("nd,nd->d", a, b, dtype=wide)


def in_turn(*bodies):
    """One body(rows, cols) for for_each_block that runs the given bodies on its block, in order."""

    def body(rows, cols):
        for each in bodies:
            each(rows, cols)

    return body


@dataclass(frozen=True)
class BatchNormCache:
    """What the forward pass keeps for the backward pass, named like the graph.

    In test mode mu and var are the running statistics (constants, not functions of x),
    and the backward passes refuse such a cache.
    """

    mode: str
    x: np.ndarray  # (N, D) input
    mu: np.ndarray  # (D,) mean over the batch
    xmu: np.ndarray  # (N, D) x - mu
    var: np.ndarray  # (D,) biased variance, mean of xmu**2
    sqrtvar: np.ndarray  # (D,) sqrt(var + eps)
    ivar: np.ndarray  # (D,) 1 / sqrtvar
    xhat: np.ndarray  # (N, D) xmu * ivar
    gamma: np.ndarray  # (D,) scale
    eps: float


def _check_forward_inputs(where, x, gamma, beta):
    validation.float_array(where, "x", x, ndim=2)
    D = x.shape[1]
    for name, p in (("gamma", gamma), ("beta", beta)):
        validation.float_array(where, name, p, ndim=1)
        validation.same_shape(where, name, p, (D,), "one value per feature of x")


def _running_stat(where, bn_param, key, D, default):
    value = bn_param.get(key, default)
    if value is None:
        raise ValueError(
            f"{where}: test mode needs bn_param['{key}'], the running statistics that train "
            f"mode accumulates; got none. Run at least one training batch first (or load "
            f"trained statistics)"
        )
    validation.float_array(where, f"bn_param['{key}']", value, ndim=1)
    return validation.same_shape(where, f"bn_param['{key}']", value, (D,), "one value per feature")


def read_bn_param(where, bn_param, D, dtype):
    """Validate a bn_param dict for D features and return its settings.

    Inputs:
    - where: name of the calling function, the prefix of every error message
    - bn_param: the dict described in batchnorm_forward
    - D: number of features (or channels), the length of the running statistics
    - dtype: dtype of the zeros that start the running statistics in train mode

    Returns a tuple of:
    - mode, eps, momentum
    - running_mean, running_var: (D,) arrays; zeros in train mode when bn_param has none
      (test mode cannot do without them)
    """
    validation.param_dict(where, "bn_param", bn_param)
    validation.known_keys(where, "bn_param", bn_param, BN_PARAM_KEYS)
    if "mode" not in bn_param:
        raise ValueError(f"{where}: bn_param['mode'] is required ('train' or 'test'); got no 'mode' key")
    mode = validation.choice(where, "bn_param['mode']", bn_param["mode"], MODES)
    eps = validation.positive_number(where, "bn_param['eps']", bn_param.get("eps", DEFAULT_EPS))
    momentum = validation.unit_interval(
        where, "bn_param['momentum']", bn_param.get("momentum", DEFAULT_MOMENTUM)
    )
    # Two arrays, not one: code that updates the statistics in place must not add one into the other.
    running_mean = _running_stat(where, bn_param, "running_mean", D, np.zeros(D, dtype) if mode == "train" else None)
    running_var = _running_stat(where, bn_param, "running_var", D, np.zeros(D, dtype) if mode == "train" else None)
    valid = (running_var >= 0) & np.isfinite(running_var)
    if not valid.all():
        # test mode divides by its square root: NaN for a negative variance, and for an
        # infinite one every output would silently be beta
        raise ValueError(
            f"{where}: bn_param['running_var'] must hold finite variances >= 0; got "
            f"{np.count_nonzero(~valid)} that are not, e.g. {float(running_var[~valid][0])}"
        )
    return mode, eps, momentum, running_mean, running_var


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization, forward pass.

    Train mode normalizes each feature with the batch mean and biased batch variance and
    updates exponential running averages of both:

        running_mean = momentum * running_mean + (1 - momentum) * mu

    so `momentum` (0.9) is the weight kept on the OLD value. PyTorch's BatchNorm1d uses
    the opposite convention: its momentum (0.1) is the weight given to the NEW value, and
    it stores the unbiased variance N/(N-1) * var. Ours stores the biased one, like CS231n.
    The running statistics start at zeros and are written back into bn_param as new arrays.

    Test mode normalizes with bn_param's running statistics and leaves them unchanged.

    Inputs:
    - x: (N, D) floating-point data; never modified
    - gamma: (D,) scale
    - beta: (D,) shift
    - bn_param: dict with CS231n's keys, and no others (an unknown key is refused)
      - mode: 'train' or 'test' (required)
      - eps: constant > 0 added to the variance (default 1e-5)
      - momentum: in [0, 1], weight on the old running value (default 0.9)
      - running_mean, running_var: (D,) arrays (running_var >= 0); required in test mode

    float16 and float32 x are normalized in their own dtype, with the batch statistics
    summed in float32 around the first sample, so that a large mean costs no accuracy. An
    x so large that its variance overflows is refused (otherwise every output would
    silently be beta).

    Returns a tuple of:
    - out: (N, D) gamma * xhat + beta
    - cache: BatchNormCache for batchnorm_backward / batchnorm_backward_alt
    """
    where = "batchnorm_forward"
    gamma, beta = (validation.integer_param_as_float(p, x) for p in (gamma, beta))
    _check_forward_inputs(where, x, gamma, beta)
    validation.nonempty_batch(where, "x", x)
    N, D = x.shape
    mode, eps, momentum, running_mean, running_var = read_bn_param(where, bn_param, D, x.dtype)
    if mode == "train" and N < 2:
        raise ValueError(
            f"{where}: train mode needs a batch of at least 2 samples to estimate a "
            f"variance; got x with shape {x.shape} (N={N}). Use mode 'test' for one sample"
        )

    ### BEGIN SOLUTION
    if mode == "train":
        if np.finfo(x.dtype).bits < 64:
            # float16 and float32, on shifted data: x - x[0] is exact for entries within a
            # factor of 2 of the first sample and leaves deviations the size of the spread,
            # so the sums lose nothing to a large mean (the plain float32 mean of 64 values
            # near 1e8 comes out tens off). The sums run in float32, as float16 overflows at
            # 65504; summing float32 in float64 would slow the forward pass down by 80%.
            # Shift, sum, correct and sum the squares block by block (blocks):
            # each block is summed while it is still in cache, so the shift costs no pass
            # over memory of its own.
            xmu = np.empty_like(x)
            dsum = np.zeros(D, dtype=np.float32)
            sqsum = np.zeros(D, dtype=np.float32)
            dmu = np.empty(D, dtype=x.dtype)

            shared = independent_blocks(x)

            def shift_and_sum(rows, cols):
                np.subtract(x[rows, cols], x[0, cols], out=xmu[rows, cols])
                dsum[cols] += column_sums(xmu[rows, cols])

            def center_and_square(rows, cols):
                dmu[cols] = dsum[cols] / N
                xmu[rows, cols] -= dmu[cols]
                sqsum[cols] += column_sums(xmu[rows, cols], xmu[rows, cols], shared)

            if shared:
                # A block's sums are complete: it is centred before it leaves the cache
                for_each_block(x, in_turn(shift_and_sum, center_and_square))
            else:
                for_each_block(x, shift_and_sum)
                for_each_block(x, center_and_square)
            mu = (x[0] + dsum / N).astype(x.dtype)
            var = (sqsum / N).astype(x.dtype)
        else:
            mu = x.mean(axis=0)
            xmu = x - mu
            # Two passes (mean first, then squared deviations): E[x^2] - E[x]^2 would cancel
            # catastrophically when |mean| >> std. einsum sums sq = xmu**2 over the batch
            # without storing sq, one (N, D) array fewer to allocate and write.
            var = np.einsum("nd,nd->d", xmu, xmu) / N
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
        xmu = x - mu
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    # xhat = xmu * ivar and out = gamma * xhat + beta, block by block (blocks): at large
    # N x D the time goes into streaming memory, not into the arithmetic. Both arrays keep
    # the memory order of xmu (spatial batch norm passes a transposed view).
    xhat = np.empty_like(xmu, dtype=np.result_type(xmu, ivar))
    out = np.empty_like(xhat, dtype=np.result_type(gamma, xhat))

    def normalize(rows, cols):
        np.multiply(xmu[rows, cols], ivar[cols], out=xhat[rows, cols])
        np.multiply(xhat[rows, cols], gamma[cols], out=out[rows, cols])
        out[rows, cols] += beta[cols]

    for_each_block(xhat, normalize)
    cache = BatchNormCache(
        mode=mode, x=x, mu=mu, xmu=xmu, var=var, sqrtvar=sqrtvar, ivar=ivar,
        xhat=xhat, gamma=gamma, eps=eps,
    )
    ### END SOLUTION
    validation.finite_variance(where, cache.var, x)
    return out, cache


def _check_backward_inputs(where, dout, cache):
    validation.cache_of(where, cache, BatchNormCache, "batchnorm_forward")
    if cache.mode != "train":
        raise ValueError(
            f"{where}: cache comes from a '{cache.mode}'-mode forward pass; its statistics are "
            f"constants, so backpropagate through a 'train'-mode forward pass instead"
        )
    validation.float_array(where, "dout", dout)
    validation.same_shape(where, "dout", dout, cache.x.shape, "the shape of x and of out")


def batchnorm_backward(dout, cache):
    """Batch normalization, backward pass, one node of the computational graph at a time.

    Each step is (local gradient) * (upstream gradient), in the reverse order of the
    forward pass. Where a forward value fed two nodes (xmu, and x itself), its gradient
    arrives along two branches, computed separately (dxmu1, dxmu2 and dx1, dx2) and added.

    Inputs:
    - dout: (N, D) upstream gradient dL/dout
    - cache: BatchNormCache from a train-mode batchnorm_forward

    Returns a tuple of:
    - dx: (N, D) gradient with respect to x
    - dgamma: (D,) gradient with respect to gamma
    - dbeta: (D,) gradient with respect to beta
    All three keep dout's dtype: a float32 pass stays float32.
    """
    _check_backward_inputs("batchnorm_backward", dout, cache)
    ### BEGIN SOLUTION
    N = dout.shape[0]
    xmu, var, sqrtvar, ivar, xhat = cache.xmu, cache.var, cache.sqrtvar, cache.ivar, cache.xhat
    gamma, eps = cache.gamma, cache.eps

    # out = gammax + beta: an addition passes the gradient on; beta was broadcast over N rows
    dbeta = np.sum(1.0 * dout, axis=0)
    dgammax = 1.0 * dout
    # gammax = gamma * xhat: each factor's local gradient is the other factor
    dgamma = np.sum(xhat * dgammax, axis=0)
    dxhat = gamma * dgammax
    # xhat = xmu * ivar: xmu's first branch, and ivar (broadcast over N rows, so summed)
    divar = np.sum(xmu * dxhat, axis=0)
    dxmu1 = ivar * dxhat
    # ivar = 1 / sqrtvar
    dsqrtvar = -1.0 / sqrtvar**2 * divar
    # sqrtvar = sqrt(var + eps)
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    # var = mean of sq over the batch: every row receives 1/N of the upstream gradient
    dsq = np.ones_like(dout) / N * dvar
    # sq = xmu**2: xmu's second branch
    dxmu2 = 2.0 * xmu * dsq
    # xmu = x - mu: x's first branch; mu was broadcast over N rows, so its gradient is summed
    dx1 = 1.0 * (dxmu1 + dxmu2)
    dmu = -1.0 * np.sum(dxmu1 + dxmu2, axis=0)
    # mu = mean of x over the batch: x's second branch
    dx2 = np.ones_like(dout) / N * dmu
    dx = dx1 + dx2
    ### END SOLUTION
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Batch normalization, backward pass in closed form (same cache as batchnorm_backward).

    Notebook 3 derives the closed form from the staged graph. It needs two sums over the
    batch (dbeta and dgamma) and then one elementwise expression for dx; no implementation
    can do with fewer passes, since every entry of dx depends on both sums.

    Inputs and returns: as batchnorm_backward.
    """
    _check_backward_inputs("batchnorm_backward_alt", dout, cache)
    ### BEGIN SOLUTION
    # dbeta  = sum_i dout_i
    # dgamma = sum_i dout_i * xhat_i
    # dx     = gamma * ivar * (dout - (dbeta + xhat * dgamma) / N)
    xhat = cache.xhat
    N, D = xhat.shape
    dbeta = np.empty(D, dtype=dout.dtype)
    dgamma = np.empty(D, dtype=np.result_type(dout, xhat))
    scale = cache.gamma * cache.ivar
    dx = np.empty_like(xhat, dtype=np.result_type(xhat, dgamma))

    shared = independent_blocks(xhat)

    def sums(rows, cols):
        # column_sums, not np.sum: its pairwise sum takes twice as long on spatial batch
        # norm's column-major rows
        dbeta[cols] = column_sums(dout[rows, cols])
        dgamma[cols] = column_sums(dout[rows, cols], xhat[rows, cols], shared)

    def closed_form(rows, cols):
        # dx = gamma * ivar * (dout - (dbeta + xhat * dgamma) / N), inside one fresh array
        # with the (D,) factors folded first: four passes over the block while it is in
        # cache, and no temporaries
        np.multiply(xhat[rows, cols], dgamma[cols] / N, out=dx[rows, cols])
        dx[rows, cols] += dbeta[cols] / N
        np.subtract(dout[rows, cols], dx[rows, cols], out=dx[rows, cols])
        dx[rows, cols] *= scale[cols]

    if shared:
        # A block's sums are complete: its closed form follows them while it is in cache.
        # Spatial batch norm of 50 maps of 32 x 32 x 32, float32: 15% off the backward pass
        # on two threads, 30% on one while other work kept the memory busy, the same time
        # (within 5%) on one thread of a quiet machine; the forward pass gains half as much
        for_each_block(xhat, in_turn(sums, closed_form))
    else:
        sums(slice(None), slice(None))
        for_each_block(xhat, closed_form)
    ### END SOLUTION
    return dx, dgamma, dbeta
