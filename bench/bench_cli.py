"""How fast the `companion` command starts: `companion --help` and data commands.

Run: python bench/bench_cli.py [--runs 7] [--symbol EURUSD] [--tree DIR] [--modules]
Each case runs the real console script in a fresh process, `--runs` times (the cases taking
turns) after one warm-up run (which also creates the data folder, the journal and the paper
account), against a throw-away data folder with the paper terminal stepped. Prints the median
and the spread of the wall time, the median CPU time of the process (user + system, steadier
than the wall time on a busy machine), the machine's load average, and the target for each
case. `--tree DIR` times
another checkout instead (`python -m channels.cli` run in DIR), e.g. the commit before a change,
so that both figures come from the same machine under the same load. `--modules` also prints,
per case, how many modules the process imported and whether LangGraph, LangChain or pandas was
among them (the targets assume none is, for a data command).

The last row, `floor`, is a bare interpreter importing only the libraries every data command
needs (numpy for the MT5 API's arrays, pydantic-settings, sqlite-utils, typer, rich, asyncio):
what no lazy import in this repository can go under, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"help": 0.3, "quote": 0.6, "account": 0.6, "positions": 0.6,  # seconds, wall time
           "floor": 0.0}
# on a quiet machine (issue #14 item 8)
HEAVY = ("langgraph", "langchain_core", "langsmith", "pandas")
FLOOR = ("numpy", "pydantic_settings", "sqlite_utils", "typer", "rich.table", "asyncio")


def companion(tree: Path | None) -> list[str]:
    """The installed console script (the module, in `tree` or without the script)."""
    script = Path(sys.executable).with_name("companion")
    if tree is None and script.exists():
        return [str(script)]
    return [sys.executable, "-m", "channels.cli"]


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `argv`, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(cases: dict[str, list[str]], env: dict[str, str], cwd: Path,
            runs: int) -> dict[str, dict[str, float]]:
    """Each case `runs` times, taking turns (a slow spell of the machine hits every case
    alike), after one warm-up each: bytecode caches, the data folder, the paper account."""
    for argv in cases.values():
        timed(argv, env, cwd)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            times[name].append(timed(argv, env, cwd))
    results = {}
    for name, pairs in times.items():
        walls, cpus = zip(*pairs, strict=True)
        results[name] = {"median_s": statistics.median(walls), "min_s": min(walls),
                         "max_s": max(walls), "cpu_s": statistics.median(cpus)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--symbol", default="EURUSD")
    parser.add_argument("--tree", type=Path, help="another checkout to time instead")
    parser.add_argument("--modules", action="store_true",
                        help="also count the modules each case imports")
    args = parser.parse_args()
    cwd = args.tree.resolve() if args.tree else ROOT
    data = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = {**os.environ, "COMPANION_DATA_DIR": str(data), "COMPANION_PAPER__SPEED": "0",
           "COMPANION_CONFIG": str(data / "none.toml"), "COLUMNS": "100"}
    base = companion(args.tree)
    cases = {"help": base + ["--help"], "quote": base + ["quote", args.symbol],
             "account": base + ["account"], "positions": base + ["positions"],
             "floor": [sys.executable, "-c", f"import {', '.join(FLOOR)}"]}
    try:
        results = measure(cases, env, cwd, args.runs)
        modules = ({name: imported(argv[len(base):], env, cwd) for name, argv in cases.items()
                    if name != "floor"} if args.modules else {})
    finally:
        shutil.rmtree(data, ignore_errors=True)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"companion start-up ({cwd}), {args.runs} runs each after a warm-up; load average "
          f"{load} on {os.cpu_count()} cores")
    print(f"{'case':<24}{'median':>9}{'min':>8}{'max':>8}{'cpu':>8}{'target':>8}")
    for name, argv in cases.items():
        r = results[name]
        shown = "floor (libraries)" if name == "floor" else " ".join(
            ["companion", *argv[len(base):]])
        print(f"{shown:<24}{r['median_s']:>8.3f}s{r['min_s']:>7.3f}s{r['max_s']:>7.3f}s"
              f"{r['cpu_s']:>7.3f}s" + (f"{TARGETS[name]:>7.1f}s" if TARGETS[name] else ""))
    for name, (count, heavy) in modules.items():
        print(f"companion {' '.join(cases[name][len(base):]):<14} imports {count} modules; "
              f"heavy: {', '.join(heavy) or 'none'}")


def imported(words: list[str], env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """How many modules running `companion WORDS` in-process imports, and which of HEAVY."""
    probe = ("import contextlib, io, json, sys\nfrom channels.cli import app\n"
             "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
             f"    app({words!r})\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=cwd, capture_output=True,
                          text=True, check=True)
    names = json.loads(done.stdout.strip().splitlines()[-1])
    return len(names), sorted({n.split(".")[0] for n in names} & set(HEAVY))


if __name__ == "__main__":
    main()
