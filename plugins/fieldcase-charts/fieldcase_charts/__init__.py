"""Bar charts of reports, drawn with matplotlib (headless: the Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fieldcase import hookimpl

FORMATS = (".png", ".svg")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.endswith("%"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None


@hookimpl
def render_chart(
    title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]], path: Path
) -> bool | None:
    """One group of bars per row (labelled by the first column), a bar per numeric column."""
    if path.suffix.lower() not in FORMATS:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [str(row.get(columns[0], "")) for row in rows]
    numeric = [c for c in columns[1:] if any(_number(row.get(c)) is not None for row in rows)]
    figure, axes = plt.subplots(figsize=(max(6, len(rows) * 0.9 + 2), 4.5))
    width = 0.8 / max(len(numeric), 1)
    for n, column in enumerate(numeric):
        values = [_number(row.get(column)) or 0.0 for row in rows]
        axes.bar([i + n * width for i in range(len(rows))], values, width, label=column)
    axes.set_xticks([i + width * (len(numeric) - 1) / 2 for i in range(len(rows))])
    axes.set_xticklabels(labels, rotation=30, ha="right")
    axes.set_title(title)
    if numeric:
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True
