"""The one function that turns a model's integer scores into a coder's frequency table.

What it does: maps non-negative integer weights (or fixed-point log2 scores,
through an integer softmax) onto integer frequencies that sum to exactly
2**total_bits, every symbol keeping a frequency of at least 1, so any symbol can
be coded whatever the model believed. Encoder and decoder call the same function
on the same integers and get the same table on every machine.
What it does not do: code anything (``arzip.coding.range`` does) or use floats.

Scaling rule: f[i] = 1 + floor(w[i] * (T - n) / W), with T = 2**total_bits, n the
alphabet size and W the sum of weights; the few counts left over by the floors go
to the most probable symbol (the first one on ties). With W == 0 every symbol
gets an equal share.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np

from ..jit import njit

MAX_FREQ_TOTAL_BITS = 30
MAX_WEIGHT = (1 << 32) - 1  # weights beyond this would overflow the int64 products
LOG2_FRAC_BITS = 8  # fixed-point log2 scores: 256 units per bit


def exp2_fraction_reference() -> np.ndarray:
    """round(2**(j/256) * 2**30) for j in 0..255, in exact decimal arithmetic: how the
    table below was made (a test checks that they agree)."""
    with localcontext() as context:
        context.prec = 40
        scale = Decimal(2) ** 30
        return np.array(
            [int((Decimal(2) ** (Decimal(j) / 256) * scale).to_integral_value()) for j in range(256)],
            dtype=np.int64,
        )


# round(2**(j/256) * 2**30), j = 0..255: part of the bitstream of every model that codes
# through an integer softmax, so written out here rather than computed at each start-up
# (the decimal computation took 25-35 ms of it)
_EXP2_FRACTION_VALUES = (
    1073741824, 1076653033, 1079572136, 1082499153, 1085434106, 1088377016, 1091327906, 1094286796,
    1097253708, 1100228665, 1103211687, 1106202798, 1109202018, 1112209370, 1115224875, 1118248556,
    1121280436, 1124320536, 1127368878, 1130425485, 1133490379, 1136563583, 1139645120, 1142735011,
    1145833280, 1148939949, 1152055042, 1155178580, 1158310587, 1161451085, 1164600099, 1167757650,
    1170923762, 1174098458, 1177281762, 1180473697, 1183674286, 1186883552, 1190101520, 1193328213,
    1196563654, 1199807867, 1203060876, 1206322705, 1209593378, 1212872918, 1216161350, 1219458698,
    1222764986, 1226080238, 1229404479, 1232737732, 1236080024, 1239431376, 1242791816, 1246161366,
    1249540052, 1252927899, 1256324931, 1259731174, 1263146652, 1266571390, 1270005413, 1273448747,
    1276901417, 1280363448, 1283834865, 1287315695, 1290805962, 1294305692, 1297814910, 1301333643,
    1304861917, 1308399756, 1311947188, 1315504238, 1319070932, 1322647296, 1326233356, 1329829140,
    1333434672, 1337049980, 1340675091, 1344310030, 1347954824, 1351609500, 1355274085, 1358948606,
    1362633090, 1366327563, 1370032052, 1373746586, 1377471191, 1381205894, 1384950723, 1388705706,
    1392470869, 1396246240, 1400031848, 1403827719, 1407633882, 1411450365, 1415277195, 1419114401,
    1422962010, 1426820052, 1430688553, 1434567544, 1438457051, 1442357104, 1446267730, 1450188960,
    1454120821, 1458063343, 1462016553, 1465980482, 1469955159, 1473940611, 1477936870, 1481943963,
    1485961921, 1489990772, 1494030547, 1498081275, 1502142985, 1506215708, 1510299473, 1514394310,
    1518500250, 1522617322, 1526745556, 1530884983, 1535035634, 1539197537, 1543370725, 1547555228,
    1551751076, 1555958300, 1560176931, 1564406999, 1568648537, 1572901575, 1577166143, 1581442275,
    1585730000, 1590029350, 1594340357, 1598663052, 1602997467, 1607343634, 1611701585, 1616071351,
    1620452965, 1624846459, 1629251865, 1633669214, 1638098541, 1642539877, 1646993254, 1651458706,
    1655936265, 1660425963, 1664927835, 1669441912, 1673968228, 1678506817, 1683057710, 1687620943,
    1692196547, 1696784557, 1701385007, 1705997930, 1710623359, 1715261330, 1719911875, 1724575029,
    1729250827, 1733939301, 1738640488, 1743354420, 1748081133, 1752820662, 1757573041, 1762338305,
    1767116489, 1771907628, 1776711757, 1781528911, 1786359126, 1791202437, 1796058879, 1800928489,
    1805811301, 1810707353, 1815616678, 1820539314, 1825475297, 1830424663, 1835387448, 1840363688,
    1845353420, 1850356681, 1855373507, 1860403934, 1865448001, 1870505744, 1875577199, 1880662405,
    1885761398, 1890874216, 1896000896, 1901141476, 1906295993, 1911464486, 1916646992, 1921843549,
    1927054196, 1932278970, 1937517909, 1942771053, 1948038440, 1953320108, 1958616096, 1963926443,
    1969251188, 1974590370, 1979944027, 1985312200, 1990694927, 1996092249, 2001504204, 2006930832,
    2012372174, 2017828268, 2023299156, 2028784876, 2034285470, 2039800978, 2045331439, 2050876895,
    2056437387, 2062012954, 2067603638, 2073209480, 2078830522, 2084466803, 2090118366, 2095785251,
    2101467502, 2107165158, 2112878262, 2118606857, 2124350982, 2130110682, 2135885998, 2141676973,
)
EXP2_FRACTION = np.array(_EXP2_FRACTION_VALUES, dtype=np.int64)


@njit(cache=True, nogil=True)
def frequencies_from_weights(weights: np.ndarray, total_bits: int) -> np.ndarray:
    """Integer frequencies >= 1 summing to 2**total_bits, proportional to ``weights``."""
    n = weights.shape[0]
    total = np.int64(1) << total_bits
    spare = total - n  # what is left after every symbol's guaranteed 1
    weight_sum = np.int64(0)
    for i in range(n):
        weight_sum += weights[i]
    freqs = np.ones(n, dtype=np.int64)
    if weight_sum == 0:
        share = spare // n
        for i in range(n):
            freqs[i] += share
        freqs[0] += spare - share * n
        return freqs
    assigned = np.int64(0)
    best = 0
    for i in range(n):
        extra = (weights[i] * spare) // weight_sum
        freqs[i] += extra
        assigned += extra
        if weights[i] > weights[best]:
            best = i
    freqs[best] += spare - assigned
    return freqs


@njit(cache=True, nogil=True)
def weights_from_log2_scores(scores: np.ndarray, exp2_fraction: np.ndarray) -> np.ndarray:
    """Integer softmax numerators: 2**((score - max) / 256) * 2**30, truncated.

    ``scores`` are log2-probabilities (up to a constant) in units of 1/256 bit.
    """
    top = scores[0]
    for i in range(scores.shape[0]):
        if scores[i] > top:
            top = scores[i]
    weights = np.zeros(scores.shape[0], dtype=np.int64)
    for i in range(scores.shape[0]):
        e = scores[i] - top  # <= 0
        shift = -(e >> LOG2_FRAC_BITS)  # whole bits below the maximum
        if shift < 62:
            weights[i] = exp2_fraction[e & 255] >> shift
    return weights


def check_frequency_request(alphabet_size: int, total_bits: int) -> None:
    """Raise ValueError unless a table of ``alphabet_size`` fits in 2**total_bits."""
    if not 1 <= total_bits <= MAX_FREQ_TOTAL_BITS:
        raise ValueError(f"total_bits must be in 1..{MAX_FREQ_TOTAL_BITS}, not {total_bits}")
    if not 2 <= alphabet_size <= (1 << total_bits):
        raise ValueError(f"an alphabet of {alphabet_size} symbols does not fit 2**{total_bits}")


def frequency_table(
    scores: np.ndarray, total_bits: int = 24, *, log2_scores: bool = False
) -> np.ndarray:
    """The coder's frequency table for one step of a model.

    ``scores`` are non-negative integer weights (at most 2**32 - 1 each), or with
    ``log2_scores=True`` integer log2-probabilities in units of 1/256 bit (an
    integer softmax turns them into weights first). Returns int64 frequencies,
    each >= 1, summing to exactly 2**total_bits.
    """
    scores = np.ascontiguousarray(scores, dtype=np.int64)
    check_frequency_request(scores.shape[0], total_bits)
    if log2_scores:
        weights = weights_from_log2_scores(scores, EXP2_FRACTION)
    else:
        if scores.min() < 0 or scores.max() > MAX_WEIGHT:
            raise ValueError("weights must lie in [0, 2**32)")
        weights = scores
    return frequencies_from_weights(weights, total_bits)


def cumulative(freqs: np.ndarray) -> np.ndarray:
    """Cumulative table with a leading 0 (the form the range coder searches)."""
    out = np.zeros(freqs.shape[0] + 1, dtype=np.int64)
    np.cumsum(freqs, out=out[1:])
    return out
