"""The command line through main(argv) with injected streams: names, pipes, errors, no losses."""

from __future__ import annotations

import io
import json
import os

import pytest

import arzip
from arzip.cli import Streams, main
from arzip.errors import ExitCode

DATA = b"All work and no play makes Jack a dull boy.\n" * 2000


class Run:
    def __init__(self, status: int, stdout: bytes, stderr: str) -> None:
        self.status, self.stdout, self.stderr = status, stdout, stderr


def run(*argv: str, stdin: bytes = b"") -> Run:
    out, err = io.BytesIO(), io.StringIO()
    status = main(list(argv), Streams(io.BytesIO(stdin), out, err))
    return Run(status, out.getvalue(), err.getvalue())


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(DATA)
    return path


def test_compress_then_decompress_by_name(text_file):
    assert run("-m", "zstd", str(text_file)).status == 0
    packed = text_file.with_name("notes.txt.arz")
    assert packed.exists() and text_file.exists()  # -k is the default
    text_file.unlink()
    assert run("-d", str(packed)).status == 0
    assert text_file.read_bytes() == DATA and packed.exists()


def test_default_codec_round_trips(text_file):
    assert run(str(text_file)).status == 0
    assert arzip.decompress(text_file.with_name("notes.txt.arz").read_bytes()) == DATA


def test_stdout_and_stdin_pipes(text_file):
    packed = run("-c", "-m", "lzma", "-9", str(text_file))
    assert packed.status == 0 and arzip.decompress(packed.stdout) == DATA
    back = run("-d", "-c", "-", stdin=packed.stdout)
    assert back.status == 0 and back.stdout == DATA
    piped = run("-m", "zlib", stdin=DATA)  # no file: stdin to stdout
    assert arzip.decompress(piped.stdout) == DATA


def test_output_name_and_levels(text_file, tmp_path):
    out = tmp_path / "other.bin"
    assert run("-m", "bz2", "--level", "3", "-o", str(out), str(text_file)).status == 0
    info = run("info", "--json", str(out))
    assert json.loads(info.stdout)["level"] == 3
    assert run("-d", "-o", str(tmp_path / "back.txt"), str(out)).status == 0
    assert (tmp_path / "back.txt").read_bytes() == DATA


def test_refuses_to_overwrite_without_force(text_file):
    target = text_file.with_name("notes.txt.arz")
    target.write_bytes(b"precious")
    result = run("-m", "zlib", str(text_file))
    assert result.status == ExitCode.ERROR and "already exists" in result.stderr
    assert target.read_bytes() == b"precious"
    assert run("-f", "-m", "zlib", str(text_file)).status == 0
    assert arzip.decompress(target.read_bytes()) == DATA


def test_rm_removes_input_only_after_success(text_file):
    assert run("--rm", "-m", "zlib", str(text_file)).status == 0
    assert not text_file.exists()
    packed = text_file.with_name("notes.txt.arz")
    assert run("-d", "--rm", str(packed)).status == 0
    assert text_file.read_bytes() == DATA and not packed.exists()


def test_failed_decompression_leaves_no_partial_output(text_file, tmp_path):
    packed = tmp_path / "cut.txt.arz"
    packed.write_bytes(arzip.compress(DATA, "zlib")[:-30])
    result = run("-d", "--rm", str(packed))
    assert result.status == ExitCode.CORRUPT
    assert result.stderr.count("\n") == 1 and "truncated" in result.stderr
    assert not (tmp_path / "cut.txt").exists()
    assert packed.exists()  # --rm only after success
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (b"PK\x03\x04 not arzip at all", ExitCode.CORRUPT, "not an .arz file"),
        (b"", ExitCode.CORRUPT, "empty input"),
    ],
)
def test_foreign_input_gets_one_line(tmp_path, content, code, words):
    path = tmp_path / "thing.arz"
    path.write_bytes(content)
    result = run("-d", str(path))
    assert result.status == code and words in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "thing").exists()


