"""The sync runs the cyclic garbage collector rarely and gives the process its thresholds back."""

from __future__ import annotations

import gc

import pytest

from etl.sync import SYNC_GC_THRESHOLD, bulk_allocation_gc


def test_thresholds_are_raised_during_a_sync_and_restored_after_nested_and_failing_ones() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with bulk_allocation_gc():
            assert gc.get_threshold() == (SYNC_GC_THRESHOLD, 10, 10)
            with pytest.raises(RuntimeError), bulk_allocation_gc():  # a second sync in another thread, failing
                raise RuntimeError("boom")
            assert gc.get_threshold() == (SYNC_GC_THRESHOLD, 10, 10)  # the first one still runs
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_a_higher_threshold_set_by_the_operator_is_kept() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(SYNC_GC_THRESHOLD * 2, 10, 10)
        with bulk_allocation_gc():
            assert gc.get_threshold()[0] == SYNC_GC_THRESHOLD * 2
    finally:
        gc.set_threshold(*before)


def test_the_allocator_is_tuned_once_per_process_on_glibc() -> None:
    import ctypes.util
    import platform

    import etl.sync as sync_module

    applied = sync_module.tune_allocator()
    if platform.system() == "Linux" and ctypes.util.find_library("c") and platform.libc_ver()[0] == "glibc":
        assert applied and sync_module.tune_allocator()  # idempotent
    else:
        assert applied is False
