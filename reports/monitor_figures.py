"""Figures of ruptures and agreement: trajectories with the minimums and the alerts marked,
Bland-Altman plots, and alert counts by group. They draw what they are handed; labels are
HTML-escaped."""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis import names
from analysis.ruptures import REPAIR, RUPTURE

from .figures import _layout, pillar_colour

_RUPTURE = {"symbol": "x", "size": 11, "color": "#b2182b", "line": {"width": 2}}
_REPAIR = {"symbol": "circle-open", "size": 11, "color": "#1b7837", "line": {"width": 2}}


def sparklines(
    sessions: pd.DataFrame,
    alerts: pd.DataFrame,
    patients: list[str],
    pillars: list[str],
    minimums: dict[str, float],
    bands: dict[str, float],
    labels: dict[str, str],
) -> go.Figure:
    """Small multiples: a row per patient (in the order given), a sparkline per pillar of the
    patient's scores over sessions, with the pillar's minimum (red, dashed) inside its band of
    measurement uncertainty (``bands``: half-width, shaded), ruptures as red crosses and
    repairs as green rings. ``labels``: each patient's row title."""
    k = len(pillars)
    fig = make_subplots(
        rows=len(patients),
        cols=k,
        shared_xaxes=True,
        horizontal_spacing=0.04,
        vertical_spacing=min(0.02, 0.3 / max(len(patients), 1)),
        column_titles=[escape(p) for p in pillars],
    )
    by_patient = dict(tuple(sessions.groupby(names.RESPONDENT_ID, sort=False)))
    marked = alerts[alerts["event"].isin((RUPTURE, REPAIR))]
    events = dict(tuple(marked.groupby(names.RESPONDENT_ID, sort=False)))
    scores = sessions[pillars].to_numpy(float)
    low = float(np.nanmin(scores)) if np.isfinite(scores).any() else 1.0
    high = float(np.nanmax(scores)) if np.isfinite(scores).any() else 5.0
    for r, pid in enumerate(patients, start=1):
        part = by_patient.get(pid, sessions.iloc[:0])
        mine = events.get(pid, marked.iloc[:0])
        label = escape(str(pid))
        for c, p in enumerate(pillars, start=1):
            minimum = minimums.get(p, np.nan)
            if np.isfinite(minimum):
                fig.add_hrect(
                    y0=minimum - bands[p],
                    y1=minimum + bands[p],
                    fillcolor="rgba(178,24,43,0.10)",
                    line_width=0,
                    row=r,
                    col=c,
                    exclude_empty_subplots=False,
                )
                fig.add_hline(
                    y=minimum,
                    line_color="#b2182b",
                    line_dash="dash",
                    line_width=1,
                    row=r,
                    col=c,
                    exclude_empty_subplots=False,
                )
            fig.add_scatter(
                x=part[names.SESSION],
                y=part[p],
                mode="lines+markers",
                line={"width": 1.5, "color": pillar_colour(p, pillars)},
                marker={"size": 4},
                showlegend=False,
                hovertemplate=f"{label}, session %{{x}}: %{{y:.2f}}<extra>{escape(p)}</extra>",
                row=r,
                col=c,
            )
            for kind, marker in ((RUPTURE, _RUPTURE), (REPAIR, _REPAIR)):
                e = mine[(mine["event"] == kind) & (mine["pillar"] == p)]
                if not len(e):
                    continue
                fig.add_scatter(
                    x=e[names.SESSION],
                    y=e["score"],
                    mode="markers",
                    marker={**marker, "size": 9},
                    name=kind,
                    legendgroup=kind,
                    showlegend=False,
                    text=[escape(str(t)) for t in e["reason"]],
                    hovertemplate="%{text}<extra>" + escape(kind) + "</extra>",
                    row=r,
                    col=c,
                )
    for kind, marker in ((RUPTURE, _RUPTURE), (REPAIR, _REPAIR)):  # one legend entry each
        fig.add_scatter(x=[None], y=[None], mode="markers", marker=marker, name=kind)
    fig.update_yaxes(range=[low - 0.2, high + 0.2], showticklabels=False, showgrid=False)
    fig.update_xaxes(dtick=1, showgrid=False, showticklabels=False)
    for c in range(1, k + 1):
        fig.update_xaxes(showticklabels=True, title_text="session", row=len(patients), col=c)
    for r, pid in enumerate(patients, start=1):  # the patient's label left of their row
        domain = fig.get_subplot(r, 1).yaxis.domain
        fig.add_annotation(
            x=-0.01,
            xref="paper",
            y=(domain[0] + domain[1]) / 2,
            yref="paper",
            text=escape(labels[pid]),
            xanchor="right",
            showarrow=False,
            font={"size": 11},
        )
    _layout(
        fig,
        "Each patient's pillars over sessions: minimum (dashed) in its band of measurement "
        "uncertainty (shaded), ruptures (x), repairs (o)",
        height=100 * len(patients) + 140,
    )
    fig.update_layout(margin={"l": 230, "r": 20, "t": 80, "b": 50})
    return fig


