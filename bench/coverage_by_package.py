"""Print line and branch coverage per package from a pytest-cov JSON report."""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from rich.console import Console
from rich.table import Table


def main(path: str) -> None:
    files = json.load(open(path))["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for name, data in files.items():
        parts = name.split("/")
        package = "/".join(parts[:2]) if parts[0] in ("agent", "channels") and len(parts) > 2 \
            else parts[0]
        s = data["summary"]
        t = totals[package]
        t[0] += s["covered_lines"]
        t[1] += s["num_statements"]
        t[2] += s.get("covered_branches", 0)
        t[3] += s.get("num_branches", 0)
    table = Table(title="Coverage per package")
    for col in ("package", "lines", "branches"):
        table.add_column(col, justify="left" if col == "package" else "right")
    for package, (cl, nl, cb, nb) in sorted(totals.items()):
        table.add_row(package, f"{100 * cl / max(nl, 1):.1f}%", f"{100 * cb / max(nb, 1):.1f}%")
    Console(width=100).print(table)


if __name__ == "__main__":
    main(sys.argv[1])
