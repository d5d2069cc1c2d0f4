"""The machine a time was measured on, said beside the time.

The same training run takes about 2x longer on a CPU with AVX2 only than on one with AVX512-BF16 or AMX (no native
bf16: `bf16: auto` trains in fp32 there), so a time without the CPU's flags cannot be compared with another.
`harness train` records this line in its summary and MLflow run, `make demo` prints it with its stage times,
and every script in `bench/` prints it first.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

SPEED_FLAGS = (("AVX2", "avx2"), ("AVX512-BF16", "avx512_bf16"), ("AMX", "amx_bf16"))
"""(shown as, /proc/cpuinfo flag): the instruction sets that decide CPU training speed and precision."""


def cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """`x86_64, 2 cores, AVX2 AVX512-BF16 AMX`; `AVX2 only` where neither bf16 set is there."""
    flags = set(cpuinfo.read_text().split()) if cpuinfo.is_file() else set()
    shown = [name for name, flag in SPEED_FLAGS if flag in flags]
    if shown == ["AVX2"]:
        shown = ["AVX2 only"]
    listed = " ".join(shown) if shown else ("flags unknown" if not flags else "no AVX2")
    return f"{platform.machine()}, {cores()} cores, {listed}"


def describe(bf16: bool) -> str:
    """`cpu_flags()`, the GPU where torch trains on one, and the precision the run trained in."""
    import torch

    line = cpu_flags()
    if torch.cuda.is_available():
        line += f", GPU {torch.cuda.get_device_name(0)}"
    return line + ("; bf16 autocast" if bf16 else "; fp32")
