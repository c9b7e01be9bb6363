"""`torchrun --nproc_per_node 2 -m segcore run ...` trains with the Trainer's DDP (gloo on CPU)
and writes the outputs once, from rank 0."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.torchrun


def test_torchrun_two_processes_on_cpu(tmp_path, small_csv, tiny_model):
    out = tmp_path / "ddp"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "segcore", "run", str(small_csv), "--out", str(out), "--model", str(tiny_model),
           "--epochs", "1", "--k", "3"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("3 segments ->") == 1  # only rank 0 scores and writes
    assert proc.stderr.count("stage score ...") == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["k"] == 3 and metrics["epochs_run"] == 1
    # Both processes trained: the logged loss is a per-batch mean (not scaled by the 2 ranks).
    assert all(v["loss"] < 1.5 for v in metrics["validation"]), metrics["validation"]
    assert (out / "model" / "model.safetensors").exists() and (out / "model" / "segscope.json").exists()
    assert not list(out.glob(".model.tmp*"))
