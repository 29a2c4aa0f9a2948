"""Defects an adversarial harness found in the readers and writers (issue 12): memory bounded by
what a file really holds, no stale bytes in written files, no endless empty windows, the camera
read from the right header lines, no coordinate wrap, events always inside the reported sensor,
header values that overflow, byte offsets on every format error, missing files, text sensor sizes
and writer time ranges."""

from __future__ import annotations

import os
import struct
import tracemalloc
import warnings

import lz4.frame
import numpy as np
import pytest
import zstandard

import spikestream as ss
import spikestream.io as sio
from spikestream.errors import MissingFileError
from spikestream.events import make_events
from spikestream.io import base, flatbuf
from spikestream.io.aedat4 import max_expansion

from .test_io_bad_input import aedat4_file


def events(n=200, size=(64, 48), seed=0, t_max=100_000):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, t_max, n))
    return make_events(
        t, rng.integers(0, size[0], n), rng.integers(0, size[1], n), rng.integers(0, 2, n)
    )


def raw_file(path, header_lines, payload: bytes) -> int:
    """A Prophesee RAW file; returns the payload's byte offset."""
    head = "".join(f"% {h}\n" for h in header_lines).encode()
    path.write_bytes(head + payload)
    return len(head)


def evt2_cd(t, x, y, p=1):
    return (p << 28) | ((t & 0x3F) << 22) | (x << 11) | y


# -- 1. AEDAT4: nothing a header claims is allocated untested ------------------------------------


def zstd_claiming(data: bytes, declared: int) -> bytes:
    """A Zstd frame of ``data`` whose header claims ``declared`` decompressed bytes."""
    frame = zstandard.ZstdCompressor().compress(data)
    fhd = frame[4]
    assert fhd & 0x20, "single-segment frame expected"
    fcs_bytes = {0: 1, 1: 2, 2: 4, 3: 8}[fhd >> 6]
    body = frame[5 + fcs_bytes :]
    return frame[:4] + bytes([(fhd & 0x3F) | 0xC0]) + struct.pack("<Q", declared) + body


def test_aedat4_declared_sizes_are_not_trusted_for_allocation(tmp_path):
    packet = flatbuf.build_struct_vector_packet(b"EVTS", b"\0" * 32, 2)
    lie = zstd_claiming(packet, 200 << 20)  # under the 256 MiB per-packet cap
    assert zstandard.frame_content_size(lie) == 200 << 20
    path = tmp_path / "bomb.aedat4"
    aedat4_file(path, [lie] * 24, compression=3)  # 24 x 200 MiB declared by a 3 KB file
    tracemalloc.start()
    try:
        with pytest.raises(ss.FormatError) as err:
            sio.read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"{peak} bytes allocated for a {path.stat().st_size}-byte file"
    assert "more than its" in str(err.value) and err.value.path == str(path)
    first_packet = path.stat().st_size - 24 * (8 + len(lie))
    assert err.value.offset == first_packet + 8


