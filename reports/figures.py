"""Plotly figures for the report. They only draw what they are handed (no statistics here);
every user-provided label is HTML-escaped, so it shows as text and runs nothing."""

from __future__ import annotations

import textwrap
from html import escape

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PILLAR_COLOURS = {"bond": "#1b7837", "goals": "#2166ac", "tasks": "#b35806"}
# For other instruments' subscales, in the order a figure lists them (colour-blind safe).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#999999")


def pillar_colour(pillar: str, pillars: list[str]) -> str:
    """The alliance's own colours for its pillars; else a palette colour by position."""
    if pillar in PILLAR_COLOURS and all(p in PILLAR_COLOURS for p in pillars):
        return PILLAR_COLOURS[pillar]
    return PALETTE[pillars.index(pillar) % len(PALETTE)]


STATUS_COLOURS = {"adequate": "#1b7837", "inadequate": "#b2182b", "insufficient_data": "#969696"}


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": escape(title), "x": 0},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
        font={"size": 13},
    )
    return fig


def diverging_colours(k: int) -> list[str]:
    """Colours for a scale of ``k`` points, lowest first: reds below the middle, blues above,
    grey for the middle point of an odd scale only (an even scale has no neutral answer)."""
    half = k // 2

    def ramp(start: str, end: str, n: int) -> list[str]:
        a = [int(start[i : i + 2], 16) for i in (1, 3, 5)]
        b = [int(end[i : i + 2], 16) for i in (1, 3, 5)]
        steps = [t / max(n - 1, 1) for t in range(n)]
        return [
            "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))
            for t in steps
        ]

    low = ramp("#b2182b", "#f4a582", half) if half > 1 else ["#d6604d"] * half
    high = ramp("#92c5de", "#053061", half) if half > 1 else ["#4393c3"] * half
    return low + (["#d9d9d9"] if k % 2 else []) + high


def _wrapped(label: str, width: int = 46, lines: int = 2) -> str:
    """An axis label in at most ``lines`` lines (the whole text is in the hover)."""
    parts = textwrap.wrap(label, width) or [""]
    if len(parts) > lines:
        parts = [*parts[: lines - 1], textwrap.shorten(" ".join(parts[lines - 1 :]), width)]
    return "<br>".join(escape(p) for p in parts)


