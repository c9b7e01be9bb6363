"""Ray for a scoring job: connect to a cluster (or start a local instance) and stop it again."""
from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from pathlib import Path

import ray
import ray.data

from ...analysis.jitcache import keep_print_unpatched
from ...errors import SegscopeError


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at host:port (Ray retries long)."""
    if address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise SegscopeError(f"--address {address}: give 'auto', 'host:port' or 'ray://host:port'.")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise SegscopeError(f"Cannot reach the Ray cluster at {address} ({exc.strerror or exc}); check the "
                            "address and that the head node is running (ray start --head).") from None


@contextmanager
def ray_session(address: str | None):
    """Ray for this job: an existing connection (a test, or a `ray job submit` driver that
    already called ray.init), the cluster at `address` (or at $RAY_ADDRESS, as Ray itself
    does), or a local instance on this machine. Shut down again at the end when this call
    connected or started it."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    keep_print_unpatched()  # numba compiles nothing after Ray otherwise (analysis/jitcache.py)
    if ray.is_initialized():
        yield
        return
    env = {"TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[3]),
                                                        os.environ.get("PYTHONPATH")]))}
    kwargs = dict(logging_level=logging.WARNING, runtime_env={"env_vars": env})
    saved = {}
    try:
        if address:
            if address != "auto":  # a remote cluster: ship this package to its workers
                kwargs["runtime_env"] = {"env_vars": {k: v for k, v in env.items() if k != "PYTHONPATH"},
                                         "py_modules": [str(Path(__file__).resolve().parents[2])]}
            ray.init(address=address, **kwargs)
        else:
            # A local instance's workers inherit this process's environment: set there, not as a
            # runtime_env, which starts every worker through Ray's setup_worker (2 s of imports each).
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            del kwargs["runtime_env"]
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, **kwargs)
    except ConnectionError as exc:
        _restore(saved)
        raise SegscopeError(f"Cannot connect to the Ray cluster at {address}: {' '.join(str(exc).split())[:200]}") from None
    try:
        yield
    finally:
        ray.shutdown()
        _restore(saved)


def _restore(saved: dict) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def quiet_ray_data() -> None:
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True  # shards and error rows come out in input order
    logging.getLogger("ray.data").setLevel(logging.WARNING)
