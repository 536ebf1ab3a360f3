"""The item calibration and an adaptive simulation in words, for the terminal and the report."""

from __future__ import annotations

from .adaptive import AdaptiveResult
from .calibration import Calibration


def calibration_lines(calibration: Calibration) -> list[str]:
    """What a calibration found, a line per subscale, for the terminal."""
    lines = [
        f"calibrated on {calibration.rows_usable:,} usable of {calibration.rows_in:,} rows of "
        f"{calibration.source} ({calibration.instrument} {calibration.version}, form "
        f"{calibration.form})"
    ]
    for name, s in calibration.scales.items():
        misfit = [p.item for p in s.items if p.s_x2_p == p.s_x2_p and p.s_x2_p < 0.01]
        where = (
            f"minimum at theta {s.theta_minimum:+.2f}"
            if s.theta_minimum is not None
            else "no minimum (outside the rule)"
        )
        lines.append(
            f"{name}: {len(s.items)} items, {s.rows:,} rows ({s.rows_complete:,} complete), "
            f"{'converged' if s.converged else 'NOT converged'} in {s.cycles} EM cycles; "
            f"slopes {min(s.slopes):.2f}-{max(s.slopes):.2f}; {where}; short form "
            f"{', '.join(s.short_form)}; S-X2 p < .01: {', '.join(misfit) or 'none'}; "
            f"Q3 flags: " + (", ".join(f"{a}-{b} ({v:.2f})" for a, b, v in s.q3_pairs) or "none")
        )
    lines.extend(calibration.notes)
    return lines


def adaptive_lines(result: AdaptiveResult) -> list[str]:
    """The adaptive simulation in words and a table, for the terminal and the report."""
    source = (
        f"{result.respondents:,} respondents of the export, answering as they did"
        if result.source == "export"
        else f"{result.respondents:,} respondents simulated from the calibration"
    )
    lines = [f"Adaptive testing, {result.rule.text()}: {source}."]
    header = (
        f"{'scale':<12} {'bank':>4} {'mean items':>10} {'r full':>7} {'RMSE':>6} "
        f"{'short':>5} {'r short':>7}"
    )
    lines.append(header)
    for name, row in result.per_scale.iterrows():
        lines.append(
            f"{name!s:<12} {int(row['bank_items']):>4} {row['mean_items_used']:>10.2f} "
            f"{row['correlation_with_full']:>7.3f} {row['rmse_vs_full']:>6.3f} "
            f"{int(row['short_form_items']):>5} {row['short_form_correlation_with_full']:>7.3f}"
        )
    small = [
        str(name)
        for name, row in result.per_scale.iterrows()
        if row["bank_items"] <= result.rule.min_items
    ]
    if small:
        lines.append(
            f"{', '.join(small)}: no more items than the rule's minimum of "
            f"{result.rule.min_items}, so an adaptive test asks them all; calibrate the full "
            "form to let it choose."
        )
    c = result.classification
    if "adaptive" in c:
        pillars = ", ".join(c["pillars"])
        bank = int(result.per_scale.loc[c["pillars"], "bank_items"].sum())
        used = float(result.per_scale.loc[c["pillars"], "mean_items_used"].sum())
        short = int(result.per_scale.loc[c["pillars"], "short_form_items"].sum())
        lines.append(
            f"Non-compensatory classification ({pillars}) of {c['respondents']:,} "
            f"respondents: the adaptive test agrees with the full bank for "
            f"{c['adaptive']['agreement']:.1%} (kappa {c['adaptive']['kappa']:.2f}) with "
            f"{used:.1f} of {bank} items on average"
            + (
                f"; the fixed short form of {short} items for {c['short']['agreement']:.1%} "
                f"(kappa {c['short']['kappa']:.2f})."
                if "short" in c
                else "."
            )
        )
    return lines
