"""The model actor of `score --engine ray`: loads the saved run once (on a GPU when it is given
one) and scores each batch with the same `core.score_batch` as the local engines, then places
the reviews on the saved map. Rows that cannot be scored (empty text, bad bytes, a batch that
fails) become error rows with a reason; the rest of the batch is scored."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ...analysis.projection import project
from ...ingest.columns import ColumnMap
from ...ingest.prepare import mask_text_columns, masking_keep
from ...threads import limit_threads
from ..core import load_run, score_batch
from .reader import ERROR, ROW, H

KEY = H + "key"
STANDARD = ("rating", "date", "amount", "label", "product", "_text", "aspects")  # prepare_reviews' columns


class Scorer:
    """Scores batches (pyarrow tables from `reader.ReviewFiles`). Output rows: the original
    columns (PII-masked like the local engine), ROW, ERROR and the scored columns under the H
    prefix (null for error rows)."""

    def __init__(self, model_dir: str, columns: dict, config, *, threads: int | None = None):
        import torch

        if threads:
            limit_threads(threads)  # the actor's CPUs; segcore.threads stays within them
        self.run = load_run(model_dir, templates=config.templates, lang=config.lang)
        self.columns = ColumnMap(**columns)
        self.config = config
        gpu = torch.cuda.is_available()
        self.predict_batch_size = config.scoring_batch("cuda" if gpu else "cpu")
        self.hidden = hidden_schema(self.run.labels, len(self.run.segment_model.pca_components), self.columns,
                                    aspects=self.run.tagger is not None)

    def __call__(self, table: pa.Table) -> pa.Table:
        original = table.drop_columns([ROW, ERROR])
        frame = original.to_pandas()
        rows = table[ROW].to_numpy(zero_copy_only=False)
        errors = pd.Series(table[ERROR].to_pylist(), dtype=object)
        bad = errors.notna().to_numpy()
        parts = []
        if bad.any():
            parts.append(self._errors(frame[bad], rows[bad], errors[bad].tolist(), original.schema))
        if (~bad).any():
            parts.append(self._score_or_split(frame[~bad].reset_index(drop=True), rows[~bad], original.schema))
        return pa.concat_tables(parts)

    def _score_or_split(self, frame: pd.DataFrame, rows: np.ndarray, schema: pa.Schema) -> pa.Table:
        """Score; when that fails, score each half, down to the single rows that fail."""
        try:
            return self._score(frame, rows, schema)
        except Exception as exc:  # one bad row must not cost the batch
            if len(frame) == 1:
                msg = " ".join(str(exc).split())[:200]
                return self._errors(frame, rows, [f"scoring failed: {type(exc).__name__}: {msg}"], schema)
            mid = len(frame) // 2
            return pa.concat_tables([self._score_or_split(frame.iloc[:mid].reset_index(drop=True), rows[:mid], schema),
                                     self._score_or_split(frame.iloc[mid:].reset_index(drop=True), rows[mid:], schema)])

    def _score(self, frame: pd.DataFrame, rows: np.ndarray, schema: pa.Schema) -> pa.Table:
        if self.columns.text not in frame:
            return self._errors(frame, rows, [f"no column '{self.columns.text}' in this file"] * len(frame), schema)
        # Duplicates across batches are found after scoring (a groupby on KEY), so no seen_keys;
        # customer sums are made after that pass too.
        batch = score_batch(self.run, frame, columns=self.columns, config=self.config, row_ids=rows,
                            predict_batch_size=self.predict_batch_size, sums=False)
        dropped = self._errors(batch.dropped.drop(columns=["row_id", "reason"]), batch.dropped["row_id"].to_numpy(),
                               batch.dropped["reason"].tolist(), schema, masked=True)
        if not len(batch):
            return dropped
        scored, labels = batch.reviews, self.run.labels
        # Per batch, not in the local engine's 50,000-review blocks: a review's placement depends on
        # it alone (projection._place); for a map fitted on < 4,096 reviews per-batch and whole-file
        # coordinates are identical (measured: max difference 0.0).
        coords = project(self.run.projection, batch.embeddings)
        hidden = {"customer_id": scored["customer_id"], "pred_label": scored["pred_label"],
                  **{f"p_{lab}": scored[f"p_{lab}"] for lab in labels},
                  "x": coords[:, 0], "y": coords[:, 1], "key": batch.keys.view(np.int64),
                  **{f"text_{i}": col for i, col in enumerate(batch.text.T)},
                  **{c: scored[c] for c in STANDARD if c in scored}}
        good = _table(batch.original.drop(columns=["row_id"]), schema, batch.original["row_id"].to_numpy(),
                      [None] * len(batch), hidden, self.hidden)
        return pa.concat_tables([good, dropped])

    def _errors(self, frame: pd.DataFrame, rows: np.ndarray, reasons: list[str], schema: pa.Schema, *,
                masked: bool = False) -> pa.Table:
        """Error rows, masked as the local engine masks dropped rows (`masked`: already are)."""
        if self.config.mask_pii and not masked:
            frame = mask_text_columns(frame, masking_keep(self.columns), text_col=self.columns.text)
        return _table(frame, schema, rows, reasons, {}, self.hidden)


def hidden_schema(labels: list[str], n_text: int, columns: ColumnMap, *, aspects: bool = False) -> pa.Schema:
    """Types of the scored columns a `Scorer` adds (H-prefixed), the same in every batch; the
    standard columns are those `prepare_reviews` makes for these `columns`."""
    fields = [("customer_id", pa.string()), ("pred_label", pa.string()),
              *[(f"p_{lab}", pa.float64()) for lab in labels], ("x", pa.float64()), ("y", pa.float64()),
              ("key", pa.int64()), *[(f"text_{i}", pa.float64()) for i in range(n_text)],
              ("rating", pa.float64()), ("label", pa.string()), ("_text", pa.string())]
    for role, kind in (("date", pa.timestamp("ns")), ("amount", pa.float64()), ("product", pa.string())):
        if getattr(columns, role):
            fields.append((role, kind))
    if aspects:
        fields.append(("aspects", pa.string()))
    return pa.schema([pa.field(H + name, kind) for name, kind in fields])


def _table(frame: pd.DataFrame, schema: pa.Schema, rows, reasons: list, hidden: dict, hidden_types: pa.Schema
           ) -> pa.Table:
    """Original columns with their input types, ROW, ERROR, then the hidden columns (null where
    not given)."""
    n = len(frame)
    out = pa.Table.from_pandas(frame.reset_index(drop=True), schema=pa.schema([schema.field(c) for c in frame.columns]),
                               preserve_index=False)
    out = out.append_column(ROW, pa.array(np.asarray(rows, dtype=np.int64), pa.int64()))
    out = out.append_column(ERROR, pa.array(reasons, pa.string()))
    for field in hidden_types:
        name = field.name[len(H):]
        if name in hidden:
            values = hidden[name]
            values = values.to_numpy() if isinstance(values, pd.Series) else values
            if pa.types.is_timestamp(field.type):
                values = pd.to_datetime(values).astype("datetime64[ns]")
            out = out.append_column(field, pa.array(values, field.type, from_pandas=True))
        else:
            out = out.append_column(field, pa.nulls(n, field.type))
    return out
