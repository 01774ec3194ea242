"""torch_running_var: PyTorch's running variance after k batches of N rows, from ours (relation (*)).

PyTorch averages the unbiased batch variance, N/(N-1) times ours, with the converted
momentum 1 - m, from a start of 1 where ours starts at 0; every update is linear, so
torch = N/(N-1) * ours + m**k.
"""

import numpy as np

from tests.instructor.fresh.entry import NAMED, Catalogue

catalogue = Catalogue("torch_running_var")
mistake, correct = catalogue.mistake, catalogue.correct


@correct("the start value run through k updates in a loop")
def start_in_a_loop(running_var, N, k, momentum):
    left = 1.0
    for _ in range(k):
        left = momentum * left
    return running_var * N / (N - 1) + left


# Written as a correct variant; momentum 0 is in the contract's range, and there log(0) * 0 is NaN
# where 0 ** 0 is 1: a mistake at that end of the range.
@mistake("Bessel's factor and the start share through logarithms, undefined at momentum 0", judged=NAMED)
def via_logarithms(running_var, N, k, momentum):
    return np.exp(np.log(N) - np.log(N - 1)) * running_var + np.exp(k * np.log(momentum))


@mistake("PyTorch's momentum in the power: (1 - m)**k", judged=NAMED)
def pytorch_momentum_in_power(running_var, N, k, momentum):
    return N / (N - 1) * running_var + (1 - momentum) ** k


@mistake("no start term: PyTorch's start at 1 forgotten", judged=NAMED)
def no_start_term(running_var, N, k, momentum):
    return N / (N - 1) * running_var


@mistake("the zero start's share 1 - m**k instead of what is left of the start", judged=NAMED)
def zero_start_share(running_var, N, k, momentum):
    return N / (N - 1) * running_var + 1 - momentum**k


@mistake("one update too many on the start value", judged=NAMED)
def one_update_too_many(running_var, N, k, momentum):
    return N / (N - 1) * running_var + momentum ** (k + 1)


@mistake("the start value never fades", judged=NAMED)
def start_never_fades(running_var, N, k, momentum):
    return N / (N - 1) * running_var + 1.0


@mistake("no Bessel factor: PyTorch assumed to store the biased variance", judged=NAMED)
def no_bessel(running_var, N, k, momentum):
    return running_var + momentum**k


@mistake("Bessel's factor inverted: (N-1)/N", judged=NAMED)
def bessel_inverted(running_var, N, k, momentum):
    return (N - 1) / N * running_var + momentum**k


@mistake("Bessel's factor applied once per batch: (N/(N-1))**k", judged=NAMED)
def bessel_per_batch(running_var, N, k, momentum):
    return (N / (N - 1)) ** k * running_var + momentum**k


@mistake("Bessel's factor applied to the start value too", judged=NAMED)
def bessel_on_start(running_var, N, k, momentum):
    return N / (N - 1) * (running_var + momentum**k)


@mistake("updates the caller's running_var in place", judged=NAMED)
def in_place(running_var, N, k, momentum):
    running_var *= N / (N - 1)
    running_var += momentum**k
    return running_var


ENTRIES = catalogue.entries
