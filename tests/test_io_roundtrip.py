"""Write -> read round trips for every writable format, streaming writers, and hand-built
inputs for decoder paths the real files do not cover (wraps, vectors, legacy order, quirks)."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

import spikestream as ss
import spikestream.io as sio
from spikestream.events import make_events
from spikestream.io.evt21 import encode_evt21

from .conftest import ALL_FORMATS


def random_events(n, size, t_max, seed=0, t0=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(t0, t0 + t_max, n))
    return make_events(
        t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n)
    )


# format id, extension, sensor size, time span, write options
CASES = [
    ("evt2", ".raw", (640, 480), 10**9, {}),
    ("evt3", ".raw", (1280, 720), 10**8, {}),
    ("dat", ".dat", (304, 240), 10**8, {}),
    ("aedat2", ".aedat", (128, 128), 10**8, {"layout": "dvs128"}),
    ("aedat2", ".aedat", (346, 260), 10**8, {"layout": "davis"}),
    ("aedat3", ".aedat", (128, 128), 10**10, {"packet_events": 100}),
    ("aedat4", ".aedat4", (346, 260), 10**9, {"compression": "lz4", "packet_events": 300}),
    ("aedat4", ".aedat4", (640, 480), 10**9, {"compression": "zstd"}),
    ("aedat4", ".aedat4", (640, 480), 10**9, {"compression": "none"}),
    ("nmnist", ".bin", (34, 34), 2**23, {}),
    ("npz", ".npz", (128, 128), 10**9, {}),
    ("hdf5", ".h5", (640, 480), 10**9, {"layout": "plain"}),
    ("hdf5", ".h5", (640, 480), 10**9, {"layout": "prophesee"}),
    ("text", ".csv", (64, 48), 10**6, {}),
]


@pytest.mark.parametrize(("fmt", "ext", "size", "span", "opts"), CASES)
def test_round_trip(tmp_path, fmt, ext, size, span, opts):
    ev = random_events(2500, size, span, seed=len(fmt))
    path = tmp_path / f"rec{ext}"
    sio.write(path, ev, size, format=fmt, **opts)
    assert not list(tmp_path.glob("*.partial"))
    assert sio.detect_format(path).format_id == fmt
    rec = sio.read(path, format=fmt)
    assert np.array_equal(rec.events, ev)
    assert rec.sensor_size == size or fmt in ("nmnist",)
    # chunked reads concatenate to the whole read
    joined = np.concatenate(
        [c.events for c in sio.iter_chunks(path, n_events=333, block_bytes=1000)]
    )
    assert np.array_equal(joined, ev)


@pytest.mark.parametrize(("fmt", "ext", "size", "span", "opts"), CASES)
def test_streaming_writer_matches_one_shot(tmp_path, fmt, ext, size, span, opts):
    ev = random_events(3000, size, span, seed=7)
    one = tmp_path / f"one{ext}"
    many = tmp_path / f"many{ext}"
    sio.write(one, ev, size, format=fmt, **opts)
    with sio.open_writer(many, size, format=fmt, **opts) as w:
        for start in range(0, len(ev), 701):
            w.write(ev[start : start + 701])
        assert not many.exists()  # appears only when closed
    assert np.array_equal(sio.read(many, format=fmt).events, ev)
    if fmt in ("evt2", "evt3", "dat", "nmnist", "aedat2", "text"):
        assert one.read_bytes() == many.read_bytes()


def test_empty_recordings_round_trip(tmp_path):
    empty = make_events([], [], [], [])
    for fmt, ext, size, _span, opts in CASES:
        path = tmp_path / f"empty_{fmt}{ext}"
        sio.write(path, empty, size, format=fmt, **opts)
        rec = sio.read(path, format=fmt)
        assert len(rec) == 0, fmt


def test_writer_rejects_out_of_order_chunks_and_leaves_nothing(tmp_path):
    ev = random_events(100, (64, 64), 1000)
    path = tmp_path / "x.raw"
    with pytest.raises(ss.ValidationError, match="time order"):
        with sio.open_writer(path, (64, 64), format="evt3") as w:
            w.write(ev[50:])
            w.write(ev[:50])
    assert not path.exists() and not list(tmp_path.iterdir())


def test_writer_validates_events(tmp_path):
    ev = make_events([0, 1], [10, 70], [0, 0], [0, 1])
    with pytest.raises(ss.ValidationError, match="width 64"):
        sio.write(tmp_path / "x.raw", ev, (64, 64))
    unsorted = make_events([5, 1], [0, 0], [0, 0], [0, 1])
    with pytest.raises(ss.ValidationError, match="sorted"):
        sio.write(tmp_path / "x.dat", unsorted, (64, 64))
    with pytest.raises(ss.FormatError, match="2\\^23"):
        sio.write(tmp_path / "x.bin", make_events([1 << 23], [0], [0], [0]), (34, 34))
    with pytest.raises(ss.ConfigError, match="sensor_size"):
        sio.write(tmp_path / "x.dat", ev)
    with pytest.raises(ss.UnknownFormatError, match="no writer"):
        sio.write(tmp_path / "x.xyz", ev, (128, 128))
    with pytest.raises(ss.ConfigError, match="takes no option"):
        sio.write(tmp_path / "x.dat", ev, (128, 128), bogus=1)
    assert not list(tmp_path.iterdir())


def test_recording_write_uses_its_sensor_size(tmp_path):
    rec = ss.Recording(random_events(10, (20, 10), 100), (20, 10))
    sio.write(tmp_path / "r.raw", rec)
    assert sio.read(tmp_path / "r.raw").sensor_size == (20, 10)
    assert sio.read(tmp_path / "r.raw").source_format == "evt3"  # .raw defaults to EVT 3.0


def test_evt3_times_beyond_24_bits_and_long_gaps(tmp_path):
    # starts past 2^24 µs, has a 40 s silent gap, crosses several TIME_HIGH wraps
    t = np.array(
        [5, 100, 2**24 + 7, 3 * 2**24 + 4095, 3 * 2**24 + 40_000_000, 2**31], dtype=np.int64
    )
    t = t + 50_000_000
    ev = make_events(t, [1, 2, 3, 4, 5, 6], [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1])
    sio.write(tmp_path / "g.raw", ev, (16, 16), format="evt3")
    assert sio.read(tmp_path / "g.raw").events["t"].tolist() == t.tolist()


def test_evt2_34_bit_wrap(tmp_path):
    t = np.array([2**34 - 100, 2**34 - 1, 2**34, 2**34 + 5000], dtype=np.int64)
    ev = make_events(t, [1, 2, 3, 4], [1, 1, 1, 1], [1, 0, 1, 0])
    sio.write(tmp_path / "w.raw", ev, (8, 8), format="evt2")
    assert sio.read(tmp_path / "w.raw").events["t"].tolist() == t.tolist()


def test_dat_32_bit_wrap(tmp_path):
    t = np.array([2**32 - 10, 2**32 + 10, 2**32 + 2**31 + 5, 2**33 + 3], dtype=np.int64)
    ev = make_events(t, [1, 2, 3, 4], [1, 1, 1, 1], [1, 0, 1, 0])
    sio.write(tmp_path / "w.dat", ev, (8, 8))
    assert sio.read(tmp_path / "w.dat").events["t"].tolist() == t.tolist()


@pytest.mark.parametrize("version", [1, 2])
def test_dat_wraps_at_and_inside_decoder_blocks(tmp_path, version):
    # the decoder scans 2048-record blocks for a wrap: one lands on a block's first record
    # (t[2048] = 2^32), others mid-block; streamed in odd-sized blocks the state is carried
    step = 2**32 // 2048
    t = np.arange(7000, dtype=np.int64) * step + np.repeat([0, 0, 0, 5], 1750)
    rng = np.random.default_rng(1)
    ev = make_events(t, rng.integers(0, 300, 7000), rng.integers(0, 200, 7000), t % 2)
    sio.write(tmp_path / "w.dat", ev, (304, 240))
    if version == 1:  # rewrite the data words in the v1 layout (x 9, y 8, p 4 bits)
        raw = bytearray((tmp_path / "w.dat").read_bytes())
        start = len(raw) - 8 * len(ev)
        rec = np.frombuffer(bytes(raw[start:]), "<u4").reshape(-1, 2).copy()
        rec[:, 1] = ev["x"] | (ev["y"].astype(np.uint32) << 9) | (ev["p"].astype(np.uint32) << 17)
        raw[start:] = rec.tobytes()
        (tmp_path / "w.dat").write_bytes(bytes(raw).replace(b"Version 2", b"Version 1"))
    rec = sio.read(tmp_path / "w.dat")
    assert rec.metadata["version"] == version
    assert np.array_equal(rec.events, ev)
    chunks = list(sio.iter_chunks(tmp_path / "w.dat", n_events=1000, block_bytes=8 * 1500 + 3))
    assert np.array_equal(np.concatenate([c.events for c in chunks]), ev)


def test_dat_payload_at_any_alignment(tmp_path):
    # the decoder views the payload as uint64 records wherever the header ends
    n = 5000
    ev = make_events(np.arange(n) * 7, np.arange(n) % 300, np.arange(n) % 200, np.arange(n) % 2)
    sio.write(tmp_path / "a.dat", ev, (304, 240))
    raw = (tmp_path / "a.dat").read_bytes()
    for pad in range(8):
        (tmp_path / "b.dat").write_bytes(b"% " + b"c" * pad + b"\n" + raw)
        assert np.array_equal(sio.read(tmp_path / "b.dat").events, ev), pad


def _raw_file(path, header_lines, payload: bytes):
    path.write_bytes("".join(f"% {h}\n" for h in header_lines).encode() + payload)


def test_evt3_vectors_and_non_cd_rows(tmp_path):
    words = [
        0x8000 | 3,  # TIME_HIGH 3
        0x6000 | 10,  # TIME_LOW 10 -> t = 3*4096 + 10
        0x0000 | 5,  # ADDR_Y 5
        0x3000 | 0x800 | 100,  # VECT_BASE_X 100, ON
        0x4000 | 0b100000000101,  # VECT_12: x = 100, 102, 111
        0x5000 | 0b10000001,  # VECT_8: x = 112, 119
        0x1000 | 7,  # a non-CD Y row: following X words are not CD events
        0x2000 | 50,
        0x0000 | 6,  # back to CD
        0x6000 | 5,  # TIME_LOW decreases under the same TIME_HIGH: not a wrap
        0x2000 | 60,  # ADDR_X 60 OFF
        0x7000 | 0xF,  # CONTINUED_4 and OTHERS words are skipped
        0xE000 | 0x14,
    ]
    _raw_file(tmp_path / "v.raw", ["evt 3.0", "geometry 128x16"], np.array(words, "<u2").tobytes())
    rec = sio.read(tmp_path / "v.raw")
    base = 3 * 4096
    assert rec.events.tolist() == [
        (base + 10, 100, 5, 1),
        (base + 10, 102, 5, 1),
        (base + 10, 111, 5, 1),
        (base + 10, 112, 5, 1),
        (base + 10, 119, 5, 1),
        (base + 5, 60, 6, 0),
    ]
    assert rec.sensor_size == (128, 16)


def test_evt3_events_before_first_time_high_are_dropped(tmp_path):
    words = [0x0000 | 1, 0x2000 | 4, 0x8000 | 1, 0x2000 | 5]
    _raw_file(tmp_path / "d.raw", ["evt 3.0"], np.array(words, "<u2").tobytes())
    assert sio.read(tmp_path / "d.raw").events.tolist() == [(4096, 5, 1, 0)]


@pytest.mark.parametrize("legacy", [False, True])
def test_evt21(tmp_path, legacy):
    ev = random_events(500, (1280, 720), 10**7, seed=3)
    words = encode_evt21(ev["t"], ev["x"], ev["y"], ev["p"], legacy=legacy)
    fmt_line = "format EVT21;height=720;width=1280" + (";endianness=legacy" if legacy else "")
    _raw_file(tmp_path / "e.raw", ["evt 2.1", fmt_line], words.tobytes())
    rec = sio.read(tmp_path / "e.raw")
    assert rec.source_format == "evt21" and rec.sensor_size == (1280, 720)
    assert np.array_equal(rec.events, ev)
    # a mask with several bits set emits x + k for each
    hi = (1 << 28) | (3 << 22) | (32 << 11) | 9  # ON, ts6 = 3, x base 32, y 9
    th = 8 << 28
    multi = np.array([th << 32, (hi << 32) | 0b1011], dtype="<u8")
    _raw_file(tmp_path / "m.raw", ["evt 2.1"], multi.tobytes())
    assert sio.read(tmp_path / "m.raw").events.tolist() == [
        (3, 32, 9, 1),
        (3, 33, 9, 1),
        (3, 35, 9, 1),
    ]


def test_raw_header_version_mismatch_and_missing(tmp_path):
    _raw_file(tmp_path / "a.raw", ["evt 2.0"], b"\0" * 8)
    with pytest.raises(ss.FormatError, match=r"EVT 2\.0"):
        sio.read(tmp_path / "a.raw", format="evt3")
    _raw_file(tmp_path / "b.raw", ["Date today"], b"\0" * 8)
    with pytest.raises(ss.UnknownFormatError, match="pass format"):
        sio.read(tmp_path / "b.raw")
    assert sio.read(tmp_path / "b.raw", format="evt2", sensor_size=(640, 480)).sensor_size == (
        640,
        480,
    )


def _aedat2(path, header: bytes, records: list[tuple[int, int]]):
    path.write_bytes(header + np.array(records, dtype=">u4").tobytes())


def test_aedat2_cifar10dvs_layout_matches_spikingjelly(tmp_path):
    # address: x_raw bits 7-1, y_raw bits 14-8, p_raw bit 0; bit 31 is not filtered
    recs = [
        ((5 << 1) | (9 << 8) | 1, 100),
        ((127 << 1) | (0 << 8), 200),
        (0x80000000 | (3 << 1), 300),
    ]
    _aedat2(tmp_path / "c.aedat", b"#!AER-DAT2.0\r\n# cifar\r\n", recs)
    rec = sio.read(tmp_path / "c.aedat", layout="cifar10dvs")
    # x = 127 - y_raw, y = 127 - x_raw, p = 1 - p_raw
    assert rec.events.tolist() == [(100, 118, 122, 0), (200, 127, 0, 1), (300, 127, 124, 1)]
    assert rec.sensor_size == (128, 128)


def test_aedat2_davis_skips_imu_aps_and_flips_y(tmp_path):
    dvs = (10 << 22) | (20 << 12) | (1 << 11)
    imu = 0x80000000 | (3 << 10) | (2 << 28)
    ext = 1 << 10
    recs = [(dvs, 5), (imu, 6), (ext, 7), (dvs, 8)]
    header = b"#!AER-DAT2.0\r\n# HardwareInterface: Davis240C\r\n"
    _aedat2(tmp_path / "d.aedat", header, recs)
    rec = sio.read(tmp_path / "d.aedat")
    assert rec.metadata["layout"] == "davis" and rec.sensor_size == (240, 180)
    assert rec.events.tolist() == [(5, 20, 179 - 10, 1), (8, 20, 179 - 10, 1)]
    raw = sio.read(tmp_path / "d.aedat", flip_y=False)
    assert raw.events["y"].tolist() == [10, 10]
    # a file that ends inside a record (as real DAVIS files can): complete records and a warning
    (tmp_path / "t.aedat").write_bytes((tmp_path / "d.aedat").read_bytes()[:-3])
    with pytest.warns(ss.TruncatedRecordingWarning, match="ends inside"):
        cut = sio.read(tmp_path / "t.aedat")
    assert cut.events.tolist() == [(5, 20, 169, 1)]


def test_aedat2_timestamp_wrap(tmp_path):
    recs = [((1 << 1), 2**32 - 5), ((2 << 1), 3)]
    _aedat2(tmp_path / "w.aedat", b"#!AER-DAT2.0\r\n# DVS128\r\n", recs)
    assert sio.read(tmp_path / "w.aedat").events["t"].tolist() == [2**32 - 5, 2**32 + 3]


def _aedat3_packet(kind, events, capacity=None, number=None, overflow=0):
    capacity = len(events) if capacity is None else capacity
    number = len(events) if number is None else number
    body = b"".join(struct.pack("<Ii", d, t) for d, t in events)
    body += b"\0" * 8 * (capacity - len(events))
    return struct.pack("<hhiiiiii", kind, 1, 8, 4, overflow, capacity, number, number) + body


def test_aedat3_valid_bits_capacity_and_spikingjelly_mode(tmp_path):
    def data(x, y, p, valid=1):
        return (x << 17) | (y << 2) | (p << 1) | valid

    packets = (
        _aedat3_packet(1, [(data(1, 2, 1), 10), (data(3, 4, 0, valid=0), 11)], capacity=3)
        + _aedat3_packet(2, [(0xFFFFFFFF, 0)] * 4)  # a non-polarity packet, skipped
        + _aedat3_packet(1, [(data(5, 6, 1), 12)], overflow=1)
    )
    header = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
    (tmp_path / "g.aedat").write_bytes(header + packets)
    rec = sio.read(tmp_path / "g.aedat")
    assert rec.source_format == "aedat3" and rec.sensor_size == (128, 128)
    assert rec.events.tolist() == [(10, 1, 2, 1), (2**31 + 12, 5, 6, 1)]
    sj = sio.read(tmp_path / "g.aedat", spikingjelly=True)
    # every slot up to capacity, validity ignored (the empty third slot decodes as zeros)
    assert sj.events.tolist() == [(10, 1, 2, 1), (11, 3, 4, 0), (0, 0, 0, 0), (2**31 + 12, 5, 6, 1)]


def test_dat_version_1_layout(tmp_path):
    data = 7 | (9 << 9) | (1 << 17)
    payload = struct.pack("<II", 100, data)
    (tmp_path / "v1.dat").write_bytes(
        b"% Data file containing CD events.\n% Version 1\n" + bytes([0, 8]) + payload
    )
    assert sio.read(tmp_path / "v1.dat").events.tolist() == [(100, 7, 9, 1)]


def test_nmnist_overflow_marker(tmp_path):
    def rec(x, y, p, t):
        return bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])

    data = rec(1, 2, 1, 100) + rec(0, 240, 0, 0) + rec(3, 4, 0, 50)
    (tmp_path / "o.bin").write_bytes(data)
    assert sio.read(tmp_path / "o.bin").events.tolist() == [(100, 1, 2, 1), (8192 + 50, 3, 4, 0)]


def test_text_seconds_and_column_order(tmp_path):
    (tmp_path / "e.txt").write_text("# t x y p\n0.000001 1 2 1\n0.0025 3 4 0\n")
    assert sio.read(tmp_path / "e.txt").events.tolist() == [(1, 1, 2, 1), (2500, 3, 4, 0)]
    (tmp_path / "c.csv").write_text("1,2,10,-1\n3,4,20,1\n")
    assert sio.read(tmp_path / "c.csv", columns="xytp").events.tolist() == [
        (10, 1, 2, 0),
        (20, 3, 4, 1),
    ]


def test_spikingjelly_npz_without_sensor_size(tmp_path):
    np.savez(
        tmp_path / "s.npz",
        t=np.array([1, 2], np.int64),
        x=np.array([3, 4]),
        y=np.array([5, 6]),
        p=np.array([0, 1]),
    )
    rec = sio.read(tmp_path / "s.npz")
    assert rec.events.tolist() == [(1, 3, 5, 0), (2, 4, 6, 1)]
    assert rec.sensor_size == (5, 7) and rec.metadata["sensor_size_inferred"]


def test_asl_dvs_mat(tmp_path):
    import scipy.io

    scipy.io.savemat(
        tmp_path / "a.mat",
        {
            "ts": np.array([[5], [9]]),
            "x": np.array([[1], [2]]),
            "y": np.array([[3], [4]]),
            "pol": np.array([[1], [0]]),
        },
    )
    rec = sio.read(tmp_path / "a.mat")
    assert rec.source_format == "mat" and rec.sensor_size == (240, 180)
    assert rec.events.tolist() == [(5, 1, 3, 1), (9, 2, 4, 0)]
    scipy.io.savemat(tmp_path / "b.mat", {"ts": np.array([1])})
    with pytest.raises(ss.FormatError, match="missing key"):
        sio.read(tmp_path / "b.mat")


def test_prophesee_hdf5_read(tmp_path):
    import h5py

    dt = np.dtype(
        {
            "names": ["x", "y", "p", "t"],
            "formats": ["<u2", "<u2", "<i2", "<i8"],
            "offsets": [0, 2, 4, 8],
            "itemsize": 16,
        }
    )
    cd = np.zeros(2, dtype=dt)
    cd["x"], cd["y"], cd["p"], cd["t"] = [1, 2], [3, 4], [0, 1], [10, 20]
    with h5py.File(tmp_path / "p.h5", "w") as h:
        h.create_dataset("CD/events", data=cd)
        h.attrs["geometry"] = "1280x720"
    rec = sio.read(tmp_path / "p.h5")
    assert rec.events.tolist() == [(10, 1, 3, 0), (20, 2, 4, 1)] and rec.sensor_size == (1280, 720)


def test_unknown_option_and_format():
    with pytest.raises(ss.UnknownFormatError, match="known"):
        sio.get_format("evt9")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert {f.format_id for f in sio.list_formats()} == set(ALL_FORMATS)


@pytest.mark.parametrize("fmt", ["evt2", "evt3"])
def test_raw_absolute_unix_times_use_a_t0_header(tmp_path, fmt):
    t = 1_605_537_493_718_345 + np.array([0, 5, 70_000, 2**25], dtype=np.int64)
    ev = make_events(t, [1, 2, 3, 4], [5, 6, 7, 8], [0, 1, 0, 1])
    path = tmp_path / "abs.raw"
    sio.write(path, ev, (16, 16), format=fmt)
    assert path.stat().st_size < 400  # no replay of wraps from t = 0
    period = 34 if fmt == "evt2" else 24
    assert f"% t0 {(int(t[0]) >> period) << period}\n".encode() in path.read_bytes()
    rec = sio.read(path)
    assert rec.events["t"].tolist() == t.tolist()
    assert rec.metadata["header"]["t0"] == str((int(t[0]) >> period) << period)
