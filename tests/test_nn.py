"""The built-in network: integer-exact inference, model files, the nn codec, generation."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import arzip
from arzip.cli import main
from arzip.cli.compress import Streams
from arzip.coding.frequencies import EXP2_FRACTION
from arzip.errors import ModelError
from arzip.models.nn import modelfile, shipped
from arzip.models.nn.features import FEATURE_SETS, features_range
from arzip.models.nn.network import FREQ_BITS, SHIFT, load_network, step_frequencies

TEXT = (Path(__file__).parents[1] / "README.md").read_bytes()[:6000]


def random_model(path: Path, hidden1: int = 24, hidden2: int = 40, seed: int = 0, features: int = 2) -> Path:
    """A small model file with random int8 weights (no torch needed)."""
    rng = np.random.default_rng(seed)
    feature_set = FEATURE_SETS[features]

    def fixed(scale: float, n: int, offset: float = 0.0) -> np.ndarray:
        return (rng.random(n) * scale * (1 << SHIFT) + offset * (1 << SHIFT)).astype(np.int64)

    arrays = {
        "table": rng.integers(-127, 128, (feature_set.n_rows, hidden1), dtype=np.int8),
        "mul1": fixed(0.3, hidden1), "add1": fixed(40, hidden1, 10),
        "w2": rng.integers(-127, 128, (hidden1, hidden2), dtype=np.int8),
        "mul2": fixed(0.01, hidden2), "add2": fixed(60, hidden2, 20),
        "w3": rng.integers(-127, 128, (hidden2, 256), dtype=np.int8),
        "mul3": fixed(0.05, 256), "add3": fixed(100, 256),
    }
    meta = {"kind": "byte-mlp", "net": {"hidden1": hidden1, "hidden2": hidden2}, "shift": SHIFT,
            "act_max": 255, "w_max": 127, "info": {}}
    if features != 1:  # v1 files may lack the entry (the first shipped model has it)
        meta["features"] = feature_set.name
    modelfile.save(path, meta, arrays)
    return path


@pytest.fixture(scope="module", params=sorted(FEATURE_SETS), ids=lambda v: f"features-v{v}")
def model_file(tmp_path_factory, request) -> Path:
    return random_model(tmp_path_factory.mktemp("nn") / "random.arzm", features=request.param)


def _step_all(network, data: np.ndarray) -> np.ndarray:
    out = np.zeros((len(data), 256), np.int32)
    scratch, weights = network.scratch(), network.step_arrays()
    for t in range(len(data)):
        step_frequencies(data, t, *weights, FREQ_BITS, EXP2_FRACTION, *scratch, out[t])
    return out


def test_full_pass_equals_step_by_step(model_file):
    network = load_network(model_file)
    data = np.frombuffer(TEXT[:1500], np.uint8).copy()
    full = network.frequencies(network.rows(data, 0, len(data)))
    assert (full.sum(axis=1) == 1 << FREQ_BITS).all() and full.min() >= 1
    assert np.array_equal(full, _step_all(network, data))


@pytest.mark.parametrize("batch", [1, 7])
def test_batches_equal_single_streams(model_file, batch):
    network = load_network(model_file)
    rng = np.random.default_rng(batch)
    streams = [np.frombuffer(TEXT[s:s + 300], np.uint8).copy() for s in rng.integers(0, 5000, batch)]
    rows = np.concatenate([network.rows(s, 0, len(s)) for s in streams])
    together = network.frequencies(rows)
    alone = np.concatenate([_step_all(network, s) for s in streams])
    assert np.array_equal(together, alone)


_PROBE = """
import hashlib, sys, numpy as np
from arzip.models.nn.network import load_network
net = load_network(sys.argv[1])
data = np.frombuffer(open(sys.argv[2], "rb").read(), np.uint8).copy()
print(hashlib.sha256(net.frequencies(net.rows(data, 0, len(data))).tobytes()).hexdigest())
"""


def _probe(model_file: Path, data_file: Path, env: dict) -> str:
    src = str(Path(arzip.__file__).resolve().parents[1])  # this arzip, installed or not
    path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", _PROBE, str(model_file), str(data_file)], capture_output=True,
                            text=True, env={**os.environ, **env, "PYTHONPATH": path}, check=True)
    return result.stdout.strip()


@pytest.mark.parametrize("env", [
    {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    {"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
    {"OPENBLAS_CORETYPE": "Prescott", "NUMBA_CPU_NAME": "generic", "OPENBLAS_NUM_THREADS": "2"},
], ids=["1-thread", "2-threads", "other-cpu-kernels"])
def test_frequencies_same_across_threads_and_cpus(model_file, tmp_path, env):
    network = load_network(model_file)
    data_file = tmp_path / "text"
    data_file.write_bytes(TEXT[:3000])
    data = np.frombuffer(TEXT[:3000], np.uint8).copy()
    here = hashlib.sha256(network.frequencies(network.rows(data, 0, len(data))).tobytes()).hexdigest()
    assert _probe(model_file, data_file, env) == here


def test_model_file_hash_and_corruption(model_file, tmp_path):
    network = load_network(model_file)
    assert network.digest == hashlib.sha256(model_file.read_bytes()[:-32]).digest()
    damaged = tmp_path / "damaged.arzm"
    raw = bytearray(model_file.read_bytes())
    raw[len(raw) // 2] ^= 1  # one weight bit
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="corrupt"):
        load_network(damaged)
    wrong_hash = tmp_path / "wrong.arzm"
    wrong_hash.write_bytes(model_file.read_bytes()[:-1] + bytes([model_file.read_bytes()[-1] ^ 0xFF]))
    with pytest.raises(ModelError, match="SHA-256"):
        load_network(wrong_hash)
    not_model = tmp_path / "text.arzm"
    not_model.write_bytes(b"hello")
    with pytest.raises(ModelError, match="not an arzip model"):
        load_network(not_model)


def test_feature_sets():
    """v1 rows are those of the first shipped model; v2 splits each word row in two by
    one more hash bit (what training's table growth relies on) and adds order 4."""
    data = np.frombuffer(TEXT[:2000], np.uint8).copy()
    v1 = features_range(data, 0, len(data), FEATURE_SETS[1].n_features)
    v2 = features_range(data, 0, len(data), FEATURE_SETS[2].n_features)
    assert np.array_equal(v1[:, :14], v2[:, :14])  # positions, order 3, order 5
    base1 = base2 = 12 * 257 + 2 * 8192
    assert np.array_equal((v2[:, 14] - base2) >> 1, v1[:, 14] - base1)
    assert np.array_equal((v2[:, 15] - base2 - 16384) >> 1, v1[:, 15] - base1 - 8192)
    for fs, rows in ((FEATURE_SETS[1], v1), (FEATURE_SETS[2], v2)):
        assert rows.min() >= 0 and rows.max() < fs.n_rows
    # v1 as it was first shipped (models trained with it must keep working): pinned rows
    pinned = np.frombuffer(b"The quick brown Fox, jumps over the lazy dog's back.\n" * 30 + bytes(range(256)),
                           np.uint8).copy()
    rows = features_range(pinned, 0, len(pinned), FEATURE_SETS[1].n_features)
    assert hashlib.sha256(rows.tobytes()).hexdigest()[:16] == "74c43959bec0f817"


def test_unknown_feature_set_is_refused(tmp_path):
    path = random_model(tmp_path / "v9.arzm")
    meta, arrays, _ = modelfile.load(path)
    meta["features"] = "arzip.models.nn.features v9"
    modelfile.save(path, meta, arrays)
    with pytest.raises(ModelError, match="features unknown"):
        load_network(path)


def test_model_not_found():
    with pytest.raises(ModelError, match="not found"):
        shipped.load("nn:/no/such/model.arzm")


# ---------------------------------------------------------------- the nn codec

EDGE_INPUTS = {
    "empty": b"",
    "one-byte": b"a",
    "all-256": bytes(range(256)),
    "random": np.random.default_rng(5).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
    "repetitive": b"abcabcabd" * 300,
    "text": TEXT,
}


@pytest.mark.parametrize("name", EDGE_INPUTS)
def test_round_trip_with_a_model_file(model_file, name):
    data = EDGE_INPUTS[name]
    blob = arzip.compress(data, f"nn:{model_file}", 1)
    assert arzip.decompress(blob) == data


def test_binary_chunk_with_a_model_file(model_file):
    """A chunk that is not text goes through the binary contexts under -m nn too."""
    from arzip.container import parse_frame_header, parse_header
    from arzip.models import cm

    rows = b"".join(i.to_bytes(2, "little") + b"\x00\x01" + bytes([i % 7, 3]) for i in range(800))
    blob = arzip.compress(rows, f"nn:{model_file}", 5)
    header, offset = parse_header(blob)
    frame, payload_at = parse_frame_header(blob, offset, header.chunk_bytes)
    assert frame.codec_id == 17 and blob[payload_at:payload_at + 2] == bytes((cm.MODEL_REVISION, 1))
    assert arzip.decompress(blob) == rows


@pytest.mark.parametrize("revision", [5, 6])
def test_earlier_revisions_text_payloads_still_decode(model_file, revision):
    """Revision 6 adds contexts to text chunks under -m nn, revision 7 learning rates by use;
    a frame of an earlier revision (written by the arzip before) decodes with its own levels."""
    from arzip.container import parse_frame_header, parse_header
    from arzip.models import cm

    network = load_network(model_file)
    old_level = cm.LEVELS_BY_REVISION[revision][5].for_chunk(False).with_network(False)
    new_level = cm.LEVELS[5].for_chunk(False).with_network(False)
    assert old_level != new_level
    blob = bytearray(arzip.compress(TEXT, f"nn:{model_file}", 5))
    header, offset = parse_header(blob)
    frame, payload_at = parse_frame_header(blob, offset, header.chunk_bytes)
    old = bytes((revision, 0)) + cm.encode_level(TEXT, old_level, network)
    assert old[2:] != bytes(blob[payload_at + 2 : payload_at + frame.payload_size])
    from arzip.codecs import CodingContext, codec_by_id

    codec = codec_by_id(17)
    context = CodingContext(header)
    assert codec.decode_chunk(old, len(TEXT), context) == TEXT


@pytest.mark.parametrize("level", range(1, 10))
def test_learning_rates_by_use(level):
    """Revision 7 gives every level rates by use under -m nn (text and binary chunks), and
    cm's levels from RATES_FROM_LEVEL on; cm's faster levels keep the schedule of revision 5,
    so their payloads do not change. Revision 6 has none."""
    from arzip.models import cm
    from arzip.models.cm.levels import RATES_BY_USE, RATES_FROM_LEVEL

    def by_use(lv) -> bool:
        return all(getattr(lv, key) == value for key, value in RATES_BY_USE.items())

    for binary in (False, True):
        plain = cm.LEVELS[level].for_chunk(binary)
        assert by_use(plain.with_network(binary))
        assert by_use(plain) == (level >= RATES_FROM_LEVEL)
        assert plain.mixer_lr_boost == (0 if level >= RATES_FROM_LEVEL else 32)
        assert cm.LEVELS_BY_REVISION[6][level].for_chunk(binary).with_network(binary).set_rate_boost == 0


def test_rate_tables_fall_with_use_to_the_base_rate():
    from arzip.models import cm
    from arzip.models.cm.model import RATE_UPDATES, _rate_tables

    rates = _rate_tables(cm.LEVELS[5].with_network(False)).astype(np.int64)
    assert rates.shape == (3, RATE_UPDATES)
    assert rates[0, 0] == 256 and rates[1, 0] == 64 and rates[2, 0] == 1024 + 8192
    assert rates[0, 128] == 128 and rates[1, 128] == 32  # half after one half-life
    assert np.all(np.diff(rates, axis=1) <= 0)
    assert rates[0, -1] == rates[1, -1] == 0 and rates[2, -1] == 1024  # 2**16 >> apm_rate 6
    old = _rate_tables(cm.LEVELS[5]).astype(np.int64)  # without: no boosts, a fixed APM shift
    assert not old[:2].any() and np.all(old[2] == 65536 >> cm.LEVELS[5].apm_rate)


def test_shipped_model_fits_the_package_budget():
    path = shipped.default_model_path()
    assert path.stat().st_size <= 16_000_000  # int8, at most 16 MB (docs/MODEL.md)
    network = shipped.load("nn")
    assert network.table.dtype == np.int8 and network.features.n_rows == network.table.shape[0]


def test_shipped_model_round_trip_and_header():
    blob = arzip.compress(TEXT, "nn", 1)
    assert arzip.decompress(blob) == TEXT
    from arzip.container import parse_header

    header, _ = parse_header(blob)
    assert header.model_ref == "nn"
    assert header.model_hash == shipped.load("nn").digest


def test_other_model_is_refused(model_file, tmp_path):
    other = random_model(tmp_path / "other.arzm", seed=1)
    blob = arzip.compress(TEXT[:500], f"nn:{model_file}", 1)
    with pytest.raises(ModelError, match="not the model"):
        arzip.decompress(blob, model=f"nn:{other}")
    src = tmp_path / "in.arz"
    src.write_bytes(blob)
    status = main(["-d", "-c", "-m", f"nn:{other}", str(src)], _streams())
    assert status == 4


def _streams() -> Streams:
    import io

    return Streams(io.BytesIO(), io.BytesIO(), io.StringIO())


# ---------------------------------------------------------------- generation

def test_generation_is_reproducible(model_file):
    from arzip.cli.generate import generate

    network = load_network(model_file)
    first = generate(network, b"The ", 40, 0.8, seed=3)
    assert len(first) == 40
    assert generate(network, b"The ", 40, 0.8, seed=3) == first
    assert generate(network, b"The ", 40, 0.0, seed=1) == generate(network, b"The ", 40, 0.0, seed=2)


def test_generate_command(model_file):
    streams = _streams()
    assert main(["generate", "-m", f"nn:{model_file}", "--prompt", "Hi", "-n", "20", "--seed", "4"], streams) == 0
    out = streams.stdout.getvalue()
    assert out.startswith(b"Hi") and len(out) == 22


def test_decoder_on_other_cpu_kernels(model_file, tmp_path):
    """The whole decoder in a process that runs another CPU's BLAS and numba code."""
    data = TEXT[:4000]
    packed = tmp_path / "text.arz"
    packed.write_bytes(arzip.compress(data, f"nn:{model_file}", 1))
    src = str(Path(arzip.__file__).resolve().parents[1])
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott", "NUMBA_CPU_NAME": "generic",
           "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "arzip", "-d", "-c", str(packed)], capture_output=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == data
