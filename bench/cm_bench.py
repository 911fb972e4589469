"""Benchmark of the context-mixing model (arzip.models.cm) against zpaq, xz, zstd, brotli.

Usage: python bench/cm_bench.py [--level N] [--no-write] [--files a,b,...]

Per corpus file: compressed size, bits per byte, compress and decompress MB/s and
peak memory of the whole process (python start-up, imports and numba cache load
included), beside the sizes of the reference tools. Then the throughput on the
four English texts concatenated against `zpaq a -m5`, level 1 against xz -9e, and the
start-up: the whole process on a 2 KB file, best of five.
The table goes into the "cm" section of docs/BENCHMARKS.md.

Processes run one at a time (the machine is shared). When the `arzip` command
line exists (`python -m arzip -m cm FILE -o OUT`), it is what is timed; until
then a small script calls arzip.models.cm.encode/decode on the whole file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
CORPUS = ROOT.parent / "shared" / "corpus"
OUT_DIR = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "bench"))

FILES = ["alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt", "html", "html_x_4",
         "urls.10K", "geo.protodata", "kppkn.gtb", "paper-100k.pdf", "fireworks.jpeg"]
TEXTS = FILES[:4]
FALLBACK = {"paper-100k.pdf", "fireworks.jpeg"}  # the container stores these with a classic codec
SMALL_BYTES = 2000  # the small file of the start-up measurement
SEVERAL_COPIES = 2  # the threads measurement: the corpus files concatenated this many times

_DIRECT = """
import sys, time
from arzip.models import cm
mode, level, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
data = open(src, "rb").read()
if mode == "c":
    payload = cm.encode(data, level)
    if payload is None:
        payload = b""
    open(dst, "wb").write(len(data).to_bytes(8, "little") + payload)
else:
    n = int.from_bytes(data[:8], "little")
    open(dst, "wb").write(cm.decode(data[8:], n, level))
"""


def _env() -> dict:
    from _report import command_env

    return command_env(SRC)


def _timed(cmd: list[str], stdout=None) -> tuple[float, int]:
    """Run cmd; return (wall seconds, peak RSS bytes of that process)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=_env(), stdout=stdout or subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss * 1024


def _cli_available() -> bool:
    if not (SRC / "arzip" / "__main__.py").exists():
        return False
    try:
        out = subprocess.run([sys.executable, "-m", "arzip", "--help"], env=_env(),
                             capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return out.returncode == 0 and b"--level" in out.stdout and b"cm" in out.stdout


_IN_PROCESS = """
import sys, time
from arzip.models import cm
level, src = int(sys.argv[1]), sys.argv[2]
data = open(src, "rb").read()
cm.decode(cm.encode(data[:1000], level), 1000, level)
best_c = best_d = 1e9
for _ in range(3):
    t = time.perf_counter(); payload = cm.encode(data, level); best_c = min(best_c, time.perf_counter() - t)
    t = time.perf_counter(); back = cm.decode(payload, len(data), level); best_d = min(best_d, time.perf_counter() - t)
    assert back == data
print(len(data) / best_c / 1e6, len(data) / best_d / 1e6)
"""


def _in_process(path: Path, level: int) -> tuple[float, float]:
    """MB/s of the model alone (cm.encode / cm.decode of the whole file as one chunk, one thread,
    best of 3, imports and cache loads not counted)."""
    out = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(level), str(path)], env=_env(),
                         capture_output=True, check=True, text=True)
    comp, decomp = out.stdout.split()
    return float(comp), float(decomp)


def _ours(path: Path, level: int, tmp: Path, use_cli: bool, threads: int | None = None) -> dict:
    comp, back = tmp / (path.name + ".arz"), tmp / (path.name + ".back")
    if use_cli:
        t_opt = [] if threads is None else ["-T", str(threads)]
        ccmd = [sys.executable, "-m", "arzip", "-q", "-f", "-m", "cm", "--level", str(level), *t_opt,
                str(path), "-o", str(comp)]
        dcmd = [sys.executable, "-m", "arzip", "-q", "-f", "-d", *t_opt, str(comp), "-o", str(back)]
    else:
        ccmd = [sys.executable, "-c", _DIRECT, "c", str(level), str(path), str(comp)]
        dcmd = [sys.executable, "-c", _DIRECT, "d", str(level), str(comp), str(back)]
    tc, mc = _timed(ccmd)
    td, md = _timed(dcmd)
    if back.read_bytes() != path.read_bytes():
        raise RuntimeError(f"round trip failed on {path}")
    size = comp.stat().st_size - (0 if use_cli else 8)
    return {"size": size, "tc": tc, "td": td, "mem": max(mc, md)}