def test_aedat4_output_grows_with_what_is_decoded(tmp_path):
    # Honest packets that compress 100x: more events than the first guess (16x the file) holds.
    n = 50_000
    ev = make_events(np.arange(n) // 1000, np.zeros(n), np.zeros(n), np.ones(n))
    path = tmp_path / "dense.aedat4"
    sio.write(path, ev, (8, 8), compression="zstd", packet_events=5_000)
    assert path.stat().st_size * 16 < ev.nbytes
    rec = sio.read(path)
    assert np.array_equal(rec.events, ev) and rec.sensor_size == (8, 8)


def test_max_expansion_bounds():
    assert max_expansion(100, 0) == 100
    assert max_expansion(100, 1) == 25_500
    assert max_expansion(3, 3) == 2 * (128 << 10)
    # the real maxima stay under the bounds
    lz4_best = lz4.frame.compress(b"\0" * (1 << 22), compression_level=16)
    assert (1 << 22) <= max_expansion(len(lz4_best), 1)
    zstd_best = zstandard.ZstdCompressor(level=19).compress(b"\0" * (1 << 22))
    assert (1 << 22) <= max_expansion(len(zstd_best), 3)


# -- 2. the AEDAT4 writer zeroes the padding ---------------------------------------------------


def test_aedat4_writer_never_copies_padding_bytes(tmp_path):
    ev = events(500)
    junk = ev.copy()
    junk.view(np.uint8).reshape(-1, 16)[:, 13:16] = 0xA5  # stale memory in the padding
    sio.write(tmp_path / "a.aedat4", ev, (64, 48), compression="none")
    sio.write(tmp_path / "b.aedat4", junk, (64, 48), compression="none")
    sio.write(tmp_path / "c.aedat4", ev, (64, 48), compression="none")
    a, b, c = ((tmp_path / f"{k}.aedat4").read_bytes() for k in "abc")
    assert a == c and a == b
    assert np.array_equal(sio.read(tmp_path / "b.aedat4").events, ev)


# -- 3. iter_chunks by duration across a corrupt time jump -------------------------------------


def test_duration_chunks_refuse_a_jump_of_many_empty_windows(tmp_path):
    t = np.array([0, 5, 12, 2_000_000 + 3])  # a jump of 200,000 windows of 10 µs
    ev = make_events(t, [1, 2, 3, 4], [0, 0, 0, 0], [1, 0, 1, 0])
    path = tmp_path / "jump.npz"
    sio.write(path, ev, (8, 8))
    with pytest.raises(ss.FormatError, match=r"199998 empty 10 µs windows") as err:
        for _ in sio.iter_chunks(path, duration=10):
            pass
    assert err.value.path == str(path) and "max_empty_windows=None" in str(err.value)
    # allowed explicitly: every window, regular ticks
    chunks = list(sio.iter_chunks(path, duration=10_000, max_empty_windows=None))
    assert len(chunks) == 201 and [len(c) for c in chunks[:2]] == [3, 0] and len(chunks[-1]) == 1
    small = list(sio.iter_chunks(path, duration=10_000, max_empty_windows=199))
    assert len(small) == 201  # 199 empty windows: within the bound


# -- 4. AEDAT 2.0: camera from the chip lines only; sizes that do not fit ----------------------


def aedat2(path, header_lines: list[str], records):
    head = "".join(f"{ln}\r\n" for ln in ["#!AER-DAT2.0", *header_lines]).encode()
    path.write_bytes(head + np.array(records, dtype=">u4").tobytes())
    return len(head)


def test_aedat2_camera_comes_from_the_chip_line_not_the_preferences(tmp_path):
    dvs = (10 << 22) | (20 << 12) | (1 << 11)  # y = 10, x = 20, ON
    lines = [
        "# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C",
        '# <entry key="lastChip" value="eu.seebetter.ini.chips.davis.Davis346B"/>',
        "# preferences mention DAVIS346 and DVS128 too",
    ]
    aedat2(tmp_path / "d.aedat", lines, [(dvs, 5)])
    rec = sio.read(tmp_path / "d.aedat")
    assert rec.metadata["camera"] == "davis240" and rec.sensor_size == (240, 180)
    assert rec.events.tolist() == [(5, 20, 179 - 10, 1)]
    aedat2(tmp_path / "h.aedat", ["# HardwareInterface: DAVIS346 (serial 00000001)"], [(dvs, 5)])
    assert sio.read(tmp_path / "h.aedat").sensor_size == (346, 260)


def test_aedat2_sensor_size_past_16_bits(tmp_path):
    at = aedat2(tmp_path / "s.aedat", ["# HardwareInterface: DVS128"], [(2, 5)])
    head = b"#!AER-DAT2.0\r\n# HardwareInterface: DVS128\r\n"
    (tmp_path / "big.aedat").write_bytes(
        head + b"# sensor_size: 70000x10\r\n" + (tmp_path / "s.aedat").read_bytes()[at:]
    )
    with pytest.raises(ss.FormatError, match="70000") as err:
        sio.read(tmp_path / "big.aedat")
    assert err.value.offset == len(head)
    with pytest.raises(ss.ConfigError, match="65536"):
        sio.read(tmp_path / "s.aedat", sensor_size=(70000, 10))


# -- 5. EVT3 vectors never wrap x into y --------------------------------------------------------


def test_evt3_long_vector_run_never_changes_y(tmp_path):
    words = [0x8000 | 1, 0x0000 | 5, 0x3000 | 0x800 | 0] + [0x4000 | 0xFFF] * 6000
    at = raw_file(tmp_path / "v.raw", ["evt 3.0"], np.array(words, "<u2").tobytes())
    # x would pass 16 bits (and, packed with y, change it): the word that gets there is named
    with pytest.raises(ss.FormatError, match="past 65535") as err:
        sio.read(tmp_path / "v.raw", sensor_size=(65536, 16))
    first_past = (0xFFFF - 12) // 12  # the vector after which the base passes 65523
    assert err.value.offset == at + 2 * (3 + first_past)
    with pytest.raises(ss.FormatError, match="past 65535") as chunked:
        list(sio.iter_chunks(tmp_path / "v.raw", n_events=1000, block_bytes=1000))
    assert chunked.value.offset == err.value.offset
    # a shorter run stays 16-bit: y intact, and the first event past the header's sensor named
    short = [0x8000 | 1, 0x0000 | 5, 0x3000 | 0x800 | 0] + [0x4000 | 0xFFF] * 200
    payload = np.array(short, "<u2").tobytes()
    raw_file(tmp_path / "s.raw", ["evt 3.0"], payload)
    rec = sio.read(tmp_path / "s.raw")
    assert rec.events["x"].tolist() == list(range(2400)) and set(rec.events["y"]) == {5}
    at = raw_file(tmp_path / "g.raw", ["evt 3.0", "geometry 1280x720"], payload)
    with pytest.raises(ss.FormatError, match=r"event 1280 \(t=4096, x=1280, y=5\)") as err:
        sio.read(tmp_path / "g.raw")
    assert err.value.offset == at + 2 * (3 + 1280 // 12)


# -- 6. decoded events always lie inside the reported sensor -----------------------------------


def test_evt2_event_outside_the_declared_geometry_names_its_offset(tmp_path):
    words = [8 << 28, evt2_cd(1, 3, 4), evt2_cd(2, 1436, 4), evt2_cd(3, 5, 4)]
    at = raw_file(tmp_path / "e.raw", ["evt 2.0", "geometry 640x480"], struct.pack("<4I", *words))
    with pytest.raises(ss.FormatError, match=r"event 1 .*x=1436.*640x480.*sensor_size=") as err:
        sio.read(tmp_path / "e.raw")
    assert err.value.offset == at + 8 and err.value.path == str(tmp_path / "e.raw")
    with pytest.raises(ss.FormatError) as chunked:
        list(sio.iter_chunks(tmp_path / "e.raw", n_events=1, block_bytes=4))
    assert chunked.value.offset == at + 8 and "event 1 " in str(chunked.value)
    # the documented override reads it
    rec = sio.read(tmp_path / "e.raw", sensor_size=(1437, 480))
    assert rec.events["x"].tolist() == [3, 1436, 5] and rec.sensor_size == (1437, 480)


def test_events_dropped_by_the_decoder_do_not_count(tmp_path):
    # a CD word before the first TIME_HIGH is dropped (as in OpenEB): outside the sensor is fine
    words = [evt2_cd(0, 500, 500), 8 << 28, evt2_cd(1, 3, 4)]
    raw_file(tmp_path / "d.raw", ["evt 2.0", "geometry 10x10"], struct.pack("<3I", *words))
    assert sio.read(tmp_path / "d.raw").events.tolist() == [(1, 3, 4, 1)]
    # nor in a size inferred from the data
    raw_file(tmp_path / "n.raw", ["evt 2.0"], struct.pack("<3I", *words))
    assert sio.read(tmp_path / "n.raw").sensor_size == (4, 5)
    assert {c.sensor_size for c in sio.iter_chunks(tmp_path / "n.raw")} == {(4, 5)}


WRITABLE = [
    ("evt2", ".raw", {}),
    ("evt3", ".raw", {}),
    ("dat", ".dat", {}),
    ("aedat2", ".aedat", {"layout": "davis"}),
    ("aedat3", ".aedat", {}),
    ("aedat4", ".aedat4", {}),
    ("nmnist", ".bin", {}),
    ("npz", ".npz", {}),
    ("hdf5", ".h5", {}),
    ("text", ".csv", {}),
]


@pytest.mark.parametrize(("fmt", "ext", "opts"), WRITABLE)
def test_every_reader_refuses_events_outside_the_sensor(tmp_path, fmt, ext, opts):
    ev = events(300, size=(100, 90))
    path = tmp_path / f"r{ext}"
    sio.write(path, ev, (100, 90), format=fmt, **opts)
    # AEDAT 2.0 stores y from the bottom: the file's y is checked, before the flip
    y = 89 - ev["y"] if fmt == "aedat2" else ev["y"]
    i = int(np.argmax((ev["x"] >= 50) | (y >= 40)))
    with pytest.raises(ss.FormatError, match=rf"event {i} .*50x40") as err:
        sio.read(path, format=fmt, sensor_size=(50, 40))
    assert err.value.path == str(path)
    with pytest.raises(ss.FormatError, match=rf"event {i} "):
        list(sio.iter_chunks(path, format=fmt, n_events=7, block_bytes=64, sensor_size=(50, 40)))


@pytest.mark.parametrize(("fmt", "ext", "t_offset"), [("dat", ".dat", 8), ("nmnist", ".bin", 5)])
def test_fixed_record_formats_name_the_record(tmp_path, fmt, ext, t_offset):
    ev = events(300, size=(100, 90))
    path = tmp_path / f"r{ext}"
    sio.write(path, ev, (100, 90), format=fmt)
    payload = path.stat().st_size - t_offset * len(ev)
    i = int(np.argmax((ev["x"] >= 50) | (ev["y"] >= 40)))
    with pytest.raises(ss.FormatError) as err:
        sio.read(path, sensor_size=(50, 40))
    assert err.value.offset == payload + t_offset * i


def test_declared_geometry_smaller_than_the_data(tmp_path):
    words = [8 << 28, evt2_cd(1, 3, 4), evt2_cd(2, 12, 4)]
    raw_file(tmp_path / "g.raw", ["evt 2.0", "geometry 10x10"], struct.pack("<3I", *words))
    with pytest.raises(ss.FormatError, match=r"x=12.*10x10 sensor the file declares"):
        sio.read(tmp_path / "g.raw")


def test_chunks_report_the_inferred_size_of_the_whole_file(tmp_path):
    # no size in the file: every chunk carries what `read` infers, not its own maximum
    ev = events(3000, size=(34, 34))
    ev["x"][:2500] %= 10
    path = tmp_path / "n.bin"
    sio.write(path, ev, (34, 34))
    whole = sio.read(path)
    sizes = {c.sensor_size for c in sio.iter_chunks(path, n_events=500, block_bytes=1000)}
    assert sizes == {whole.sensor_size} == {(int(ev["x"].max()) + 1, int(ev["y"].max()) + 1)}
    assert all(c.metadata["sensor_size_inferred"] for c in sio.iter_chunks(path, n_events=500))


def test_aedat4_chunks_report_the_inferred_size_of_the_whole_file(tmp_path):
    ev = events(2000, size=(50, 40))
    ev["x"][:1500] %= 10
    packets = []
    for k in range(0, 2000, 500):
        vec = np.ascontiguousarray(ev[k : k + 500]).tobytes()
        packets.append(lz4.frame.compress(flatbuf.build_struct_vector_packet(b"EVTS", vec, 500)))
    path = tmp_path / "nosize.aedat4"
    aedat4_file(path, packets)  # a description with no streams: no size anywhere
    whole = sio.read(path)
    assert whole.sensor_size == (int(ev["x"].max()) + 1, int(ev["y"].max()) + 1)
    assert {c.sensor_size for c in sio.iter_chunks(path, n_events=300)} == {whole.sensor_size}


# -- 7. RAW t0 past int64 ----------------------------------------------------------------------


@pytest.mark.parametrize("t0", [2**63 - 1, 2**63, 2**64 + 5])
def test_raw_t0_past_int64_names_the_header_line(tmp_path, t0):
    words = [8 << 28, evt2_cd(1, 3, 4)]
    header = ["evt 2.0", "geometry 10x10", f"t0 {t0}"]
    raw_file(tmp_path / "t.raw", header, struct.pack("<2I", *words))
    with pytest.raises(ss.FormatError, match=f"% t0 {t0}") as err:
        sio.read(tmp_path / "t.raw")
    assert err.value.offset == len(b"% evt 2.0\n% geometry 10x10\n")
    with pytest.raises(ss.FormatError, match=f"% t0 {t0}"):
        list(sio.iter_chunks(tmp_path / "t.raw"))


@pytest.mark.parametrize("t0", ["-500", "12x", "1.5", ""])
def test_raw_t0_that_is_not_a_whole_number_names_the_header_line(tmp_path, t0):
    words = [8 << 28, evt2_cd(1, 3, 4)]
    raw_file(
        tmp_path / "t.raw", ["evt 2.0", "geometry 10x10", f"t0 {t0}"], struct.pack("<2I", *words)
    )
    with pytest.raises(ss.FormatError, match="not a whole number") as err:
        sio.read(tmp_path / "t.raw")
    assert err.value.offset == len(b"% evt 2.0\n% geometry 10x10\n")


def test_raw_t0_that_fits_is_added(tmp_path):
    words = [8 << 28, evt2_cd(1, 3, 4)]
    t0 = 2**63 - 2
    header = ["evt 2.0", "geometry 10x10", f"t0 {t0}"]
    raw_file(tmp_path / "t.raw", header, struct.pack("<2I", *words))
    assert sio.read(tmp_path / "t.raw").events["t"].tolist() == [t0 + 1]


# -- 8. AEDAT 3.1 header line without ':' ------------------------------------------------------


def test_aedat3_source_line_without_colon(tmp_path):
    head = b"#!AER-DAT3.1\r\n#Format: RAW\r\n"
    (tmp_path / "s.aedat").write_bytes(head + b"#Source 1 DVS128\r\n#!END-HEADER\r\n")
    with pytest.raises(ss.FormatError, match="no ':'") as err:
        sio.read(tmp_path / "s.aedat")
    assert err.value.offset == len(head)


# -- 9. every format error names the file and a byte offset ------------------------------------


@pytest.mark.parametrize("fmt", ["evt2", "evt3", "dat", "aedat2", "aedat3", "aedat4"])
def test_format_errors_name_file_and_offset_under_mutation(tmp_path, fmt):
    ext = {"evt2": ".raw", "evt3": ".raw", "dat": ".dat", "nmnist": ".bin", "aedat4": ".aedat4"}
    path = tmp_path / f"src{ext.get(fmt, '.aedat')}"
    opts = {"packet_events": 50} if fmt in ("aedat3", "aedat4") else {}
    sio.write(path, events(400, size=(64, 48)), (64, 48), format=fmt, **opts)
    data = path.read_bytes()
    rng = np.random.default_rng(7)
    errors = 0
    for k in range(60):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data), 1 + k % 4):
            mutated[pos] ^= 1 << int(rng.integers(0, 8))
        case = tmp_path / f"m{ext.get(fmt, '.aedat')}"
        case.write_bytes(bytes(mutated))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ss.TruncatedRecordingWarning)
                sio.read(case, format=fmt)
        except ss.FormatError as exc:
            errors += 1
            assert exc.path == str(case) and exc.offset is not None, exc
    assert errors > 0


