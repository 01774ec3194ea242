"""The memory layouts of issue 23: results do not depend on blocks or layouts, and no copy is made where none is needed."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from cs231n_bn import batchnorm, benchmark
from cs231n_bn.conv import conv_backward, conv_forward, max_pool_backward, max_pool_forward
from cs231n_bn.spatial import spatial_batchnorm_backward, spatial_batchnorm_forward


def forward_backward(x, gamma, beta, dout):
    out, cache = batchnorm.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    return (out, cache.xmu, cache.xhat, *batchnorm.batchnorm_backward_alt(dout, cache))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_of_any_size_give_the_same_batch_norm(monkeypatch, order, dtype):
    x, gamma, beta, dout = benchmark.batchnorm_inputs(37, 11, dtype, seed=5)
    x, dout = np.asarray(x, order=order), np.asarray(dout, order=order)
    for name in ("BLOCK_ENTRIES", "COLUMN_BLOCK_ENTRIES"):
        monkeypatch.setattr(batchnorm, name, 2**40)
    whole = forward_backward(x, gamma, beta, dout)
    for name in ("BLOCK_ENTRIES", "COLUMN_BLOCK_ENTRIES"):
        monkeypatch.setattr(batchnorm, name, 30)  # blocks of 2 rows (C order) or of 1 column (F order)
    assert len(batchnorm.blocks(x)) > 3
    blocked = forward_backward(x, gamma, beta, dout)
    for a, b in zip(whole, blocked):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        if dtype == np.float64:  # float64 statistics are not blocked; every elementwise result is the same
            np.testing.assert_array_equal(a, b)
        else:  # float32 sums are added up in another order
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_visiting_each_block_once_gives_the_bits_of_the_two_sweeps(monkeypatch, dtype):
    # Spatial batch norm's column-major view, far from zero so that the shift by the first
    # sample matters: one visit per block of whole features (independent_blocks), or every
    # pass over the whole array before the next, must be the same operations on the same entries.
    x, gamma, beta, dout = benchmark.batchnorm_inputs(300, 12, dtype, seed=3)
    x, dout = np.asfortranarray(x + dtype(100)), np.asfortranarray(dout)
    monkeypatch.setattr(batchnorm, "COLUMN_BLOCK_ENTRIES", 900)  # blocks of 3 columns
    # the same sums on both paths (an array that is not shared sums float32 products with
    # vecdot: test_column_sums_...)
    einsum_sums = batchnorm.column_sums
    monkeypatch.setattr(batchnorm, "column_sums", lambda a, b=None, shared=False: einsum_sums(a, b, True))
    sweeps = forward_backward(x, gamma, beta, dout)
    monkeypatch.setattr(batchnorm, "SHARE_MIN_ENTRIES", 1)
    assert batchnorm.independent_blocks(x) and len(batchnorm.blocks(x)) == 4
    once = forward_backward(x, gamma, beta, dout)
    for a, b in zip(sweeps, once):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shared", [False, True])
def test_column_sums_are_the_sums_over_the_rows(rng, order, dtype, shared):
    a = np.asarray(rng.normal(3, 2, size=(3000, 5)).astype(dtype), order=order)
    b = np.asarray(rng.normal(size=(3000, 5)).astype(dtype), order=order)
    wide = np.float64 if dtype == np.float64 else np.float32
    exact_sum = a.astype(np.float64).sum(axis=0)
    exact_dot = np.einsum("nd,nd->d", a.astype(np.float64), b.astype(np.float64))
    sums, dots = batchnorm.column_sums(a), batchnorm.column_sums(a, b, shared)
    assert sums.dtype == dots.dtype == wide and sums.shape == dots.shape == (5,)
    # float32 sums of 3000 terms: a few units in the last place of the sum of magnitudes
    bound = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(sums, exact_sum, rtol=0, atol=bound * np.abs(a).astype(np.float64).sum(axis=0).max())
    np.testing.assert_allclose(dots, exact_dot, rtol=0, atol=bound * np.abs(a * b).astype(np.float64).sum(axis=0).max())


def test_float32_dot_products_give_the_same_bits_at_every_blas_thread_count(rng):
    # Columns longer than the 10,000 entries from which OpenBLAS splits a float64 dot product
    # among its threads: column_sums hands float32 ones to BLAS, so they must not be split
    a = np.asfortranarray(rng.normal(3, 2, size=(51200, 4)).astype(np.float32))
    b = np.asfortranarray(rng.normal(size=(51200, 4)).astype(np.float32))
    results = []
    for threads in (1, 2, 4):
        with threadpool_limits(threads, user_api="blas"):
            results.append(batchnorm.column_sums(a, b))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


@pytest.mark.parametrize("N, D, entries", [(51200, 32, 2**19), (100, 10, 300), (100, 10, 350), (7, 5, 1), (4, 3, 10**6)])
def test_columns_are_cut_into_the_fewest_blocks_of_equal_width(monkeypatch, N, D, entries):
    monkeypatch.setattr(batchnorm, "COLUMN_BLOCK_ENTRIES", entries)
    parts = batchnorm.blocks(np.zeros((D, N), dtype=np.float32).T)
    widths = [cols.stop - cols.start for rows, cols in parts]
    assert all(rows == slice(None) for rows, _ in parts)
    assert [cols.start for _, cols in parts] == np.cumsum([0] + widths[:-1]).tolist() and sum(widths) == D
    assert max(widths) - min(widths) <= 1 and min(widths) >= 1
    # every block within the limit (a single column may exceed it), and one block fewer would not be
    assert max(widths) == 1 or max(widths) * N <= entries
    assert len(parts) == 1 or -(-D // (len(parts) - 1)) * N > entries


@pytest.mark.parametrize("N, per_image, entries", [(50, 1024, 16384), (50, 1024, 4096), (7, 10, 1), (3, 5, 10**6), (10, 3, 7)])
def test_images_are_cut_into_the_fewest_blocks_of_equal_size(N, per_image, entries):
    from cs231n_bn.conv import _image_blocks

    parts = _image_blocks(N, per_image, entries)
    sizes = [n.stop - n.start for n in parts]
    assert parts[0].start == 0 and all(a.stop == b.start for a, b in zip(parts, parts[1:])) and parts[-1].stop == N
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    widest = max(1, entries // per_image)
    assert max(sizes) <= widest  # within the limit (one image may exceed it) ...
    assert len(parts) == 1 or -(-N // (len(parts) - 1)) > widest  # ... and one block fewer would not be


def test_blocks_follow_the_memory_order():
    a = np.zeros((1000, 300))
    assert all(cols == slice(None) for _, cols in batchnorm.blocks(a))
    assert all(rows == slice(None) for rows, _ in batchnorm.blocks(a.T))


def test_conv_output_is_channels_first_and_batch_norm_reads_it_without_a_copy(rng):
    x = rng.normal(size=(3, 2, 5, 5))
    w, b = rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4)
    out, conv_cache = conv_forward(x, w, b, {"stride": 1, "pad": 1})
    assert out.transpose(1, 0, 2, 3).flags.c_contiguous
    bn_out, bn_cache = spatial_batchnorm_forward(out, np.ones(4), np.zeros(4), {"mode": "train"})
    assert np.shares_memory(bn_cache.bn.x, out)  # the (N*H*W, C) rows are a view of the conv's output
    contiguous_out, _ = spatial_batchnorm_forward(np.ascontiguousarray(out), np.ones(4), np.zeros(4), {"mode": "train"})
    np.testing.assert_array_equal(bn_out, contiguous_out)
    dout = rng.normal(size=out.shape)
    dx_bn = spatial_batchnorm_backward(dout, bn_cache)[0]
    # conv_backward takes dout in either layout, with the same results
    for a, b in zip(conv_backward(dx_bn, conv_cache), conv_backward(np.ascontiguousarray(dx_bn), conv_cache)):
        np.testing.assert_array_equal(a, b)


def test_pool_records_the_first_maximum_of_every_window():
    x = np.array([[[[1.0, 3.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]]])
    out, cache = max_pool_forward(x, {})
    np.testing.assert_array_equal(out, [[[[3.0, 2.0]]]])
    np.testing.assert_array_equal(cache.argmax, [[[[1, 2]]]])  # flat indices into x
    np.testing.assert_array_equal(max_pool_backward(np.array([[[[5.0, 7.0]]]]), cache),
                                  [[[[0.0, 5.0, 7.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]])


def blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.mark.parametrize("threads", [1, None])
def test_bench_convnet_restores_both_libraries_threads(threads):
    before = blas_threads()
    torch = benchmark.torch
    torch_before = torch.get_num_threads() if torch is not None else None
    benchmark.bench_convnet(N=2, input_dim=(3, 8, 8), num_filters=4, repeat=1, min_time=1e-4, threads=threads,
                            layers=False)
    assert blas_threads() == before
    if torch is not None:
        assert torch.get_num_threads() == torch_before


@pytest.mark.parametrize("pool_param", [{}, {"pool_height": 3, "pool_width": 2, "stride": 1}, {"stride": 3}])
def test_pool_keeps_a_channels_first_layout_with_the_same_results(rng, pool_param):
    x_cf = rng.normal(size=(3, 2, 7, 8)).transpose(1, 0, 2, 3)  # (N, C, H, W) view of (C, N, H, W) memory
    x_cf[0, 1, 2, 2] = x_cf[0, 1, 2, 3]  # a tie: the gradient goes to the first maximum in both layouts
    out, cache = max_pool_forward(x_cf, pool_param)
    assert cache.channels_first and out.transpose(1, 0, 2, 3).flags.c_contiguous
    ref_out, ref_cache = max_pool_forward(np.ascontiguousarray(x_cf), pool_param)
    assert not ref_cache.channels_first
    np.testing.assert_array_equal(out, ref_out)
    dout = rng.normal(size=out.shape)
    dx = max_pool_backward(dout, cache)
    assert dx.transpose(1, 0, 2, 3).flags.c_contiguous
    np.testing.assert_array_equal(dx, max_pool_backward(dout, ref_cache))
    # dout in the other layout gives the same dx
    np.testing.assert_array_equal(dx, max_pool_backward(np.ascontiguousarray(dout), cache))
