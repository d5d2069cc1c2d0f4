"""The CPU line printed beside every time: the flags that decide training speed, read from /proc/cpuinfo."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.machine import cores, cpu_flags


@pytest.mark.parametrize(
    ("flags", "shown"),
    [
        ("fpu sse2 avx avx2 fma", "AVX2 only"),
        ("avx2 avx512f avx512_bf16", "AVX2 AVX512-BF16"),
        ("avx2 avx512_bf16 amx_tile amx_bf16 amx_int8", "AVX2 AVX512-BF16 AMX"),
        ("fpu sse2", "no AVX2"),
    ],
)
def test_the_line_names_the_speed_flags_the_cpu_has(tmp_path: Path, flags: str, shown: str) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert cpu_flags(cpuinfo).endswith(f", {cores()} cores, {shown}")


def test_a_machine_without_cpuinfo_says_it_does_not_know(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "absent").endswith("flags unknown")
