"""Scale-out scoring on a Ray cluster with Ray Data (`segcore score ... --engine ray`).

A saved run is applied as the local engine applies it (`engines.stream.score_file`), spread
over the cluster:

1. Read: `reader.ReviewFiles`, one read task per CSV / Parquet file, rows numbered as the local
   engine numbers them; unreadable rows become error rows.
2. Score: `map_batches` with a pool of `actor.Scorer` actors, each calling the same
   `core.score_batch` as the local engines and placing the reviews on the saved map.
3. Customers: duplicates across batches (same customer and text; the first is kept, as in
   cleaning) are found by a groupby on the batch keys; per-customer sums
   (`analyse.customer_part`) are combined by a Ray groupby-aggregate, and the driver turns that
   table into segments by the saved centroids as the local engines do (`strategy.segments.analyse_sums`).
4. Write: `reviews_scored/` and `errors/` Parquet shards (the layout of `engines.outputs`),
   `segments.csv` with the other customer-level files, and `metrics.json` with the local
   engines' keys plus the Ray details.

INPUT, the model folder and the output folder must be paths that every node of the cluster
can read and write (a shared file system) when the cluster has more than one machine."""
from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import ray
import ray.data
from ray.data import ActorPoolStrategy
from ray.data.aggregate import Count, Max, Min, Sum
from ray.data.context import ShuffleStrategy

from ...analysis.analyse import customer_part, profile_review_columns
from ...errors import SegscopeError
from ...ingest.columns import resolve_columns
from ...io.artifacts import to_json
from ...io.scored import MAP_COLUMNS, add_segment_columns, added_columns, prediction_columns, prediction_rows
from ...strategy.segments import analyse_sums
from ..core import agreement, load_run, score_metrics
from ..outputs import write_segment_outputs
from ..stream import PROFILE_SAMPLE_ROWS
from .actor import KEY, STANDARD, Scorer
from .reader import ERROR, ROW, H, ReviewFiles, input_files, read_plan, row_offsets
from .session import quiet_ray_data, ray_session

log = logging.getLogger(__name__)

BATCH_ROWS = 1024  # reviews per actor call (--batch-size)
READ_CPUS = 0.25  # CPUs a read task reserves
SHUFFLE_ROWS = 250_000  # rows per groupby partition (Ray's default of 200 partitions is for big data)
SORT_SHUFFLE_PARTITIONS = 16  # up to this many partitions, the sort shuffle (tasks) instead of actors