def diverging_items(
    shares: pd.DataFrame, labels: dict[int, str], item_labels: list[str], title: str
) -> go.Figure:
    """Diverging stacked bars: answers below the middle of the scale to the left of zero, the
    middle category (odd scales only) split across it. Negative parts stack outwards in trace
    order, so the traces go: middle (left half), then the lower codes moving out, then the
    upper ones. Item labels wrap; the whole label is in the hover."""
    codes: list[float] = [float(c) for c in shares.columns]
    shares = shares.set_axis(codes, axis=1)
    k = len(codes)
    colours = diverging_colours(k)
    middle = codes[k // 2] if k % 2 else None
    y = [_wrapped(label) for label in item_labels]
    below = codes[: k // 2][::-1]
    above = codes[(k + 1) // 2 :]
    order: list[tuple[float, float, bool]] = []  # (code, sign and share factor, show legend)
    if middle is not None:
        order.append((middle, -0.5, False))
    order += [(c, -1.0, True) for c in below]
    if middle is not None:
        order.append((middle, 0.5, True))
    order += [(c, 1.0, True) for c in above]
    fig = go.Figure()
    full = [escape(label) for label in item_labels]
    for code, factor, legend in order:
        share = shares[code].to_numpy()
        name = escape(labels.get(int(code), f"{code:g}"))
        fig.add_bar(
            y=y,
            x=factor * share * 100,
            orientation="h",
            name=name,
            marker_color=colours[codes.index(code)],
            legendgroup=str(code),
            showlegend=legend,
            legendrank=codes.index(code),
            customdata=list(zip(share * 100, full, strict=True)),
            hovertemplate="%{customdata[1]}: %{customdata[0]:.0f}%<extra>" + name + "</extra>",
        )
    many = k > 5
    fig.update_layout(
        barmode="relative",
        xaxis_title="% of answers",
        yaxis={"autorange": "reversed"},
        # A long legend goes under the bars, where it cannot cover the title.
        legend={
            "orientation": "h",
            "yanchor": "top" if many else "bottom",
            "y": -0.12 if many else 1.0,
            "xanchor": "right",
            "x": 1,
            "traceorder": "normal",
        },
    )
    height = max(300, 34 * len(item_labels) + (200 if many else 140))
    fig = _layout(fig, title, height=height)
    if many:
        fig.update_layout(margin={"b": 110})
    return fig


def item_boxes(quantiles: pd.DataFrame, item_labels: list[str], title: str) -> go.Figure:
    """Box plots of items whose answers are not on a discrete scale (many distinct values),
    drawn from their quantiles (``q05, q25, q50, q75, q95, mean, n`` per item)."""
    fig = go.Figure()
    y = [_wrapped(label) for label in item_labels]
    fig.add_box(
        y=y,
        q1=quantiles["q25"].tolist(),
        median=quantiles["q50"].tolist(),
        q3=quantiles["q75"].tolist(),
        lowerfence=quantiles["q05"].tolist(),
        upperfence=quantiles["q95"].tolist(),
        mean=quantiles["mean"].tolist(),
        orientation="h",
        name="answers",
        marker_color=PALETTE[0],
        showlegend=False,
        hoverinfo="x",
    )
    fig.update_layout(
        xaxis_title="answer (whiskers: 5th and 95th percentiles; dashed: mean)",
        yaxis={"autorange": "reversed"},
    )
    return _layout(fig, title, height=max(300, 40 * len(item_labels) + 140))


def scree(eigen: list[float], random95: list[float]) -> go.Figure:
    x = list(range(1, len(eigen) + 1))
    fig = go.Figure()
    fig.add_scatter(x=x, y=eigen, mode="lines+markers", name="observed eigenvalues")
    fig.add_scatter(
        x=x, y=random95, mode="lines", name="random data, 95th percentile", line={"dash": "dash"}
    )
    fig.update_layout(xaxis_title="factor", yaxis_title="eigenvalue")
    return _layout(fig, "Scree plot with parallel analysis")


def loadings_heatmap(loadings: pd.DataFrame, title: str) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=loadings.to_numpy(),
            x=[escape(c) for c in loadings.columns],
            y=[escape(i) for i in loadings.index],
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            text=[["" if pd.isna(v) else f"{v:.2f}" for v in row] for row in loadings.to_numpy()],
            texttemplate="%{text}",
            hovertemplate="%{y} on %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(yaxis={"autorange": "reversed"})
    return _layout(fig, title, height=max(320, 22 * len(loadings) + 120))


def pillar_histograms(hists: dict[str, pd.DataFrame], minimums: dict[str, float]) -> go.Figure:
    """One panel per pillar, each with its own minimum as a dashed line."""
    pillars = list(hists)
    fig = make_subplots(
        rows=1, cols=len(pillars), shared_yaxes=True, subplot_titles=[escape(p) for p in pillars]
    )
    for k, pillar in enumerate(pillars, start=1):
        table = hists[pillar]
        centres = (table["left"] + table["right"]) / 2
        fig.add_bar(
            x=centres,
            y=table["count"],
            name=escape(pillar),
            row=1,
            col=k,
            marker_color=pillar_colour(pillar, list(pillars)),
            showlegend=False,
            width=float((table["right"] - table["left"]).iloc[0]),
        )
        fig.add_vline(
            x=minimums[pillar],
            line_dash="dash",
            line_color="#b2182b",
            row=1,
            col=k,
            annotation_text=f"minimum {minimums[pillar]:.2f}",
            annotation_position="top left",
        )
        fig.update_xaxes(title_text="score (item mean)", row=1, col=k)
    fig.update_yaxes(title_text="responses", row=1, col=1)
    return _layout(fig, "Pillar scores and their minimums")


def status_bars(counts: dict[str, int], title: str) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=[escape(k.replace("_", " ")) for k in counts],
            y=list(counts.values()),
            marker_color=[STATUS_COLOURS.get(k, "#4d4d4d") for k in counts],
        )
    )
    fig.update_layout(yaxis_title="responses")
    return _layout(fig, title, height=360)


def icc_bars(icc: pd.Series, labels: list[str], groups: list[str], title: str) -> go.Figure:
    """Each item's share of variance between clusters (its ICC), one bar per item coloured by
    its subscale (``groups``), the item's wording on hover."""
    order = list(dict.fromkeys(groups))
    fig = go.Figure(
        go.Bar(
            x=list(icc.to_numpy(float)),
            y=[escape(str(i)) for i in icc.index],
            orientation="h",
            marker_color=[pillar_colour(g, order) for g in groups],
            hovertext=[escape(_wrapped(label)) for label in labels],
            hovertemplate="%{y}: %{x:.2f}<br>%{hovertext}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "share of the item's variance between clusters (ICC)", "range": [0, 1]},
        yaxis={"autorange": "reversed"},
    )
    return _layout(fig, title, height=max(300, 18 * len(icc) + 120))


def probability_histogram(table: pd.DataFrame) -> go.Figure:
    centres = (table["left"] + table["right"]) / 2
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=table["count"],
            marker_color="#2166ac",
            width=float((table["right"] - table["left"]).iloc[0]),
        )
    )
    fig.update_layout(
        xaxis_title="probability that the true scores clear every minimum", yaxis_title="responses"
    )
    return _layout(fig, "How sure is each classification? (p_adequate)", height=360)