def bland_altman(
    pairs: pd.DataFrame,
    pillars: list[str],
    limits: pd.DataFrame,
    reference: pd.DataFrame | None = None,
) -> go.Figure:
    """Per pillar: each paired session's mean of the two ratings against clinician minus
    patient, with the bias and 95% limits of agreement (``limits``: rows per pillar with
    mean_difference, loa_low, loa_high); unseen ruptures in red; ``reference`` limits (the
    whole clinic's) dotted."""
    fig = make_subplots(
        rows=1, cols=len(pillars), subplot_titles=[escape(p) for p in pillars], shared_yaxes=True
    )
    for c, p in enumerate(pillars, start=1):
        x = (pairs[f"{p}_patient"] + pairs[f"{p}_clinician"]) / 2
        y = pairs[f"{p}_clinician"] - pairs[f"{p}_patient"]
        unseen = (
            (
                pairs[f"{p}_pass_clinician"].astype("boolean")
                & ~pairs[f"{p}_pass_patient"].astype("boolean")
            )
            .fillna(False)
            .to_numpy(bool)
        )
        for mask, name, colour in (
            (~unseen, "paired session", "#2166ac"),
            (unseen, "unseen rupture", "#b2182b"),
        ):
            fig.add_scatter(
                x=x[mask],
                y=y[mask],
                mode="markers",
                marker={"size": 6, "color": colour, "opacity": 0.6},
                name=name,
                legendgroup=name,
                showlegend=c == 1,
                text=[escape(str(v)) for v in pairs.loc[mask, names.RESPONDENT_ID]],
                hovertemplate="%{text}: mean %{x:.2f}, clinician - patient %{y:.2f}<extra></extra>",
                row=1,
                col=c,
            )
        _limit_lines(fig, limits, p, c, "solid")
        if reference is not None:
            _limit_lines(fig, reference, p, c, "dot")
        fig.update_xaxes(title_text="mean of the two ratings", row=1, col=c)
    fig.update_yaxes(title_text="clinician minus patient", row=1, col=1)
    return _layout(fig, "Bland-Altman: clinician against patient, same sessions", height=440)


def _limit_lines(fig: go.Figure, limits: pd.DataFrame, pillar: str, col: int, dash: str) -> None:
    row = limits[limits["pillar"] == pillar]
    if not len(row):
        return
    for column, width in (("mean_difference", 2), ("loa_low", 1), ("loa_high", 1)):
        value = float(row[column].to_numpy(float)[0])
        if np.isfinite(value):
            fig.add_hline(
                y=value, line_dash=dash, line_width=width, line_color="#333", row=1, col=col
            )


def bland_altman_density(
    density: dict[str, dict[str, list]], limits: pd.DataFrame, min_n: int
) -> go.Figure:
    """Bland-Altman as counts of paired sessions per cell; cells under ``min_n`` come blank
    (None) from the analysis, so the picture shows no single session."""
    pillars = list(density)
    fig = make_subplots(
        rows=1, cols=len(pillars), subplot_titles=[escape(p) for p in pillars], shared_yaxes=True
    )
    for c, p in enumerate(pillars, start=1):
        d = density[p]
        fig.add_heatmap(
            x=d["x"],
            y=d["y"],
            z=d["counts"],
            colorscale="Blues",
            showscale=c == len(pillars),
            colorbar={"title": "sessions"},
            hovertemplate="mean %{x:.2f}, difference %{y:.2f}: %{z} sessions<extra></extra>",
            row=1,
            col=c,
        )
        _limit_lines(fig, limits, p, c, "solid")
        fig.update_xaxes(title_text="mean of the two ratings", row=1, col=c)
    fig.update_yaxes(title_text="clinician minus patient", row=1, col=1)
    return _layout(
        fig, f"Bland-Altman: paired sessions per cell (cells under {min_n} blank)", height=440
    )


def alert_rates(groups: pd.DataFrame, pillars: list[str], by: str) -> go.Figure:
    """Ruptures per 100 sessions per group, stacked by the pillar that ruptured."""
    fig = go.Figure()
    labels = [escape(str(g)) for g in groups["group"]]
    for p in pillars:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = 100 * groups[f"{p}_ruptures"] / groups["n_sessions"]
        fig.add_bar(
            x=labels,
            y=rate,
            name=escape(p),
            marker_color=pillar_colour(p, pillars),
            hovertemplate="%{x}: %{y:.1f} per 100 sessions<extra>" + escape(p) + "</extra>",
        )
    fig.update_layout(
        barmode="stack", xaxis_title=escape(by), yaxis_title="ruptures per 100 sessions"
    )
    return _layout(fig, f"Rupture alerts per 100 sessions, by {by} and pillar")


def rupture_course(by_session: pd.DataFrame, pillars: list[str]) -> go.Figure:
    """Per session number, the share of patients with each pillar in rupture (one line per
    pillar) and with any pillar (dashed)."""
    fig = go.Figure()
    patients = by_session["patients"].to_numpy()
    for column in [*pillars, "any pillar"]:
        fig.add_scatter(
            x=by_session.index,
            y=by_session[f"% {column}"],
            customdata=patients,
            mode="lines+markers",
            name=escape(column),
            line={
                "color": "#444" if column == "any pillar" else pillar_colour(column, pillars),
                "dash": "dash" if column == "any pillar" else "solid",
            },
            hovertemplate=(
                "session %{x}: %{y:.1f}% of %{customdata} patients<extra>"
                + escape(column)
                + "</extra>"
            ),
        )
    fig.update_layout(
        xaxis_title="session",
        yaxis_title="% of patients in rupture",
        xaxis={"dtick": 1},
    )
    return _layout(
        fig,
        "Patients with a pillar in rupture at each session (none at the first: no history yet)",
    )