def test_aedat4_bad_description_and_flatbuffer_name_file_and_offset(tmp_path):
    header = flatbuf.build_ioheader(1, -1, "<dv><unclosed></dv>")
    path = tmp_path / "x.aedat4"
    path.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header)
    with pytest.raises(ss.FormatError, match="not valid XML") as err:
        sio.read(path)
    assert err.value.path == str(path) and err.value.offset == 18
    aedat4_file(path, [lz4.frame.compress(b"\0" * 4)])
    with pytest.raises(ss.FormatError, match="flatbuffer") as err:
        sio.read(path)
    assert err.value.path == str(path) and err.value.offset is not None


# -- 10. missing files -------------------------------------------------------------------------


def test_missing_file_is_a_file_not_found_error(tmp_path):
    missing = tmp_path / "nope.raw"
    for call in (
        lambda: sio.read(missing),
        lambda: sio.read(missing, format="evt3"),
        lambda: list(sio.iter_chunks(missing, format="dat")),
        lambda: sio.detect_format(missing),
    ):
        with pytest.raises(FileNotFoundError) as err:
            call()
        assert isinstance(err.value, MissingFileError | ss.SpikestreamError)
        assert str(missing) in str(err.value) and err.value.filename == str(missing)


# -- 11. text keeps the sensor size ------------------------------------------------------------


