"""What the pages offer to download or read back from a run's folder: CSV / Excel bytes, campaign
lists, the strategy report, the map's tables. The pages call these; io.export, strategy.report,
strategy.suggest and analysis.maptable hold the rules."""
from __future__ import annotations

from ..analysis.maptable import aspect_choices, map_table, mentions_aspect, selection_table
from ..io.export import campaign_lists, campaigns_xlsx, csv_bytes, made_up_ids_warning, read_export_csv, safe_filename, \
    xlsx_bytes
from ..strategy.report import report_html, report_markdown
from ..strategy.suggest import render_strategies

__all__ = ["aspect_choices", "campaign_lists", "campaigns_xlsx", "csv_bytes", "made_up_ids_warning", "map_table",
           "mentions_aspect", "read_export_csv", "render_strategies", "report_html", "report_markdown",
           "safe_filename", "selection_table", "xlsx_bytes"]
