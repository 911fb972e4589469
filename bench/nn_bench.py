"""Benchmark of ``-m nn`` (context mixing + the built-in network) against ``-m cm``.

Usage: python bench/nn_bench.py [--level N] [--no-write] [--files a,b,...] [--model nn:PATH]

For each corpus file, both codecs run as a user runs them, one process at a
time (the machine is shared): ``python -m arzip -m CODEC FILE -o OUT`` then
``python -m arzip -d OUT -o BACK`` (start-up, imports and numba cache loads
included), the output compared with the input. Prints and writes the "nn"
section of docs/BENCHMARKS.md: sizes, nn/cm ratio, KB/s each way, and the
targets of the nn issue (four English texts summed <= 0.92 x cm; alice29.txt
<= 32,000 bytes; no file more than 1% above cm; >= 10 KB/s each way); then the
same size targets on the held-out English texts of bench/_report.py (in-process,
sizes only), which the models were not tuned on.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT / "bench"))

FILES = ["alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt", "html", "html_x_4",
         "urls.10K", "geo.protodata", "kppkn.gtb", "paper-100k.pdf", "fireworks.jpeg"]
TEXTS = FILES[:4]


def _env() -> dict:
    from _report import command_env

    return command_env(ROOT / "src")


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "arzip", *args], check=True, env=_env(), capture_output=True)
    return time.perf_counter() - start


def run_one(path: Path, spec: str, level: int, work: Path) -> dict:
    out, back = work / (path.name + ".arz"), work / path.name
    seconds_c = _timed(["-f", "-m", spec, f"-{level}", str(path), "-o", str(out)])
    seconds_d = _timed(["-d", "-f", str(out), "-o", str(back)])
    if back.read_bytes() != path.read_bytes():
        raise SystemExit(f"{path.name}: {spec} did not round-trip")
    size = path.stat().st_size
    return {"size": out.stat().st_size, "c_kbs": size / seconds_c / 1000, "d_kbs": size / seconds_d / 1000}


def held_out(level: int, model: str) -> list[str]:
    """nn against cm on the held-out texts (_report.HELD_OUT), in-process: the same bytes as
    the command line's."""
    import arzip
    from _report import held_out_texts

    rows = []
    for name, data in held_out_texts():
        rows.append((name, len(arzip.compress(data, "cm", level)), len(arzip.compress(data, model, level))))
        print(f"held out {name:22} cm {rows[-1][1]:>8}  nn {rows[-1][2]:>8}  {rows[-1][2] / rows[-1][1]:.3f}", flush=True)
    if not rows:
        return ["", "Held-out texts: none found (see HELD_OUT in bench/_report.py)."]
    cm_sum, nn_sum = sum(r[1] for r in rows), sum(r[2] for r in rows)
    worst = max(rows, key=lambda r: r[2] / r[1])
    return ["", f"Held-out English texts ({len(rows)} files from Debian packages, not the corpus; nn/cm: "
            + ", ".join(f"{r[0]} {r[2] / r[1]:.3f}" for r in rows)
            + f"): cm {cm_sum:,}, nn {nn_sum:,}: **{nn_sum / cm_sum:.3f} x cm** (target <= 0.92); "
            f"largest ratio {worst[2] / worst[1]:.3f} ({worst[0]}; target <= 1.01)."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=5)
    parser.add_argument("--files", help="comma-separated corpus file names")
    parser.add_argument("--model", default="nn", help="nn or nn:PATH")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    files = args.files.split(",") if args.files else FILES
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # one run of each codec on a small file first, so that no measured run pays
        # numba's compilation (a user pays it once, on the first run after installing)
        (work / "warm").mkdir()
        warm = work / "warm" / "warm.txt"  # not in work/, where run_one decodes to
        warm.write_bytes(b"warm up the compiled code cache. " * 64)
        run_one(warm, "cm", args.level, work)
        run_one(warm, args.model, args.level, work)
        for name in files:
            path = CORPUS / name
            cm = run_one(path, "cm", args.level, work)
            nn = run_one(path, args.model, args.level, work)
            rows.append((name, path.stat().st_size, cm, nn))
            print(f"{name:16} {path.stat().st_size:>8} cm {cm['size']:>8} ({cm['c_kbs']:.0f}/{cm['d_kbs']:.0f} KB/s)"
                  f"  nn {nn['size']:>8} ({nn['c_kbs']:.1f}/{nn['d_kbs']:.1f} KB/s)  {nn['size'] / cm['size']:.3f}",
                  flush=True)
    from _report import machine_line, write_section

    lines = [
        f"## `-m nn` against `-m cm` (level {args.level})", "",
        "Whole process as a user runs it (`python -m arzip -m CODEC FILE -o OUT`, then `-d`), one at a time, "
        "compiled code and bytecode caches warm; KB/s = 1000 bytes of the original per second. " + machine_line(), "",
        "| file | bytes | cm | nn | nn/cm | cm KB/s (c/d) | nn KB/s (c/d) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size, cm, nn in rows:
        lines.append(f"| {name} | {size:,} | {cm['size']:,} | {nn['size']:,} | {nn['size'] / cm['size']:.3f} | "
                     f"{cm['c_kbs']:.0f} / {cm['d_kbs']:.0f} | {nn['c_kbs']:.1f} / {nn['d_kbs']:.1f} |")
    texts = [r for r in rows if r[0] in TEXTS]
    if texts:
        cm_sum = sum(r[2]["size"] for r in texts)
        nn_sum = sum(r[3]["size"] for r in texts)
        lines += ["", f"Four English texts summed: cm {cm_sum:,}, nn {nn_sum:,}: **{nn_sum / cm_sum:.3f} x cm** "
                  "(target <= 0.92, aim 0.88)."]
    alice = [r for r in rows if r[0] == "alice29.txt"]
    if alice:
        lines.append(f"alice29.txt: **{alice[0][3]['size']:,} bytes** (target <= 32,000, aim 28,000).")
    worst = max(rows, key=lambda r: r[3]["size"] / r[2]["size"])
    lines.append(f"Largest nn/cm ratio: {worst[0]} {worst[3]['size'] / worst[2]['size']:.3f} (target <= 1.01).")
    slowest = min(min(r[3]["c_kbs"], r[3]["d_kbs"]) for r in rows)
    lines.append(f"Slowest nn direction: {slowest:.1f} KB/s (target >= 10, aim 20).")
    lines += held_out(args.level, args.model)
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("nn", text)


if __name__ == "__main__":
    main()