def test_text_round_trip_keeps_the_sensor_size(tmp_path):
    ev = events(300, size=(335, 246))
    sio.write(tmp_path / "e.csv", ev, (346, 260))
    assert (tmp_path / "e.csv").read_text().splitlines()[0] == "# sensor_size 346 260"
    rec = sio.read(tmp_path / "e.csv")
    assert rec.sensor_size == (346, 260) and np.array_equal(rec.events, ev)
    assert "sensor_size_inferred" not in rec.metadata
    sio.write(tmp_path / "e.txt", ev, (346, 260), delimiter=" ")
    assert sio.read(tmp_path / "e.txt").sensor_size == (346, 260)


# -- 12. one atomic-write helper ----------------------------------------------------------------


def test_writers_build_under_partial_and_clean_up(tmp_path):
    path = tmp_path / "w.raw"
    with pytest.raises(RuntimeError), sio.open_writer(path, (64, 48), format="evt2") as w:
        w.write(events(50))
        (partial,) = tmp_path.glob("w.raw.*.partial")
        assert partial.stat().st_size > 0 and not path.exists()
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    assert not hasattr(base, "AtomicWriter")


# -- 13. writers refuse times they cannot store, naming the time shift --------------------------


@pytest.mark.parametrize(
    ("fmt", "ext", "t", "bad"),
    [
        ("dat", ".dat", [2**32, 2**32 + 5], 2**32),  # first event past 32 bits
        ("dat", ".dat", [5, 5 + 2**31], 5 + 2**31),  # a step the reader would take for a wrap
        ("aedat2", ".aedat", [0, 2**32], 2**32),
        ("nmnist", ".bin", [0, 2**23], 2**23),
        ("evt2", ".raw", [-5, 0], -5),
        ("evt3", ".raw", [-5, 0], -5),
        ("aedat3", ".aedat", [-5, 0], -5),
    ],
)
def test_writers_refuse_times_out_of_range(tmp_path, fmt, ext, t, bad):
    ev = make_events(t, [1, 2], [1, 2], [0, 1])
    path = tmp_path / f"w{ext}"
    with pytest.raises(ss.FormatError, match="--time-shift") as err:
        sio.write(path, ev, (8, 8), format=fmt)
    assert err.value.path == str(path) and f"t = {bad} µs" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_dat_step_under_2_31_round_trips(tmp_path):
    ev = make_events([5, 5 + 2**31 - 1, 2**33], [1, 2, 3], [1, 2, 3], [0, 1, 1])
    with pytest.raises(ss.FormatError):  # 2^33 - 2^31 is a step of 1.5 * 2^32
        sio.write(tmp_path / "w.dat", ev, (8, 8))
    ok = ev[:2]
    sio.write(tmp_path / "w.dat", ok, (8, 8))
    assert np.array_equal(sio.read(tmp_path / "w.dat").events, ok)


