"""Wall time of the whole `pytest suites/ --model=base`, cold cache vs fully cached rerun.

    .venv/bin/python bench/cache_rerun.py [extra pytest args]

Both runs use a fresh, private generation cache. The materialised embedded model (a once-per-machine
step) is shared from the default cache dir, so "cold" means: load weights and generate everything;
"warm" means: the same command again, answered from SQLite without loading weights. The ratio
(cold / warm, higher is better) is printed last. Target: >= 20.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.config import EMBEDDED_BASE_ID, HarnessConfig
from harness.models.embedded import materialised_dir

ROOT = Path(__file__).resolve().parent.parent


def run_suites(cache_dir: Path, extra: list[str]) -> tuple[float, str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/",
        "--model=base",
        "-q",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env={**os.environ, "HARNESS_CACHE": str(cache_dir)},
                          capture_output=True, text=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 1 = a gate failed, which is a result, not a broken run
        sys.exit(f"pytest exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def main() -> None:
    shared_models = materialised_dir(EMBEDDED_BASE_ID, HarnessConfig.load(ROOT).cache_dir).parent
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = Path(scratch)
        (cache_dir / "models").symlink_to(shared_models)
        cold, cold_summary = run_suites(cache_dir, sys.argv[1:])
        warm, warm_summary = run_suites(cache_dir, sys.argv[1:])
    print(f"cold: {cold:7.2f} s  ({cold_summary})")
    print(f"warm: {warm:7.2f} s  ({warm_summary})")
    print(f"ratio cold/warm: {cold / warm:.1f}x (target >= 20)")


if __name__ == "__main__":
    main()