def score_ray(input_path: str | Path, model_dir: str | Path, out_dir: str | Path, config, *,
              address: str | None = None, num_gpus_per_worker: float | None = None,
              batch_size: int | None = None, workers: int | None = None) -> dict:
    """Score INPUT with a saved run on Ray; writes the outputs into `out_dir` and returns the
    metrics (also written as metrics.json, with the local engines' keys)."""

    if config.max_rows:
        raise SegscopeError("--max-rows samples the whole file and cannot be combined with --engine ray.")
    if config.sheet:
        raise SegscopeError("--sheet is for Excel files; --engine ray reads CSV and Parquet.")
    model_dir, out_dir = Path(model_dir).resolve(), Path(out_dir).resolve()
    address = address or os.environ.get("RAY_ADDRESS") or None
    run = load_run(model_dir, templates=config.templates, lang=config.lang, model=False)  # checked before Ray starts
    labels = run.labels
    files = input_files(input_path)
    head, types = read_plan(files[0])
    columns = resolve_columns(head, config, preferred=run.columns)
    n_text = len(run.segment_model.pca_components)
    out_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = [0.0]

    def mark(stage: str) -> None:
        now = time.perf_counter()
        seconds[stage] = round(now - clock[0], 3)
        clock[0] = now

    with ray_session(address):
        started = clock[0] = time.perf_counter()
        quiet_ray_data()
        resources = ray.cluster_resources()
        gpus = float(resources.get("GPU", 0))
        per_worker = (1.0 if gpus else 0.0) if num_gpus_per_worker is None else float(num_gpus_per_worker)
        if per_worker > gpus:
            raise SegscopeError(f"--num-gpus-per-worker {per_worker:g}: the cluster has {gpus:g} GPUs.")
        cpus = int(resources.get("CPU", 1))
        n_workers = workers or (max(1, int(gpus // per_worker)) if per_worker else max(1, cpus))
        offsets = row_offsets(files, types)
        mark("count_rows")
        log.info("ray: %d files, %d model workers (%s), %d CPUs / %g GPUs in the cluster", len(files), n_workers,
                 f"{per_worker:g} GPU each" if per_worker else "CPU", cpus, gpus)
        # Reading is light next to the model: a read task reserves a quarter CPU and a CPU model
        # actor the rest of one, so a read always fits beside a full pool and feeds it.
        ds = ray.data.read_datasource(ReviewFiles(files, offsets=offsets, types=types), num_cpus=READ_CPUS)
        scored = ds.map_batches(
            Scorer, batch_size=batch_size or BATCH_ROWS, batch_format="pyarrow", zero_copy_batch=True,
            # Few batches queued per actor (Ray's default is 4): a batch waits for a free actor
            # rather than in the queue of one that is still loading the model.
            compute=ActorPoolStrategy(min_size=1, max_size=n_workers, initial_size=n_workers,
                                      max_tasks_in_flight_per_actor=2),
            num_gpus=per_worker or None, num_cpus=1 if per_worker else 1 - READ_CPUS,
            fn_constructor_args=(str(model_dir), columns.as_dict(), config),
            fn_constructor_kwargs={"threads": None if per_worker else 1}).materialize()
        mark("score")
        n_rows = scored.count()
        if n_rows == 0:
            raise SegscopeError("No rows to score in the input.")

        partitions = max(1, min(200, -(-n_rows // SHUFFLE_ROWS)))  # of the two groupbys below
        if partitions <= SORT_SHUFFLE_PARTITIONS:
            # Ray's default shuffle starts aggregator actors (a fresh process each, ~10 s per
            # groupby on 2 cores); on few partitions the sort shuffle's tasks reuse the workers.
            # Set on this dataset's context (its derived datasets copy it), not Ray's global one.
            scored.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        first = _first_of_duplicates(scored, partitions)
        mark("duplicates")
        sums = _customer_sums(scored, first, labels, n_text, partitions)
        mark("customer_sums")
        n_reviews = int(sums["n_reviews"].sum()) if len(sums) else 0
        if n_reviews == 0:
            raise SegscopeError("No reviews left after cleaning; check the text column.")
        analysis = analyse_sums(sums, _profile_sample(scored, first, labels, n_reviews, seed=config.seed),
                                n_reviews=n_reviews, labels=labels, segment_model=run.segment_model,
                                templates=run.templates, segment_names=run.segment_names,
                                language=run.language)
        pairs = scored.map_batches(_label_pairs, batch_format="pandas",
                                   fn_kwargs={"first": first, "labels": labels}).to_pandas()
        pairs = pairs.groupby(["label", "pred"])["n"].sum().reset_index()
        mark("segment")

        customers = analysis.customers
        segment_of = pd.Series(customers["segment_id"].to_numpy(), index=customers["customer_id"].to_numpy())
        segments = (segment_of, {s: p["name"] for s, p in analysis.profiles.items()})
        original = [c for c in scored.schema().names if not c.startswith(H)]
        review_schema, error_schema = _output_schemas(_arrow_schema(scored), original, labels)
        common = dict(first=first, labels=labels, original=original)
        for folder in ("reviews_scored", "errors"):
            _clear_shards(out_dir / folder)
        scored.map_batches(finish, batch_format="pandas", fn_kwargs=dict(
            kind="reviews", segments=segments, schema=review_schema, **common)).write_parquet(str(out_dir / "reviews_scored"))
        scored.map_batches(finish, batch_format="pandas", fn_kwargs=dict(
            kind="errors", segments=None, schema=error_schema, **common)).write_parquet(str(out_dir / "errors"))
        if not list((out_dir / "errors").glob("*.parquet")):  # none: an empty shard, so errors/ always reads
            import pyarrow.parquet as pq

            (out_dir / "errors").mkdir(exist_ok=True)
            pq.write_table(error_schema.empty_table(), out_dir / "errors" / "none.parquet")
        reasons = _reason_counts(out_dir / "errors")
        write_segment_outputs(out_dir, analysis)
        mark("write")
        total = time.perf_counter() - started
        figures = agreement(np.repeat(pairs["label"].to_numpy(), pairs["n"]).tolist(),
                            np.repeat(pairs["pred"].to_numpy(), pairs["n"]).tolist(), labels)
        metrics = score_metrics(
            run, n_rows_read=n_rows, n_reviews=n_reviews, reasons=reasons, notes=[], agreement_figures=figures,
            aspect_counts=Counter(), engine="ray", ray_version=ray.__version__, address=address or "local",
            input=str(input_path), files=len(files), columns=columns.used(), customers=int(len(customers)),
            workers=n_workers, num_gpus_per_worker=per_worker, cluster={"CPU": cpus, "GPU": gpus},
            batch_size=batch_size or BATCH_ROWS, reviews_per_s=round(n_reviews / total, 2),
            seconds=round(total, 3), stage_seconds=seconds, created=time.strftime("%Y-%m-%dT%H:%M:%S"))
    to_json(metrics, out_dir / "metrics.json")
    return metrics


def _reason_kind(reason: str) -> str:
    """Error reasons grouped for the summary ('column 'Text' is not valid UTF-8 (byte ...)' ->
    'not valid UTF-8')."""
    for kind in ("not valid UTF-8", "malformed CSV row", "scoring failed", "is not a whole number", "is not a number"):
        if kind in reason:
            return kind
    return reason


def _reason_counts(folder: Path) -> dict[str, int]:
    """Error rows by kind of reason, read back from the written shards (one column)."""
    import pyarrow.parquet as pq

    shards = sorted(folder.glob("*.parquet"))
    if not shards:
        return {}
    reasons = pd.concat([pq.read_table(p, columns=["reason"]).to_pandas()["reason"] for p in shards])
    counts = reasons.map(_reason_kind).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _numpy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Ray hands some columns over as pyarrow-backed pandas dtypes; the customer arithmetic
    (e.g. `.dt.total_seconds()` for recency) expects NumPy ones, as in the local engine."""
    for col in frame.columns:
        dtype = frame[col].dtype
        if isinstance(dtype, pd.ArrowDtype):
            kind = dtype.pyarrow_dtype
            frame[col] = frame[col].astype("datetime64[ns]" if pa.types.is_timestamp(kind) else kind.to_pandas_dtype())
    return frame


def _arrow_schema(ds) -> pa.Schema:
    schema = ds.schema()
    return schema.base_schema if hasattr(schema, "base_schema") else schema


def _clear_shards(folder: Path) -> None:
    """Old shards would mix with new ones (Ray appends); remove our own Parquet files only."""
    if folder.is_dir():
        for shard in folder.glob("*.parquet"):
            shard.unlink()


def _profile_sample(scored, first: pd.Series, labels: list[str], n_reviews: int, *, seed: int) -> pd.DataFrame:
    """The reviews that segment keywords, examples and top products come from: all of them up
    to PROFILE_SAMPLE_ROWS, else a seeded sample of that size (as streamed scoring does)."""
    def rows(batch: pd.DataFrame) -> pd.DataFrame:
        good = _good(batch)
        good = good[~_is_duplicate(good, first)]
        std = _standard(good, labels)
        return std[profile_review_columns(std, labels)]

    ds = scored
    if n_reviews > PROFILE_SAMPLE_ROWS:
        ds = ds.random_sample(min(1.0, 1.2 * PROFILE_SAMPLE_ROWS / n_reviews), seed=seed)
    sample = ds.map_batches(rows, batch_format="pandas").to_pandas()
    if len(sample) > PROFILE_SAMPLE_ROWS:
        sample = sample.sample(n=PROFILE_SAMPLE_ROWS, random_state=seed)
    return sample.sort_values("row_id").reset_index(drop=True)


def _good(batch: pd.DataFrame) -> pd.DataFrame:
    return batch[batch[ERROR].isna()]


def _duplicate_keys(batch: pd.DataFrame) -> pd.DataFrame:
    good = _good(batch)
    return pd.DataFrame({"key": good[KEY].to_numpy(), "row": good[ROW].to_numpy()})


def _is_duplicate(batch: pd.DataFrame, first: pd.Series) -> np.ndarray:
    """Reviews whose (customer, text) came earlier in the input (`first`: key -> first row)."""
    if first.empty:
        return np.zeros(len(batch), dtype=bool)
    earliest = batch[KEY].map(first)
    return (earliest.notna() & (earliest != batch[ROW])).to_numpy()


def _standard(batch: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """The scored rows as `prepare_reviews` + `add_predictions` name their columns."""
    names = ["customer_id", "pred_label", *[f"p_{lab}" for lab in labels], *STANDARD]
    out = pd.DataFrame({c: batch[H + c].to_numpy() for c in names if H + c in batch})
    out["row_id"] = batch[ROW].to_numpy()
    return out


def _first_of_duplicates(scored, partitions: int) -> pd.Series:
    """For each (customer, text) key that occurs more than once: its first row id."""
    keys = (scored.map_batches(_duplicate_keys, batch_format="pandas")
            .groupby("key", num_partitions=partitions)
            .aggregate(Count(alias_name="n"), Min("row", alias_name="first")).to_pandas())
    keys = keys[keys["n"] > 1]
    return pd.Series(keys["first"].to_numpy(dtype=np.int64), index=keys["key"].to_numpy(dtype=np.int64))


def _customer_sums(scored, first: pd.Series, labels: list[str], n_text: int, partitions: int) -> pd.DataFrame:
    """The per-customer sums of all reviews but duplicates (as `combine_sums` of per-batch
    parts), by a Ray groupby-aggregate; indexed and sorted by customer id."""
    kwargs = dict(first=first, labels=labels, n_text=n_text)
    empty = _arrow_schema(scored).empty_table().to_pandas()
    sum_cols = [c for c in customer_sums_of(empty, **kwargs).columns if c != "customer_id"]
    aggs = [Max(c, alias_name=c) if c.endswith("_max") else Sum(c, alias_name=c) for c in sum_cols]
    sums = (scored.map_batches(customer_sums_of, batch_format="pandas", fn_kwargs=kwargs)
            .groupby("customer_id", num_partitions=partitions).aggregate(*aggs).to_pandas())
    sums = _numpy_dtypes(sums).set_index("customer_id").sort_index()
    return sums.fillna({c: 0 for c in sum_cols if not c.endswith("_max")})


def customer_sums_of(batch: pd.DataFrame, *, first: pd.Series, labels: list[str], n_text: int) -> pd.DataFrame:
    """The per-customer sums of a batch's reviews that are not duplicates."""
    good = _good(batch)
    good = good[~_is_duplicate(good, first)]
    text = good[[f"{H}text_{i}" for i in range(n_text)]].to_numpy()
    part = customer_part(_standard(good, labels), text, labels)
    if "date_max" in part:
        part["date_max"] = part["date_max"].astype("datetime64[ns]")
    return part.rename_axis("customer_id").reset_index()


def finish(batch: pd.DataFrame, *, kind: str, first: pd.Series, segments: tuple | None, labels: list[str],
           original: list[str], schema: pa.Schema) -> pa.Table:
    """The rows of `reviews_scored/` (kind 'reviews': the columns of the local engine's
    reviews_scored.csv) or of `errors/` (kind 'errors': row_id, reason and the original
    columns, as dropped_rows.csv; duplicates are errors here) in a batch."""
    reason = batch[ERROR].copy()
    reason[_is_duplicate(batch, first) & reason.isna().to_numpy()] = "duplicate review"
    if kind == "errors":
        rows = batch[reason.notna().to_numpy()]
        table = pd.concat([pd.DataFrame({"row_id": rows[ROW].to_numpy(), "reason": reason[reason.notna()].to_numpy()}),
                           rows[original].reset_index(drop=True)], axis=1)
    else:
        segment_of, names = segments
        rows = batch[reason.isna().to_numpy()].reset_index(drop=True)
        std = _standard(rows, labels)
        table = prediction_rows(_with_row_id(rows[original], rows[ROW]), std, labels)
        segment = std["customer_id"].map(segment_of)
        table = add_segment_columns(table, segment.to_numpy(), segment.map(names).to_numpy(),
                                    rows[[H + "x", H + "y"]].to_numpy(dtype=float))
    # No pandas metadata: readers get plain types, whatever dtypes this batch had.
    return pa.Table.from_pandas(table, schema=schema, preserve_index=False).replace_schema_metadata(None)


def _with_row_id(frame: pd.DataFrame, row_ids) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"row_id": np.asarray(row_ids)}), frame.reset_index(drop=True)], axis=1)


def _output_schemas(scored_schema: pa.Schema, original: list[str], labels: list[str]) -> tuple[pa.Schema, pa.Schema]:
    """Parquet schemas of reviews_scored/ and errors/ (the layout of engines.outputs), fixed
    before writing so every shard has the same one."""
    fields = [scored_schema.field(c) for c in original]
    aspects = H + "aspects" in scored_schema.names
    empty = pd.DataFrame({c: [] for c in prediction_columns(labels, aspects=aspects)})
    names = prediction_rows(_with_row_id(pd.DataFrame({c: [] for c in original}), []), empty, labels).columns
    reviews = [pa.field("row_id", pa.int64())]
    reviews += [pa.field(name, field.type) for name, field in zip(names[1 : len(original) + 1], fields)]
    reviews += [pa.field(name, _added_type(name)) for name in added_columns(labels, aspects=aspects)]
    errors = [pa.field("row_id", pa.int64()), pa.field("reason", pa.string()), *fields]
    return pa.schema(reviews), pa.schema(errors)


def _added_type(name: str) -> pa.DataType:
    if name == "segment_id":
        return pa.int64()
    return pa.float64() if name.startswith("p_") or name in MAP_COLUMNS else pa.string()


def _label_pairs(batch: pd.DataFrame, *, first: pd.Series, labels: list[str]) -> pd.DataFrame:
    """(label in the file, predicted label, count) of a batch's labelled reviews, duplicates left out."""
    good = _good(batch)
    good = good[~_is_duplicate(good, first) & good[H + "label"].isin(labels).to_numpy()]
    pairs = pd.DataFrame({"label": good[H + "label"].to_numpy(), "pred": good[H + "pred_label"].to_numpy()})
    return pairs.groupby(["label", "pred"]).size().rename("n").reset_index()