def test_atomic_files_are_unique_per_writer_and_keep_usual_permissions(tmp_path):
    from spikestream.files import atomic_file

    target = tmp_path / "cache.npy"
    with atomic_file(target) as a, atomic_file(target) as b:  # two writers of one cache entry
        a.write(b"first")
        b.write(b"second")
    assert target.read_bytes() == b"first" and list(tmp_path.iterdir()) == [target]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def _unix_socket(path):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "link to a fifo"])
def test_atomic_file_refuses_special_files_and_leaves_them(tmp_path, kind):
    """A FIFO, a device (`/dev/null`: a socket stands in, being special and creatable here) or a
    folder would be renamed over and replaced by a regular file: refused, naming it."""
    import stat

    from spikestream.files import atomic_file

    special = tmp_path / "out.raw"
    keep = None
    if kind in ("fifo", "link to a fifo"):
        os.mkfifo(special)
    elif kind == "socket":
        keep = _unix_socket(special)
    else:
        special.mkdir()
    target = special
    if kind == "link to a fifo":
        target = tmp_path / "link.raw"
        target.symlink_to(special)
    before = special.lstat().st_mode
    with pytest.raises(ss.ConfigError, match="regular file") as err:
        with atomic_file(target) as f:
            f.write(b"data")
    assert str(target) in str(err.value)
    with pytest.raises(ss.ConfigError, match="regular file"):
        sio.write(target, events(5), (64, 48), format="evt2")
    assert special.lstat().st_mode == before and not stat.S_ISREG(before)
    assert not list(tmp_path.glob("*.partial"))
    if keep is not None:
        keep.close()


