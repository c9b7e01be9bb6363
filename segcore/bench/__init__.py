"""`python -m segcore bench`: segscope's training, scoring, memory, map and end-to-end speed,
each against its baseline, in one process, on real reviews resampled to the needed size.

Baselines are the seed's recipes: training pads every review to 128 tokens, fp32, batch 16,
a plain PyTorch AdamW loop; scoring is `tokenizer(padding="max_length")` + the model per batch
of 16 in fp32. Segscope's side runs the real code paths (`fine_tune`, `predict`, `score_file`
with `chunk_rows`, `fit_projection`, `run_pipeline`). Each measurement prints one JSON line;
a final line summarises the ratios. `score_ray` compares `segcore score --engine ray` (a local
Ray instance on this machine) with the local engine on the same file. No number here is
asserted by the tests.

`quick` times `segcore run --quick` (time to first segments) against a naive fp32 embedding pass
over the same reviews; `load` times fine-tuning idle and beside CPU hogs it starts itself; `job`
runs a whole app job (quick result, then fine-tuning) and checks its live time estimate, its maps
and what it says fine-tuning changed (docs/speed.md).

One module per measurement (train, score, memory, score_ray, maps, e2e, keywords, segments, quick,
load, job), what they share in common.py, the command in cli.py."""
from .cli import add_bench_parser, run_bench
from .common import LABELS, MEASUREMENTS, BenchConfig, Result
from .e2e import bench_e2e
from .job import bench_job, estimate_error, same_group_share
from .load import bench_load, cpu_hogs
from .maps import bench_map, map_embeddings, neighbour_preservation
from .memory import bench_memory, compare_outputs, peak_rss_of, tiny_run
from .quick import bench_quick
from .score import bench_score, naive_predict
from .score_ray import bench_score_ray
from .train import bench_train, seed_train_rate, segscope_train_rate

__all__ = ["LABELS", "MEASUREMENTS", "BenchConfig", "Result", "add_bench_parser", "bench_e2e", "bench_job",
           "bench_load", "bench_map", "bench_memory", "bench_quick", "bench_score", "bench_score_ray", "bench_train",
           "compare_outputs", "cpu_hogs", "estimate_error", "map_embeddings", "naive_predict",
           "neighbour_preservation", "peak_rss_of", "run_bench", "same_group_share", "seed_train_rate",
           "segscope_train_rate", "tiny_run"]