def group_profiles(
    table: pd.DataFrame, pillars: list[str], by: str, minimums: dict[str, float]
) -> go.Figure:
    fig = go.Figure()
    groups = [escape(str(g)) for g in table.index]
    for pillar in pillars:
        fig.add_scatter(
            x=table[pillar],
            y=groups,
            mode="markers",
            name=escape(pillar),
            marker={"size": 10, "color": pillar_colour(pillar, list(pillars))},
        )
        fig.add_vline(
            x=minimums[pillar], line_dash="dot", line_color=pillar_colour(pillar, list(pillars))
        )
    fig.update_layout(xaxis_title="mean score", yaxis={"autorange": "reversed"})
    return _layout(fig, f"Pillar profiles by {by}", height=max(320, 24 * len(groups) + 120))


def funnel_plot(
    groups: pd.DataFrame,
    n: list[float],
    limits: dict[str, tuple[list[float], list[float]]],
    target: float,
    by: str,
) -> go.Figure:
    """Share adequate per group against its decided sessions, inside the funnel's limits."""
    fig = go.Figure()
    dash = {"95%": "dash", "99.8%": "dot"}
    for level, (low, high) in limits.items():
        for bound, values in (("lower", low), ("upper", high)):
            fig.add_scatter(
                x=n,
                y=[100 * v for v in values],
                mode="lines",
                line={"color": "#555", "dash": dash.get(level, "solid"), "width": 1},
                name=f"{level} limits",
                legendgroup=level,
                showlegend=bound == "lower",
                hoverinfo="skip",
            )
    fig.add_hline(y=100 * target, line_color="#333", line_width=1)
    labels = [escape(str(g)) for g in groups["group"]]
    outside = groups["funnel_flag"].astype(str) != ""
    fig.add_scatter(
        x=groups["decided_sessions"],
        y=100 * groups["share_adequate"],
        mode="markers",
        name=escape(by),
        marker={
            "size": 9,
            "color": ["#b2182b" if o else "#2166ac" for o in outside],
            "line": {"width": 1, "color": "white"},
        },
        text=labels,
        customdata=groups["funnel_flag"].astype(str),
        hovertemplate="%{text}: %{y:.0f}% of %{x} sessions %{customdata}<extra></extra>",
    )
    fig.update_layout(xaxis_title="decided sessions", yaxis_title="% adequate alliances")
    return _layout(fig, f"Funnel plot: share of adequate alliances by {by}", height=460)