def test_atomic_file_writes_through_a_symlink(tmp_path):
    from spikestream.files import atomic_file

    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "out.raw"
    real.write_bytes(b"old")
    link = tmp_path / "link.raw"
    link.symlink_to(real)
    with atomic_file(link) as f:
        f.write(b"new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    dangling = tmp_path / "dangling.raw"
    dangling.symlink_to(tmp_path / "real" / "later.raw")  # a link to a file not yet written
    sio.write(dangling, events(5), (64, 48), format="evt2")
    assert dangling.is_symlink() and len(sio.read(tmp_path / "real" / "later.raw")) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.raw", "link.raw", "real"]


# -- review: caller mistakes in writers are ValidationErrors naming the event -------------------


def test_writer_caller_mistakes_are_validation_errors_naming_the_event(tmp_path):
    from spikestream.io.evt21 import encode_evt21

    path = tmp_path / "w.raw"
    with pytest.raises(ss.ValidationError, match=r"event 0 of this chunk \(event 2 of the file\) "
                       r"has t = 5 µs, before .* \(t = 9 µs\)") as err:  # fmt: skip
        with sio.open_writer(path, (8, 8), format="evt2") as w:
            w.write(make_events([1, 9], [1, 2], [1, 2], [0, 1]))
            w.write(make_events([5], [1], [1], [0]))
    assert (err.value.index, err.value.field) == (0, "t") and str(path) in str(err.value)
    assert not isinstance(err.value, ss.FormatError) and not path.exists()
    ev = make_events([1, 2, 3], [3, 300, 4], [1, 2, 250], [0, 1, 1])
    with pytest.raises(ss.ValidationError, match=r"event 1 \(x=300, y=2\) does not fit") as err:
        sio.write(tmp_path / "n.bin", ev, (400, 300))
    assert (err.value.index, err.value.field) == (1, "x")
    with pytest.raises(ss.ValidationError, match=r"event 2 \(x=4, y=250\)") as err:
        sio.write(tmp_path / "n.bin", ev[[0, 2]][[0, 0, 1]], (400, 300))
    assert (err.value.index, err.value.field) == (2, "y")
    with pytest.raises(ss.ValidationError, match="t = -5 µs") as err:
        encode_evt21(np.array([-5, 0]), np.array([1, 2]), np.array([1, 2]), np.array([0, 1]))
    assert (err.value.index, err.value.field) == (0, "t")
