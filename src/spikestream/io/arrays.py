"""Array container formats: SpikingJelly ``events_np`` ``.npz``, HDF5 (Prophesee ``CD/events``
and plain t/x/y/p layouts), ASL-DVS ``.mat`` and CSV/TXT (one ``t x y p`` event per line).

These hold whole arrays rather than a byte stream, so each is read in one vectorised step and
converted with `spikestream.events.make_events` (one place for dtype and polarity rules).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ConfigError, FormatError, ValidationError
from ..events import EVENT_DTYPE, Recording, make_events
from .base import EventFormat, EventWriter, PathLike, resolve_sensor_size

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _recording(fmt: EventFormat, path, arrays, size, metadata, opts, size_at=None) -> Recording:
    """Containers of whole arrays have no byte offset per event: errors name the file (and
    the header line of a declared size, ``size_at``, where there is one)."""
    try:
        events = make_events(*arrays, t_scale=opts.get("t_scale"), sort=opts.get("sort", False))
    except ValidationError as exc:
        raise FormatError(f"bad event values: {exc}", path=path) from exc
    size = resolve_sensor_size(
        events, size, opts.get("sensor_size"), metadata, path=path, declared_at=size_at
    )
    return Recording(events, size, fmt.format_id, metadata)


class _ArrayFormat(EventFormat):
    def iter_blocks(
        self, path: PathLike, *, block_events: int = 1 << 20, **options: Any
    ) -> Iterator[Recording]:
        options.pop("block_bytes", None)
        rec = self.read(path, **options)
        for start in range(0, len(rec), block_events):
            yield rec.count_window(start, block_events)


class NpzFormat(_ArrayFormat):
    """SpikingJelly's ``events_np`` sample: ``np.savez(t=, x=, y=, p=)``. A ``sensor_size``
    key (W, H), written by spikestream, is used when present; SpikingJelly ignores it."""

    format_id = "npz"
    extensions = (".npz",)
    description = "SpikingJelly events_np .npz (t, x, y, p)"
    read_options = {"sensor_size": None, "t_scale": None, "sort": False}
    write_options = {"compressed": False, "dtype": None}

    def read(self, path, **options):
        opts = self._options(options, self.read_options)
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in "txyp" if k not in z.files]
                if missing:
                    raise FormatError(f"npz has no key(s) {missing}; keys: {z.files}", path=path)
                arrays = [z[k] for k in "txyp"]
                size = tuple(z["sensor_size"].tolist()) if "sensor_size" in z.files else None
        except FormatError:
            raise
        except Exception as exc:  # numpy/zipfile raise many types on hostile archives
            raise FormatError(f"not a readable .npz: {exc}", path=path) from exc
        return _recording(self, path, arrays, size, {}, opts)


class NpzWriter(EventWriter):
    """A zip of whole arrays cannot be appended to: chunks are gathered and saved on close."""

    def _begin(self):
        self._parts: list[np.ndarray] = []

    def _encode(self, events):
        self._parts.append(events.copy())

    def _end(self):
        events = np.concatenate(self._parts) if self._parts else np.zeros(0, EVENT_DTYPE)
        dtype = self.options["dtype"]
        arrays: dict[str, Any] = {
            k: events[k].astype(dtype) if dtype else events[k].copy() for k in "txyp"
        }
        save = np.savez_compressed if self.options["compressed"] else np.savez
        save(self.file, **arrays, sensor_size=np.asarray(self.sensor_size, dtype=np.int64))


NpzFormat.writer = NpzWriter


class Hdf5Format(_ArrayFormat):
    """HDF5 in the Prophesee layout (``/CD/events`` compound x, y, p, t; ``geometry`` attribute)
    or a plain layout (``t``, ``x``, ``y``, ``p`` datasets at the root or under ``/events``,
    ``width``/``height`` attributes)."""

    format_id = "hdf5"
    extensions = (".h5", ".hdf5")
    description = "HDF5: Prophesee CD/events or plain t/x/y/p datasets"
    read_options = {"sensor_size": None, "t_scale": None, "sort": False}
    write_options = {"layout": "plain", "compression": None}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(HDF5_MAGIC)

    def read(self, path, **options):
        import h5py

        opts = self._options(options, self.read_options)
        try:
            with h5py.File(path, "r") as h:
                size = _hdf5_size(h)
                meta: dict[str, Any] = {"attrs": {k: _plain(v) for k, v in h.attrs.items()}}
                if "CD" in h and "events" in h["CD"]:
                    ds = h["CD/events"]
                    try:
                        data = ds[()]
                    except OSError as exc:
                        raise FormatError(
                            "cannot decompress CD/events (Prophesee ECF files need the ECF "
                            f"HDF5 plugin, e.g. `pip install hdf5plugin`): {exc}",
                            path=path,
                        ) from exc
                    arrays = [data[k] for k in "txyp"]
                    meta["layout"] = "prophesee"
                else:
                    group = (
                        h["events"] if "events" in h and isinstance(h["events"], h5py.Group) else h
                    )
                    missing = [k for k in "txyp" if k not in group]
                    if missing:
                        raise FormatError(
                            f"no Prophesee CD/events and no t/x/y/p datasets (missing {missing})",
                            path=path,
                        )
                    arrays = [group[k][()] for k in "txyp"]
                    meta["layout"] = "plain"
        except FormatError:
            raise
        except Exception as exc:  # h5py raises OSError, KeyError, TypeError... on hostile files
            raise FormatError(f"not a readable HDF5 file: {exc}", path=path) from exc
        return _recording(self, path, arrays, size, meta, opts)


_PROPHESEE_CD = np.dtype(
    {
        "names": ["x", "y", "p", "t"],
        "formats": ["<u2", "<u2", "<i2", "<i8"],
        "offsets": [0, 2, 4, 8],
        "itemsize": 16,
    }
)


class Hdf5Writer(EventWriter):
    """Appends each chunk to resizable datasets."""

    def _begin(self):
        import h5py

        layout = self.options["layout"]
        if layout not in ("plain", "prophesee"):
            raise ConfigError("HDF5 layout must be 'plain' or 'prophesee'")
        self._h5 = h5py.File(self.file, "w")
        w, h = self.sensor_size
        kw = {"maxshape": (None,), "chunks": (1 << 14,), "compression": self.options["compression"]}
        if layout == "prophesee":
            self._sets = {"": self._h5.create_dataset("CD/events", (0,), _PROPHESEE_CD, **kw)}
            self._h5.attrs["geometry"] = f"{w}x{h}"
            self._h5.attrs["version"] = "1.0"
        else:
            self._sets = {
                k: self._h5.create_dataset(f"events/{k}", (0,), EVENT_DTYPE[k], **kw)
                for k in "txyp"
            }
            self._h5.attrs["width"], self._h5.attrs["height"] = w, h

    def _encode(self, events):
        n0, n = self.count, len(events)
        if "" in self._sets:
            ds = self._sets[""]
            cd = np.empty(n, dtype=_PROPHESEE_CD)
            for k in "txyp":
                cd[k] = events[k]
            ds.resize((n0 + n,))
            ds[n0:] = cd
            return
        for k, ds in self._sets.items():
            ds.resize((n0 + n,))
            ds[n0:] = events[k]

    def _end(self):
        self._h5.close()

    def abort(self):
        if hasattr(self, "_h5"):
            self._h5.close()
        super().abort()


Hdf5Format.writer = Hdf5Writer


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value.tolist() if hasattr(value, "tolist") else value


def _hdf5_size(h: Any) -> tuple[int, int] | None:
    attrs = h.attrs
    if "geometry" in attrs:
        text = _plain(attrs["geometry"])
        parts = str(text).lower().split("x")
        if len(parts) == 2 and all(s.strip().isdecimal() for s in parts):
            return int(parts[0]), int(parts[1])
    if "width" in attrs and "height" in attrs:
        return int(attrs["width"]), int(attrs["height"])
    return None


class MatFormat(_ArrayFormat):
    """ASL-DVS ``.mat`` (keys ``ts``, ``x``, ``y``, ``pol``; MATLAB v5 or v7.3/HDF5). Values are
    returned as stored; the dataset's own coordinate transform belongs to the dataset class."""

    format_id = "mat"
    extensions = (".mat",)
    description = "ASL-DVS MATLAB .mat (ts, x, y, pol)"
    read_options = {"sensor_size": (240, 180), "t_scale": None, "sort": False}

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"MATLAB 5.0 MAT-file")

    def read(self, path, **options):
        opts = self._options(options, self.read_options)
        keys = ("ts", "x", "y", "pol")
        with open(path, "rb") as f:
            head = f.read(520)
        try:
            if head[512:520] == HDF5_MAGIC:  # MATLAB v7.3 files are HDF5 with a 512-byte preamble
                import h5py

                with h5py.File(path, "r") as h:
                    arrays = [np.asarray(h[k][()]).ravel() for k in keys]
            else:
                import scipy.io

                mat = scipy.io.loadmat(path, variable_names=keys)
                arrays = [np.asarray(mat[k]).ravel() for k in keys]
        except KeyError as exc:
            raise FormatError(f"missing key {exc} (expected {keys})", path=path) from exc
        except Exception as exc:  # scipy's MAT parser raises many types on hostile files
            raise FormatError(f"not a readable .mat file: {exc}", path=path) from exc
        return _recording(self, path, arrays, None, {"keys": keys}, opts)


