"""Numba's compiled UMAP / pynndescent kernels kept on disk between processes.

UMAP compiles its numba kernels in every new process: on a 2-core CPU that took 25-60 s of
each `segcore run` / `segcore score` (400 reviews: 46 s fit + 19 s placement, of which all but
2 s was compilation). UMAP does not ask numba to cache them, so segscope does, once per
process: the second process loads the machine code in about a second. The code is the same,
so the map is the same.

Where: $SEGSCOPE_JIT_CACHE, else $NUMBA_CACHE_DIR, else ~/.cache/segscope/numba."""
from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGES = ("umap", "pynndescent")
_lock = threading.Lock()
_done = False


def cache_dir() -> Path:
    folder = os.environ.get("SEGSCOPE_JIT_CACHE") or os.environ.get("NUMBA_CACHE_DIR")
    return Path(folder or Path.home() / ".cache" / "segscope" / "numba").expanduser()


def enable_umap_cache() -> int:
    """Import umap and turn on numba's disk cache for its kernels (and pynndescent's); returns
    how many kernels were switched on (0 after the first call, or when the folder cannot be
    written: then they compile as before)."""
    global _done
    with _lock:
        if _done:
            return 0
        _done = True
        import numba
        import umap  # noqa: F401  (imports its modules and pynndescent)
        from numba.core.registry import CPUDispatcher

        folder = cache_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.info("numba cache off (%s)", exc)
            return 0
        numba.config.CACHE_DIR = str(folder)  # read when each kernel's cache is set up
        count = 0
        for name in [m for m in list(sys.modules) if m.split(".")[0] in PACKAGES]:
            for obj in list(vars(sys.modules[name]).values()):
                if isinstance(obj, CPUDispatcher) and obj._cache.__class__.__name__ == "NullCache":
                    try:
                        obj.enable_caching()
                        count += 1
                    except Exception as exc:  # a kernel numba cannot cache just compiles as before
                        log.debug("no cache for %s: %s", getattr(obj, "__name__", obj), exc)
        return count


def keep_print_unpatched() -> None:
    """Call before Ray starts in this process. Ray's driver swaps `builtins.print` for its
    tqdm-safe wrapper the first time a worker's log line reaches it (ray.experimental.tqdm_ray)
    and never puts it back; numba types `print` by identity, so every kernel compiled after
    that fails (`numba.get_num_threads()` prints, and pynndescent calls it): the map of a
    `segcore bench` after its Ray measurement stopped with a TypingError. Ray's own switch
    keeps the real print; worker logs still reach the terminal."""
    os.environ["RAY_TQDM_PATCH_PRINT"] = "0"
