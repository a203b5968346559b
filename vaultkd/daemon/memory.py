"""Handing freed memory back to the operating system between bursts of work.

A catch-up parses thousands of notes and runs the tokenizer and onnxruntime over them; CPython
and glibc keep the memory that work freed for reuse, so a daemon would sit at its peak for
days. `malloc_trim` returns the free pages. Where glibc is absent (macOS, musl) this does
nothing: those allocators return memory on their own terms.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def release_free_memory() -> bool:
    """Collect garbage and return free heap pages to the OS; True when the trim ran."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