def test_flipped_byte_and_unknown_version_and_codec(tmp_path):
    blob = bytearray(arzip.compress(DATA, "zstd"))
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x10
    (tmp_path / "a.arz").write_bytes(bytes(flipped))
    assert run("-d", str(tmp_path / "a.arz")).status == ExitCode.CORRUPT
    newer = bytearray(blob)
    newer[4] = 9
    (tmp_path / "b.arz").write_bytes(bytes(newer))
    result = run("-d", str(tmp_path / "b.arz"))
    assert result.status == ExitCode.UNSUPPORTED and "version 9" in result.stderr
    assert run("-m", "nonesuch", "-c", stdin=b"x").status == ExitCode.ERROR


def test_unknown_frame_codec_is_unsupported(tmp_path):
    from arzip.container import FrameHeader, StreamHeader, StreamIndex, frame_checksum

    header = StreamHeader(codec="future", level=1, chunk_bytes=100)
    frame = FrameHeader(codec_id=99, raw_size=3, payload_size=2, checksum=frame_checksum(b"abc"))
    index = StreamIndex()
    index.add(frame)
    (tmp_path / "f.arz").write_bytes(header.to_bytes() + frame.to_bytes() + b"zz" + index.to_bytes())
    result = run("-d", str(tmp_path / "f.arz"))
    assert result.status == ExitCode.UNSUPPORTED and "codec id 99" in result.stderr


def test_suffix_rules(text_file):
    result = run("-d", str(text_file))
    assert result.status == ExitCode.ERROR and "unknown suffix" in result.stderr
    packed = text_file.with_name("x.arz")
    packed.write_bytes(arzip.compress(b"x", "zlib"))
    assert "already has" in run(str(packed)).stderr


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in run(str(tmp_path / "absent")).stderr
    assert "is a directory" in run(str(tmp_path)).stderr


def test_subcommands_win_but_paths_do_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "info").write_bytes(b"a file called info")
    assert run("-m", "zlib", "./info").status == 0
    assert os.path.exists("info.arz")
    listing = run("list")
    assert listing.status == 0 and b"zstd" in listing.stdout


def test_info_and_test_subcommands(text_file):
    run("-m", "zstd", str(text_file))
    packed = str(text_file) + ".arz"
    info = run("info", packed)
    assert info.status == 0 and b"codec            zstd" in info.stdout and b"bits/byte" in info.stdout
    assert run("test", packed).stdout == f"{packed}: OK\n".encode()
    blob = bytearray(open(packed, "rb").read())
    blob[-40] ^= 1
    open(packed, "wb").write(bytes(blob))
    bad = run("test", packed)
    assert bad.status == ExitCode.CORRUPT and bad.stderr.count("\n") == 1


def test_verbose_reports_sizes(text_file):
    result = run("-v", "-m", "zlib", str(text_file))
    assert "bits/byte" in result.stderr and f"{len(DATA)} ->" in result.stderr


def test_bench_table_json_and_plot(text_file, tmp_path):
    table = run("bench", "-m", "zlib,zstd", str(text_file))
    assert table.status == 0 and b"zstd" in table.stdout and b"bits/byte" in table.stdout
    as_json = json.loads(run("bench", "--json", "-m", "store", str(text_file)).stdout)
    assert as_json[0]["verified"] and as_json[0]["raw_bytes"] == len(DATA)
    chart = tmp_path / "chart.png"
    assert run("bench", "-m", "zlib,lzma", "--plot", str(chart), str(text_file)).status == 0
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_help_and_bad_options_exit_cleanly():
    assert run("--help").status == 0
    assert run("--no-such-option").status == ExitCode.ERROR
    assert run("-T", "-1", "-c", stdin=b"x").status == ExitCode.ERROR
    packed = run("-T", "0", "-c", stdin=b"x")  # 0: one thread per CPU core, the default
    assert packed.status == 0 and run("-d", "-c", stdin=packed.stdout).stdout == b"x"


def test_refuses_compressed_output_to_a_terminal():
    class Tty(io.BytesIO):
        def isatty(self) -> bool:
            return True

    err = io.StringIO()
    status = main(["-m", "zlib"], Streams(io.BytesIO(b"data"), Tty(), err))
    assert status == ExitCode.ERROR and "terminal" in err.getvalue()
