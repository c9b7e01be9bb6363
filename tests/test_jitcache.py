"""UMAP's numba kernels are compiled once and loaded from disk by later processes (each
`segcore run` / `score` is a new process), with the same map."""
import json
import os
import subprocess
import sys

from conftest import ROOT

MAP = """
import json, numpy as np
from segcore.analysis.projection import fit_projection, project
from umap.umap_ import smooth_knn_dist
emb = np.load({emb!r})
proj, xy = fit_projection(emb, seed=0)
placed = project(proj, emb[:20])
stats = smooth_knn_dist.stats
print(json.dumps({{"xy": xy.tolist(), "placed": placed.tolist(),
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}}))
"""


def _map_in_new_process(emb_path, cache):
    env = {**os.environ, "SEGSCOPE_JIT_CACHE": str(cache)}
    proc = subprocess.run([sys.executable, "-c", MAP.format(emb=str(emb_path))], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_loads_the_compiled_umap_and_draws_the_same_map(tmp_path, sample_frame):
    """Real reviews as TF-IDF + SVD vectors (any vectors do: this is about compilation)."""
    import numpy as np
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(min_df=2).fit_transform(sample_frame["Text"].head(120))
    emb = TruncatedSVD(32, random_state=0).fit_transform(tfidf).astype(np.float32)
    np.save(tmp_path / "emb.npy", emb)
    cache = tmp_path / "numba"

    first = _map_in_new_process(tmp_path / "emb.npy", cache)
    assert first["misses"] >= 1 and first["hits"] == 0  # compiled here, and written
    assert any(p.suffix == ".nbc" for p in cache.rglob("*"))
    second = _map_in_new_process(tmp_path / "emb.npy", cache)
    assert second["hits"] >= 1 and second["misses"] == 0  # loaded, not compiled
    assert second["xy"] == first["xy"] and second["placed"] == first["placed"]