def shrinkage_plot(groups: pd.DataFrame, pillars: list[str], by: str) -> go.Figure:
    """Observed group means (open) and the mixed model's shrunken estimates with 95% CIs."""
    fig = make_subplots(rows=1, cols=len(pillars), shared_yaxes=True, subplot_titles=pillars)
    order = groups.sort_values(f"{pillars[0]}_shrunken")
    labels = [escape(str(g)) for g in order["group"]]
    for col, pillar in enumerate(pillars, start=1):
        colour = pillar_colour(pillar, list(pillars))
        fig.add_scatter(
            x=order[f"{pillar}_mean"],
            y=labels,
            mode="markers",
            marker={"symbol": "circle-open", "color": "#888", "size": 8},
            name="observed mean",
            legendgroup="observed",
            showlegend=col == 1,
            row=1,
            col=col,
        )
        fig.add_scatter(
            x=order[f"{pillar}_shrunken"],
            y=labels,
            mode="markers",
            marker={"color": colour, "size": 8},
            error_x={
                "type": "data",
                "array": 1.96 * order[f"{pillar}_shrunken_se"],
                "color": colour,
                "thickness": 1,
            },
            name=f"{escape(pillar)} (shrunken)",
            row=1,
            col=col,
        )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, f"Shrunken estimates by {by}", height=max(360, 18 * len(labels) + 140))


def trend_plot(trends: pd.DataFrame, pillars: list[str]) -> go.Figure:
    """Monthly pillar means with 95% bands, and the share adequate on its own axis."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.6, 0.4]
    )
    months = list(trends["month"])
    for pillar in pillars:
        colour = pillar_colour(pillar, list(pillars))
        fig.add_scatter(
            x=months + months[::-1],
            y=list(trends[f"{pillar}_ci_high"]) + list(trends[f"{pillar}_ci_low"])[::-1],
            fill="toself",
            fillcolor=colour,
            opacity=0.15,
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=months,
            y=trends[f"{pillar}_mean"],
            mode="lines+markers",
            line={"color": colour},
            name=escape(pillar),
            row=1,
            col=1,
        )
    fig.add_scatter(
        x=months,
        y=100 * trends["share_adequate"],
        mode="lines+markers",
        line={"color": "#333"},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": 100 * (trends["share_adequate_ci_high"] - trends["share_adequate"]),
            "arrayminus": 100 * (trends["share_adequate"] - trends["share_adequate_ci_low"]),
        },
        name="% adequate",
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="mean score", row=1, col=1)
    fig.update_yaxes(title_text="% adequate", row=2, col=1)
    return _layout(fig, "Monthly trends (95% confidence)", height=560)


def group_parameters(values: pd.DataFrame, title: str, axis: str, marked: list[str]) -> go.Figure:
    """One parameter per item (rows) in each group (columns), a marker per group: where the
    groups' markers part, the item works differently. ``marked`` items (freed in the partial
    model) are shaded."""
    fig = go.Figure()
    x = [escape(str(label)) for label in values.index]
    for k, group in enumerate(values.columns):
        fig.add_scatter(
            x=x,
            y=values[group],
            mode="markers",
            name=escape(str(group)),
            marker={"size": 10, "color": PALETTE[k % len(PALETTE)], "symbol": k % 8},
        )
    for item in marked:
        if item in values.index:
            k = list(values.index).index(item)
            fig.add_vrect(x0=k - 0.45, x1=k + 0.45, fillcolor="#fdd0a2", opacity=0.45, line_width=0)
    fig.update_layout(xaxis_title="item", yaxis_title=axis, xaxis={"tickangle": -45})
    return _layout(fig, title, height=440)