_TEXT_SIZE = re.compile(rb"^#\s*sensor_size[\s:=]+(\d+)\s*[x, ]\s*(\d+)\s*$", re.M)


class TextFormat(_ArrayFormat):
    """CSV or whitespace-separated text, one event per line, columns ``t x y p`` (``columns``
    reorders them). Lines starting with ``#`` are comments; a ``# sensor_size W H`` comment
    (written by spikestream) gives the sensor size. Times with a decimal point are taken as
    seconds (the RPG/ECD ``events.txt`` convention) unless ``t_scale`` says otherwise."""

    format_id = "text"
    extensions = (".csv", ".txt")
    description = "CSV/TXT, one 't x y p' event per line"
    read_options = {"sensor_size": None, "t_scale": None, "sort": False, "columns": "txyp"}
    write_options = {"delimiter": ","}

    def read(self, path, **options):
        opts = self._options(options, self.read_options)
        columns = opts["columns"]
        if sorted(columns) != sorted("txyp"):
            raise ConfigError(f"columns must be a permutation of 'txyp', got {columns!r}")
        with open(path, "rb") as f:
            sample = f.read(4096)
        size, size_at = None, None
        if m := _TEXT_SIZE.search(sample):
            size, size_at = (int(m[1]), int(m[2])), m.start()
        data_sample = b"\n".join(ln for ln in sample.splitlines() if not ln.startswith(b"#"))
        delimiter = "," if b"," in data_sample else None
        try:
            with warnings.catch_warnings():  # an empty file is an empty recording, not a warning
                warnings.simplefilter("ignore", UserWarning)
                table = np.loadtxt(path, delimiter=delimiter, comments="#", ndmin=2, dtype=str)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormatError(f"not a table of numbers: {exc}", path=path) from exc
        if table.size == 0:
            table = np.zeros((0, 4), dtype=str)
        if table.shape[1] < 4:
            raise FormatError(f"expected 4 columns (t x y p), found {table.shape[1]}", path=path)
        t_text = table[:, columns.index("t")]
        try:
            if opts["t_scale"] is None and np.char.find(t_text, ".").max(initial=-1) >= 0:
                opts["t_scale"] = 1e6
            t = t_text.astype(np.float64 if opts["t_scale"] else np.int64)
            xyp = [table[:, columns.index(k)].astype(np.float64) for k in "xyp"]
        except ValueError as exc:
            raise FormatError(f"not a table of numbers: {exc}", path=path) from exc
        return _recording(self, path, [t, *xyp], size, {}, opts, size_at)


class TextWriter(EventWriter):
    def _begin(self):
        w, h = self.sensor_size
        self.file.write(f"# sensor_size {w} {h}\n".encode())

    def _encode(self, events):
        cols = np.stack([events[k].astype(np.int64) for k in "txyp"], axis=1)
        np.savetxt(self.file, cols, fmt="%d", delimiter=self.options["delimiter"])


TextFormat.writer = TextWriter
