"""Start-up of the command as a user runs it: cached code loads lean, the process exits with its status."""

from __future__ import annotations

import subprocess
import sys

import arzip.jit

_LOAD_CACHED = """
import sys
import numpy as np
from arzip.coding import rans
freqs = np.zeros(4, dtype=np.int64); freqs[:2] = 1 << 15
rans.slot_table(freqs, rans.starts_of(freqs))  # a cached function, loaded (or compiled) here
print(int("numba.np.polynomial.polynomial_core" in sys.modules))  # imported by the registry refresh only
"""


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True).stdout


def test_numba_loader_is_replaced():
    assert arzip.jit.FAST_CACHE_LOADS


def test_cached_code_loads_without_the_compiler_registries():
    _run(_LOAD_CACHED)  # the first run may compile, which sets the compiler up as usual
    assert _run(_LOAD_CACHED).strip() == "0"  # a load from the cache does not


def test_command_exit_status_and_output_survive_the_fast_exit(tmp_path):
    source = tmp_path / "a.txt"
    source.write_bytes(b"a line of text\n" * 200)
    packed = subprocess.run([sys.executable, "-m", "arzip", "-c", str(source)], capture_output=True, timeout=300)
    assert packed.returncode == 0 and packed.stdout
    back = subprocess.run([sys.executable, "-m", "arzip", "-dc"], input=packed.stdout, capture_output=True, timeout=300)
    assert back.returncode == 0 and back.stdout == source.read_bytes()
    missing = subprocess.run([sys.executable, "-m", "arzip", str(tmp_path / "none")], capture_output=True, text=True)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1
