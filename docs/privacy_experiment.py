"""Plot final accuracy against epsilon for the DP-SGD runs of docs/experiments.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(runs: Path, out: Path) -> None:
    """Read ``runs/sigma-<s>-seed-<k>/summary.json`` and plot mean accuracy per sigma."""
    by_sigma: dict[str, list[tuple[float, float]]] = {}
    for summary_path in sorted(runs.glob("sigma-*-seed-*/summary.json")):
        sigma = summary_path.parent.name.split("-")[1]
        summary = json.loads(summary_path.read_text())
        privacy = summary.get("privacy") or {}
        epsilon = privacy.get("epsilon", {}).get("example", float("inf"))
        by_sigma.setdefault(sigma, []).append((epsilon, summary["final"]["accuracy"]))

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for sigma, points in sorted(by_sigma.items()):
        epsilons, accuracies = np.array(points).T
        mean, std = accuracies.mean(), accuracies.std()
        print(
            f"sigma {sigma}: epsilon {epsilons.mean():.3g}, "
            f"accuracy {mean:.4f} ± {std:.4f} (n={len(points)})"
        )
        if sigma == "none":
            axis.axhline(mean, color="grey", linestyle="--", label="no DP")
        else:
            axis.errorbar(
                epsilons.mean(), mean, yerr=std, fmt="o", label=f"σ = {sigma}"
            )
    axis.set_xscale("log")
    axis.set_xlabel("ε at δ = 1e-5 (example level, worst hospital)")
    axis.set_ylabel("final test accuracy")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
