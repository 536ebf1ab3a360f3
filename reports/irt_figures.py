"""Figures of the item calibration: information curves with the rule's decision point, and the
items an adaptive test used. They draw what analysis/irt hands them; labels are escaped."""

from __future__ import annotations

from html import escape

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figures import _layout, pillar_colour


def information_curves(
    curves: dict[str, pd.DataFrame], minimums: dict[str, float | None]
) -> go.Figure:
    """One panel per subscale: each item's information (thin), the bank's (thick), the short
    form's (dashed), and the rule's minimum on theta (red, where the subscale has one)."""
    names = list(curves)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[escape(n) for n in names],
        shared_yaxes=False,
        horizontal_spacing=0.06,
        vertical_spacing=0.14,
    )
    for k, name in enumerate(names):
        r, c = k // cols + 1, k % cols + 1
        frame = curves[name]
        theta = frame.index.to_numpy()
        items = [col for col in frame.columns if col not in ("bank", "short form", "SE bank")]
        colour = pillar_colour(name, names)
        for item in items:
            fig.add_scatter(
                x=theta,
                y=frame[item],
                mode="lines",
                line={"width": 1, "color": "rgba(110,110,110,0.6)"},
                name=escape(item),
                showlegend=False,
                hovertemplate=f"{escape(item)}: theta %{{x:.2f}}, information %{{y:.2f}}"
                "<extra></extra>",
                row=r,
                col=c,
            )
        for column, dash, legend in (
            ("bank", "solid", "whole bank"),
            ("short form", "dash", "short form"),
        ):
            fig.add_scatter(
                x=theta,
                y=frame[column],
                mode="lines",
                line={"width": 3, "color": colour, "dash": dash},
                name=legend,
                legendgroup=legend,
                showlegend=k == 0,
                hovertemplate=f"{legend}: theta %{{x:.2f}}, information %{{y:.1f}}<extra>"
                f"{escape(name)}</extra>",
                row=r,
                col=c,
            )
        minimum = minimums.get(name)
        if minimum is not None:
            fig.add_vline(x=minimum, line_color="#b2182b", line_dash="dot", row=r, col=c)
        fig.update_xaxes(title_text="theta", row=r, col=c)
        if c == 1:
            fig.update_yaxes(title_text="information", row=r, col=c)
    return _layout(
        fig,
        "Information by theta: items (grey), the whole bank and the short form; the rule's "
        "minimum in red",
        height=320 * rows + 90,
    )


def items_used(shares: pd.DataFrame) -> go.Figure:
    """Per subscale, the share of respondents whose adaptive test stopped after each number
    of items (stacked)."""
    fig = go.Figure()
    for count in shares.columns:
        fig.add_bar(
            x=[escape(str(s)) for s in shares.index],
            y=100 * shares[count],
            name=f"{count} items",
            hovertemplate=f"%{{x}}: %{{y:.1f}}% stopped after {count} items<extra></extra>",
        )
    fig.update_layout(barmode="stack", yaxis_title="% of respondents", xaxis_title="subscale")
    return _layout(fig, "Items an adaptive test asked, per subscale", height=380)