def _ref_sizes(path: Path, tmp: Path) -> dict:
    """Sizes from the reference tools, cached in bench/out (they never change)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    cache_file = OUT_DIR / "ref_sizes.json"
    cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
    key = f"{path.name}:{path.stat().st_size}"
    if key in cache:
        return cache[key]
    res = {}
    data = path.read_bytes()
    for name, cmd in (("xz", ["xz", "-9e", "-k", "-c", str(path)]),
                      ("zstd", ["zstd", "--ultra", "-22", "-c", str(path)]),
                      ("brotli", ["brotli", "-q", "11", "-w", "24", "-c", str(path)])):
        res[name] = len(subprocess.run(cmd, capture_output=True, check=True).stdout)
    zp = tmp / (path.name + ".zpaq")
    if zp.exists():
        zp.unlink()
    subprocess.run(["zpaq", "a", str(zp), str(path), "-m5"], capture_output=True, check=True,
                   cwd=tmp)
    res["zpaq"] = zp.stat().st_size
    del data
    cache[key] = res
    cache_file.write_text(json.dumps(cache, indent=1))
    return res


def _zpaq_times(path: Path, tmp: Path) -> tuple[float, float]:
    """Seconds of `zpaq a -m5` on ``path`` and of `zpaq x` extracting it again."""
    zp = tmp / "concat.zpaq"
    out = tmp / "zpaq-out"
    for old in (zp, out):
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run(["zpaq", "a", str(zp), path.name, "-m5"], capture_output=True, check=True,
                   cwd=path.parent)
    compress = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["zpaq", "x", str(zp), "-to", str(out)], capture_output=True, check=True, cwd=tmp)
    return compress, time.perf_counter() - t


def _held_out(tmp: Path, level: int, use_cli: bool) -> list[str]:
    """The held-out texts (_report.HELD_OUT): cm against zpaq -m5, each file alone, and the total."""
    from _report import held_out_texts

    rows = []
    for name, data in held_out_texts():
        path = tmp / ("held-" + name)
        path.write_bytes(data)
        r = _ours(path, level, tmp, use_cli)
        rows.append((name, len(data), r["size"], _ref_sizes(path, tmp)["zpaq"]))
        print(f"held out {name}: {r['size']} zpaq {rows[-1][3]}", flush=True)
    if not rows:
        return ["- held-out texts: none found (see HELD_OUT in bench/_report.py)"]
    ours, zpaq = sum(r[2] for r in rows), sum(r[3] for r in rows)
    worst = max(rows, key=lambda r: r[2] / r[3])
    return [f"- held-out English texts ({len(rows)} files from Debian packages, not the corpus: "
            + ", ".join(f"{r[0]} {r[2] / r[3]:.3f}" for r in rows)
            + f"): cm {ours} vs zpaq -m5 {zpaq} = **{ours / zpaq:.3f}x**, the largest ratio "
            f"{worst[2] / worst[3]:.3f} ({worst[0]})"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", type=int, default=None)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--files", default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(SRC))
    from arzip.models import cm

    level = args.level or cm.DEFAULT_LEVEL
    files = args.files.split(",") if args.files else FILES
    use_cli = _cli_available()
    lines = []
    rows = {}
    with tempfile.TemporaryDirectory() as tmpd:
        tmp = Path(tmpd)
        # warm the numba cache once so no run pays compilation
        warm = tmp / "warm.txt"
        warm.write_bytes(b"warm up " * 100)
        _ours(warm, level, tmp, use_cli)
        _ours(warm, 1, tmp, use_cli)
        for name in files:
            path = CORPUS / name
            r = _ours(path, level, tmp, use_cli)
            r.update(_ref_sizes(path, tmp))
            r["raw"] = path.stat().st_size
            rows[name] = r
            print(f"{name:16s} {r['raw']:8d} {r['size']:8d} zpaq {r['zpaq']:8d} "
                  f"c {r['tc']:.2f}s d {r['td']:.2f}s", flush=True)
        # throughput on the four texts concatenated, against zpaq -m5 in the same run
        concat = tmp / "texts.txt"
        concat.write_bytes(b"".join((CORPUS / f).read_bytes() for f in TEXTS))
        # best of three runs each, interleaved, so that load from other processes on a
        # shared machine hurts both sides alike
        runs = []
        zts = []
        for _ in range(3):
            runs.append(_ours(concat, level, tmp, use_cli))
            zts.append(_zpaq_times(concat, tmp))
        big = dict(runs[0], tc=min(r["tc"] for r in runs), td=min(r["td"] for r in runs))
        zt = min(t[0] for t in zts)
        zxt = min(t[1] for t in zts)
        # level 1 on the texts against xz -9e
        l1 = {f: _ours(CORPUS / f, 1, tmp, use_cli) for f in TEXTS}
        l1runs = [(_ours(concat, 1, tmp, use_cli), _ours(concat, 1, tmp, use_cli, threads=1)) for _ in range(3)]
        l1big = dict(tc=min(r[0]["tc"] for r in l1runs), td=min(r[0]["td"] for r in l1runs))
        l1one = dict(tc=min(r[1]["tc"] for r in l1runs), td=min(r[1]["td"] for r in l1runs))
        l1model = _in_process(concat, 1)
        # threads on an input of several chunks: every corpus file concatenated, twice, level 1
        several = tmp / "corpus.bin"
        several.write_bytes(b"".join((CORPUS / f).read_bytes() for f in files) * SEVERAL_COPIES)
        manyruns = [(_ours(several, 1, tmp, use_cli), _ours(several, 1, tmp, use_cli, threads=1)) for _ in range(3)]
        many2 = dict(tc=min(r[0]["tc"] for r in manyruns), td=min(r[0]["td"] for r in manyruns))
        many1 = dict(tc=min(r[1]["tc"] for r in manyruns), td=min(r[1]["td"] for r in manyruns))
        # start-up: the whole process on a small file, which is nearly all start-up
        small = tmp / "small.txt"
        small.write_bytes((CORPUS / TEXTS[0]).read_bytes()[:SMALL_BYTES])
        starts = [_ours(small, level, tmp, use_cli) for _ in range(5)]
        start_c = min(r["tc"] for r in starts)
        start_d = min(r["td"] for r in starts)
        held_out = _held_out(tmp, level, use_cli)

    mb = 1e6
    how = ("the `arzip` command line (`python -m arzip -m cm --level N FILE -o OUT`, sizes are "
           "whole .arz files: container header and checksums included)" if use_cli
           else "a small script calling encode/decode")
    lines.append(f"Model `cm`, level {level} (default {cm.DEFAULT_LEVEL}); timed through {how}; "
                 "MB/s and memory are for the whole process (start-up and imports included; Python's "
                 "bytecode cache on, as for an installed package).")
    lines.append("")
    lines.append("| file | raw | cm | bpb | comp MB/s | decomp MB/s | peak MB | zpaq m5 | xz -9e | zstd 22 | brotli 11 | cm/zpaq |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        lines.append(f"| {name} | {r['raw']} | {r['size']} | {r['size'] * 8 / r['raw']:.3f} | "
                     f"{r['raw'] / r['tc'] / mb:.3f} | {r['raw'] / r['td'] / mb:.3f} | "
                     f"{r['mem'] / (1 << 20):.0f} | {r['zpaq']} | {r['xz']} | {r['zstd']} | "
                     f"{r['brotli']} | {r['size'] / r['zpaq']:.3f} |")

    def total(keys, what):
        return sum(rows[k][what] for k in keys if k in rows)

    lines.append("")
    groups = [("four texts", [f for f in TEXTS if f in rows]),
              ("nine files (no pdf/jpeg)", [f for f in rows if f not in FALLBACK]),
              ("all files", list(rows))]
    for label, keys in groups:
        ours = total(keys, "size")
        if label == "all files" and not use_cli:
            # without the container, count pdf/jpeg at the best classic codec, as the
            # container would store them
            ours = sum(min(rows[k]["size"], rows[k]["xz"], rows[k]["zstd"], rows[k]["brotli"])
                       if k in FALLBACK else rows[k]["size"] for k in keys)
        zp = total(keys, "zpaq")
        lines.append(f"- {label}: cm {ours} vs zpaq -m5 {zp} = **{ours / zp:.3f}x**"
                     + (" (pdf/jpeg counted at the best classic codec)"
                        if label == "all files" and not use_cli else ""))
    raw = concat_size = sum((CORPUS / f).stat().st_size for f in TEXTS)
    lines.append(f"- four texts concatenated ({concat_size} bytes, best of 3): cm compress "
                 f"{big['tc']:.2f} s ({raw / big['tc'] / mb:.3f} MB/s), decompress {big['td']:.2f} s "
                 f"({raw / big['td'] / mb:.3f} MB/s), size {big['size']}; "
                 f"`zpaq a -m5` {zt:.2f} s ({raw / zt / mb:.3f} MB/s), `zpaq x` {zxt:.2f} s "
                 f"({raw / zxt / mb:.3f} MB/s): cm/zpaq speed {zt / big['tc']:.2f}x compressing, "
                 f"{zxt / big['td']:.2f}x decompressing")
    l1tot = sum(v["size"] for v in l1.values())
    xztot = sum(rows[f]["xz"] for f in TEXTS if f in rows)
    lines.append(f"- level 1 on the four texts: {l1tot} bytes vs xz -9e {xztot} "
                 f"({l1tot / max(xztot, 1):.3f}x); concatenated texts ({-(-concat_size // cm.LEVELS[1].chunk_bytes)} "
                 f"chunks), whole process, best of 3: compress {raw / l1big['tc'] / mb:.3f} MB/s, decompress "
                 f"{raw / l1big['td'] / mb:.3f} MB/s ({os.cpu_count()} threads, the default); "
                 f"{raw / l1one['tc'] / mb:.3f} and {raw / l1one['td'] / mb:.3f} MB/s with `-T 1`; "
                 f"the model alone (in-process, one chunk, one thread): {l1model[0]:.2f} MB/s compress, "
                 f"{l1model[1]:.2f} MB/s decompress")
    several_size = SEVERAL_COPIES * sum((CORPUS / f).stat().st_size for f in files)

    def net(key: str, start: float) -> str:
        # the coding work alone: the whole process less the start-up measured below
        return f"{(many1[key] - start) / max(many2[key] - start, 1e-9):.2f}x"

    lines.append(f"- threads, on an input of several chunks (the {len(files)} files concatenated {SEVERAL_COPIES} times, "
                 f"{several_size} bytes, {-(-several_size // cm.LEVELS[1].chunk_bytes)} chunks at level 1), whole "
                 f"process, best of 3: compress {many1['tc']:.2f} s with `-T 1`, {many2['tc']:.2f} s with "
                 f"{os.cpu_count()} threads (**{many1['tc'] / many2['tc']:.2f}x**; {net('tc', start_c)} less the "
                 f"start-up below); decompress {many1['td']:.2f} s, {many2['td']:.2f} s "
                 f"(**{many1['td'] / many2['td']:.2f}x**; {net('td', start_d)}). With `-T 1` the xz contender of "
                 f"binary chunks runs after the model, on the same thread")
    lines.append(f"- start-up (time to first byte): the first {SMALL_BYTES:,} bytes of {TEXTS[0]}, whole "
                 f"process, best of 5: compress {start_c:.2f} s, decompress {start_d:.2f} s (target < 1 s)")
    lines += held_out
    lines.append("")
    lines.append("Memory per level (one model instance, approximate): " + ", ".join(
        f"{n}: {lv.memory_bytes / (1 << 20):.0f} MB" for n, lv in cm.LEVELS.items()))
    lines.append("")
    lines.append(_machine())
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        from _report import write_section

        write_section("cm", "## Context mixing (`cm`)\n\n" + text)


def _machine() -> str:
    try:
        from _report import machine_line

        return machine_line()
    except Exception:  # pragma: no cover
        return ""


if __name__ == "__main__":
    main()
