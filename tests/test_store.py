"""The memory-mapped store: synthetic writing in chunks, gathering batches, streaming statistics, bad stores."""

import errno
import shutil
from collections import namedtuple

import numpy as np
import pytest

from stellar_relevance.io import store as store_module
from stellar_relevance.exceptions import DataError
from stellar_relevance.io import read_packed
from stellar_relevance.io.store import memory_status, open_store, write_synthetic_store
from stellar_relevance.nn.batches import column_moments, gather_rows


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    return write_synthetic_store(tmp_path_factory.mktemp("store") / "s.fits", 37, n_pixels=120, chunk_rows=10)


def test_synthetic_store_written_in_chunks_reads_back_mapped(small_store):
    store = open_store(small_store)
    assert (store.n_spectra, store.n_pixels) == (37, 120)
    assert store.flux.dtype.str == ">f4" and not store.flux.flags.writeable and not store.flux.flags.owndata
    loaded = read_packed(small_store)
    np.testing.assert_array_equal(store.flux, loaded.flux)
    np.testing.assert_array_equal(store.labels["Y"], loaded.labels["Y"])
    # the label is in the lines: depth correlates with Y
    depth = 1 - np.asarray(store.flux).min(axis=1)
    assert np.corrcoef(depth, store.labels["Y"])[0, 1] > 0.5


def test_gather_returns_native_float32_rows_in_the_asked_order(small_store):
    store = open_store(small_store)
    index = np.array([30, 2, 17, 2])
    batch = gather_rows(store.flux, index)
    assert batch.dtype == np.float32 and batch.dtype.isnative and batch.flags.c_contiguous
    np.testing.assert_array_equal(batch, np.asarray(store.flux)[index])


def test_pixel_mean_streams_with_float64_accumulators(small_store, monkeypatch):
    import stellar_relevance.nn.batches

    store = open_store(small_store)
    flux = np.asarray(store.flux, dtype=np.float64)
    monkeypatch.setattr(stellar_relevance.nn.batches, "CHUNK_BYTES", 8 * store.n_pixels * 8)  # 8 rows a chunk
    np.testing.assert_allclose(column_moments(store.flux)[0], flux.mean(0), rtol=1e-12)
    rows = [1, 5, 36]
    monkeypatch.setattr(stellar_relevance.nn.batches, "CHUNK_BYTES", 8 * store.n_pixels * 2)  # 2 rows a chunk
    np.testing.assert_allclose(column_moments(store.flux, rows)[0], flux[rows].mean(0), rtol=1e-12)


def test_pixel_count_differing_from_the_model_is_one_data_error(small_store):
    store = open_store(small_store)
    store.require_pixels(120)
    with pytest.raises(DataError, match=r"s\.fits: 120 pixels per spectrum, but the model takes 4300"):
        store.require_pixels(4300)


def test_truncated_store_is_one_data_error(small_store, tmp_path):
    cut = tmp_path / "cut.fits"
    cut.write_bytes(small_store.read_bytes()[: 2880 * 6])
    with pytest.raises(DataError, match=r"cut\.fits: (truncated|not a readable)"):
        open_store(cut)


def test_not_enough_disk_is_refused_before_writing(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(OSError, match="needs about") as info:
        store_module.write_synthetic_store(tmp_path / "big.fits", 1000, n_pixels=4300)
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_memory_status_reads_anonymous_and_file_backed_apart():
    status = memory_status()
    assert status["anon"] > 0 and status["file"] > 0 and status["peak"] >= status["rss"] > 0
