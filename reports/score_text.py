"""The lines `alliance score` and the demo print about a scoring."""

from __future__ import annotations

from analysis.scoring import ScoreResult


def score_lines(result: ScoreResult) -> list[str]:
    """What `alliance score` says of a scoring: the counts of the rule, the failing pillars,
    masked ruptures, classification accuracy and the minimums with their provenance."""
    c = result.classification
    if c is None:
        return [
            f"scored {len(result.table):,} responses ({result.scores.form} form) on "
            f"{', '.join(result.scores.scores.columns)}",
            result.rule_note,
        ]
    counts = c.counts
    lines = [
        f"scored {sum(counts.values()):,} responses ({result.scores.form} form): "
        f"{counts['adequate']:,} adequate, {counts['inadequate']:,} inadequate, "
        f"{counts['insufficient_data']:,} with too few answers",
    ]
    if c.most_failed_pillar:
        fails = ", ".join(f"{p} {n:,}" for p, n in c.fails_by_pillar.items())
        lines.append(f"failing pillars: {fails}; most often {c.most_failed_pillar}")
    lines.append(
        f"masked ruptures (adequate total, a pillar below its minimum): {c.masked_ruptures:,}"
    )
    lines.append(f"classification accuracy {c.accuracy:.3f}, consistency {c.consistency:.3f}")
    for t in c.thresholds:
        lines.append(f"minimum {t.pillar} = {t.value:.3g} ({t.method}): {t.provenance}")
    return lines
