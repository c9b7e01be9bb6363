"""The Train page's figures: the loss and validation macro-F1 curves of a running training (its
progress snapshot) and the test confusion matrix of a finished run (metrics.json)."""
from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go

from ui.charts import loss_axis
from ui.i18n import label_name, t


def curves(snap) -> go.Figure:
    """Training loss per step, validation loss and macro-F1 per evaluation (macro-F1 on its own 0-1 axis)."""
    fig = go.Figure()
    if snap.train_loss:
        steps, losses = zip(*snap.train_loss)
        fig.add_scatter(x=steps, y=losses, name=t("train.train_loss"), mode="lines+markers")
    if snap.val_metrics:
        fig.add_scatter(x=[m["step"] for m in snap.val_metrics], y=[m.get("eval_macro_f1") for m in snap.val_metrics],
                        name=t("train.val_f1"), mode="lines+markers", yaxis="y2")
        fig.add_scatter(x=[m["step"] for m in snap.val_metrics], y=[m.get("eval_loss") for m in snap.val_metrics],
                        name=t("train.val_loss"), mode="lines+markers")
    losses = [loss for _, loss in snap.train_loss] + [m.get("eval_loss") for m in snap.val_metrics]
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=t("train.axis_step"),
                      yaxis=dict(title=t("train.axis_loss"), range=loss_axis(losses)),  # from 0: noise stays flat
                      yaxis2=dict(title="macro-F1", overlaying="y", side="right", range=[0, 1]),
                      legend=dict(orientation="h", y=1.15))
    return fig


def confusion(metrics: dict) -> go.Figure:
    """The test set's confusion matrix, labels in the session's language."""
    shown = [label_name(x) for x in metrics["labels"]]
    return px.imshow(metrics["confusion_matrix"], x=shown, y=shown, text_auto=True, color_continuous_scale="Blues",
                     labels=dict(x=t("train.predicted"), y=t("train.true"), color=t("train.reviews")),
                     title=t("train.confusion"))
