"""A fitted two-level model: its fit, its estimates per level, the ICC of every item and the
reliability per level, as JSON and as the lines the command line prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..result import parameter_table
from .tables import LEVELS


@dataclass(frozen=True)
class TwoLevelResult:
    model: str
    cluster: str
    n: int  # rows (sessions)
    clusters: int  # patients
    observed: tuple[str, ...]
    estimates: pd.DataFrame  # one row per parameter and level (1 within, 2 between)
    fit: dict[str, float]
    icc: pd.Series  # per item
    reliability: pd.DataFrame  # per factor: omega_W, omega_2L, omega_B, IRR as they apply
    converged: bool
    iterations: int
    findings: tuple[str, ...] = field(default=())
    left_out: int = 0  # rows left out (no answer; listwise: a missing answer)
    incomplete: int = 0  # rows used with a missing answer (FIML)
    missing: str = "fiml"

    def nesting(self) -> str:
        out = (
            f"two-level model by ML: {self.n:,} rows within {self.clusters:,} clusters of "
            f"{self.cluster}"
        )
        if self.incomplete:
            out += f"; missing answers of {self.incomplete:,} rows by two-level FIML"
        if self.left_out:
            why = "a missing answer" if self.missing == "listwise" else "no answer"
            out += f"; {self.left_out:,} rows with {why} left out"
        return out

    def parameters(self) -> pd.DataFrame:
        """lavaan's ``parameterEstimates(fit, standardized = TRUE)`` with its ``level``."""
        e = self.estimates
        out = parameter_table(e)
        out.insert(0, "level", [LEVELS[int(k) - 1] for k in e["level"]])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "nesting": self.nesting(),
            "model": self.model,
            "cluster": self.cluster,
            "n": self.n,
            "clusters": self.clusters,
            "left_out": self.left_out,
            "incomplete": self.incomplete,
            "missing": self.missing,
            "converged": self.converged,
            "fit": dict(self.fit),
            "icc": {k: float(v) for k, v in self.icc.items()},
            "reliability": [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                for row in self.reliability.to_dict(orient="records")
            ],
            "parameters": self.parameters().replace({np.nan: None}).to_dict(orient="records"),
            "findings": list(self.findings),
        }

    def summary_lines(self) -> list[str]:
        f = self.fit
        lines = [
            f"Two-level CFA ({self.nesting()})",
            f"  chi-square {f['chisq']:.3f} on {f['df']:.0f} df; CFI {f['cfi']:.3f}, "
            f"TLI {f['tli']:.3f}, RMSEA {f['rmsea']:.3f}; SRMR within {f['srmr_within']:.3f}, "
            f"between {f['srmr_between']:.3f}",
            "  ICC (share of an item's variance between clusters): "
            + ", ".join(f"{k} {v:.2f}" for k, v in self.icc.items()),
        ]
        labels = {
            "omega_W": "omega within",
            "omega_2L": "omega two-level",
            "omega_B": "omega between",
            "IRR": "IRR",
        }
        for record in self.reliability.to_dict(orient="records"):
            parts = [
                f"{label} {float(record[key]):.2f}"
                for key, label in labels.items()
                if not pd.isna(record[key])
            ]
            lines.append(f"  {record['factor']}: " + ", ".join(parts))
        lines += [f"  note: {x}" for x in self.findings]
        return lines
