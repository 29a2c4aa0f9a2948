"""Hostile and broken input: every reader raises a FormatError naming the file (and byte offset
where there is one) or returns the complete records with a warning; never a crash or a hang."""

from __future__ import annotations

import os
import struct
import tempfile
import warnings
from pathlib import Path

import lz4.frame
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikestream as ss
import spikestream.io as sio
from spikestream.events import make_events
from spikestream.io import flatbuf

from .conftest import ALL_FORMATS

WRITABLE = [
    ("evt2", ".raw", {}),
    ("evt3", ".raw", {}),
    ("dat", ".dat", {}),
    ("aedat2", ".aedat", {}),
    ("aedat3", ".aedat", {"packet_events": 16}),
    ("aedat4", ".aedat4", {"packet_events": 16}),
    ("nmnist", ".bin", {}),
    ("npz", ".npz", {}),
    ("hdf5", ".h5", {}),
    ("text", ".csv", {}),
]


def small_events(n=60):
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, 100_000, n))
    return make_events(t, rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n))


def read_or_error(path, fmt):
    """Read; a SpikestreamError is an acceptable outcome. Returns the events or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ss.TruncatedRecordingWarning)
        try:
            return sio.read(path, format=fmt).events
        except ss.SpikestreamError as exc:
            assert str(path) in str(exc) or isinstance(exc, ss.ConfigError), exc
            return None


@pytest.mark.parametrize(("fmt", "ext", "opts"), WRITABLE)
def test_truncated_at_any_byte(tmp_path, fmt, ext, opts):
    ev = small_events()
    full = tmp_path / f"full{ext}"
    sio.write(full, ev, (34, 34), format=fmt, **opts)
    data = full.read_bytes()
    cut = tmp_path / f"cut{ext}"
    # every byte of the first 400 (headers), then about 300 cut points spread over the rest
    lengths = sorted(
        set(range(min(400, len(data)))) | set(np.linspace(0, len(data) - 1, 300, dtype=int))
    )
    for length in lengths:
        cut.write_bytes(data[:length])
        got = read_or_error(cut, fmt)
        if got is not None:
            # whatever is returned is a prefix of the true events: nothing invented, nothing lost
            assert np.array_equal(got, ev[: len(got)]), (fmt, length)


@pytest.mark.parametrize("fmt", ["evt3", "dat", "nmnist", "aedat2", "aedat3", "aedat4"])
def test_truncation_warns_with_complete_records(tmp_path, fmt):
    ev = small_events()
    ext = dict((f, e) for f, e, _ in WRITABLE)[fmt]
    path = tmp_path / f"x{ext}"
    sio.write(path, ev, (34, 34), format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.warns(ss.TruncatedRecordingWarning, match=str(path)):
        got = sio.read(path, format=fmt).events
    assert 0 < len(got) < len(ev) or fmt == "aedat4"
    assert np.array_equal(got, ev[: len(got)])


def test_wrong_magic_and_headers(tmp_path):
    cases = {
        "aedat4": b"#!AER-DAT4.1\r\n" + b"\0" * 64,
        "aedat3": b"#!AER-DAT2.0\r\n#!END-HEADER\r\n",
        "aedat2": b"#!AER-DAT3.1\r\n",
        "dat": b"% Data file containing CD events\n\x0e\x08" + b"\0" * 16,
    }
    for fmt, data in cases.items():
        path = tmp_path / f"bad.{fmt}"
        path.write_bytes(data)
        with pytest.raises(ss.FormatError) as err:
            sio.read(path, format=fmt)
        assert str(path) in str(err.value)
    (tmp_path / "noise.xyz").write_bytes(b"\x01\x02\x03")
    with pytest.raises(ss.UnknownFormatError, match="unrecognised"):
        sio.read(tmp_path / "noise.xyz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        sio.read(tmp_path / "missing.raw")


def test_dat_wrong_event_size_names_offset(tmp_path):
    header = b"% Data file containing CD events\n% Version 2\n"
    (tmp_path / "s.dat").write_bytes(header + b"\x0c\x10" + b"\0" * 16)
    with pytest.raises(ss.FormatError, match=r"byte 46: event size 16"):
        sio.read(tmp_path / "s.dat")


def aedat4_file(path, packets: list[bytes], compression=1, header_len=None):
    header = flatbuf.build_ioheader(compression, -1, '<dv version="2.0"></dv>')
    length = len(header) if header_len is None else header_len
    body = b"".join(struct.pack("<ii", 0, len(p)) + p for p in packets)
    path.write_bytes(b"#!AER-DAT4.0\r\n" + struct.pack("<I", length) + header + body)


def test_aedat4_absurd_sizes_and_corrupt_packets(tmp_path):
    path = tmp_path / "a.aedat4"
    aedat4_file(path, [], header_len=2**31)
    with pytest.raises(ss.FormatError, match="IOHeader claims"):
        sio.read(path)
    aedat4_file(path, [b"not an lz4 frame at all"])
    with pytest.raises(ss.FormatError, match=r"byte \d+: corrupt compressed packet"):
        sio.read(path)
    # a packet that decompresses to 64 MiB of zeros: refused past the limit, no huge allocation
    bomb = lz4.frame.compress(b"\0" * (64 << 20))
    aedat4_file(path, [bomb])
    with pytest.raises(ss.FormatError, match="limit"):
        sio.read(path, max_packet_bytes=1 << 20)
    # a packet whose flatbuffer vector claims more elements than it holds
    packet = flatbuf.build_struct_vector_packet(b"EVTS", b"\0" * 32, 2)
    lying = bytearray(packet)
    struct.pack_into("<I", lying, 28, 10**6)
    aedat4_file(path, [lz4.frame.compress(bytes(lying))])
    with pytest.raises(ss.FormatError, match="outside"):
        sio.read(path)
    # negative packet size
    path.write_bytes(
        path.read_bytes()[: -len(lz4.frame.compress(bytes(lying))) - 8] + struct.pack("<ii", 0, -5)
    )
    with pytest.raises(ss.FormatError, match="negative size"):
        sio.read(path)


def test_aedat4_refuses_xml_entities(tmp_path):
    xml = '<!DOCTYPE x [<!ENTITY a "aaaa">]><dv>&a;</dv>'
    header = flatbuf.build_ioheader(1, -1, xml)
    (tmp_path / "e.aedat4").write_bytes(
        b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header
    )
    with pytest.raises(ss.FormatError, match="ENTITY"):
        sio.read(tmp_path / "e.aedat4")


def test_aedat3_absurd_packet_headers(tmp_path):
    head = b"#!AER-DAT3.1\r\n#!END-HEADER\r\n"
    zero_size = struct.pack("<hhiiiiii", 1, 1, 0, 4, 0, 10, 10, 10)
    (tmp_path / "z.aedat").write_bytes(head + zero_size)
    with pytest.raises(ss.FormatError, match=r"byte 28: packet header with an event size"):
        sio.read(tmp_path / "z.aedat")
    inconsistent = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, 5, 10, 10)
    (tmp_path / "i.aedat").write_bytes(head + inconsistent)
    with pytest.raises(ss.FormatError, match="inconsistent"):
        sio.read(tmp_path / "i.aedat")
    # a capacity of 2^31 - 1 events in a tiny file: a truncated packet, not a 16 GB allocation
    huge = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, 2**31 - 1, 2**31 - 1, 1) + struct.pack(
        "<Ii", 1, 5
    )
    (tmp_path / "h.aedat").write_bytes(head + huge)
    with pytest.warns(ss.TruncatedRecordingWarning):
        rec = sio.read(tmp_path / "h.aedat")
    assert rec.events.tolist() == [(5, 0, 0, 0)]


READERS = ALL_FORMATS
PREFIXES = {
    "aedat2": b"#!AER-DAT2.0\r\n",
    "aedat3": b"#!AER-DAT3.1\r\n#!END-HEADER\r\n",
    "aedat4": b"#!AER-DAT4.0\r\n",
    "evt2": b"% evt 2.0\n",
    "evt21": b"% evt 2.1\n",
    "evt3": b"% evt 3.0\n",
    "dat": b"% Data file containing CD events\n\x0c\x08",
    "npz": b"PK\x03\x04",
    "hdf5": b"\x89HDF\r\n\x1a\n",
    "mat": b"MATLAB 5.0 MAT-file",
}


@settings(
    max_examples=int(os.environ.get("SPIKESTREAM_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from(READERS), st.binary(max_size=600), st.booleans())
def test_fuzz_every_reader(fmt, payload, with_prefix):
    """Random bytes, with or without the format's magic: a Recording or a SpikestreamError."""
    data = (PREFIXES.get(fmt, b"") if with_prefix else b"") + payload
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz.{fmt}"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rec = sio.read(path, format=fmt)
            except ss.SpikestreamError:
                return
            try:
                chunks = list(sio.iter_chunks(path, format=fmt, n_events=7, block_bytes=64))
            except ss.SpikestreamError:
                return
    assert rec.events.dtype == ss.EVENT_DTYPE
    joined = np.concatenate([c.events for c in chunks]) if chunks else rec.events[:0]
    assert np.array_equal(joined, rec.events)
