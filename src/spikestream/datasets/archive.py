"""Fetching, checksums and safe extraction of dataset archives.

Every step is atomic: a download goes to ``<file>.partial`` (kept for resuming when the transfer
breaks, removed when its checksum is wrong) and an extraction to ``<folder>.partial``
(`spikestream.files.atomic_dir`), renamed into place only when complete, so an interrupted run
never leaves something that looks finished.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import cast

from ..errors import ChecksumError, DatasetError, SpikestreamError, UnsafeArchiveError
from ..files import atomic_dir, build_lock, partial_path

CHUNK = 1 << 20
# what Python's zipfile can decompress; anything else (Deflate64, PPMd, ...) is refused up front
ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}


def _isal_errors() -> tuple[type[BaseException], ...]:
    """ISA-L's deflate error (a plain Exception, not a zlib.error)."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a dependency
        return ()
    # its stub declares the class as an instance
    return (cast("type[BaseException]", isal_zlib.error),)


# what a damaged compressed stream raises while it is read (zlib.error and LZMAError are not
# OSErrors; zipfile raises NotImplementedError/RuntimeError for what it cannot read)
CORRUPT: tuple[type[BaseException], ...] = (
    *_isal_errors(),
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
)


# room kept free beyond an archive's declared size when extracting
DISK_MARGIN = 64 << 20


def md5sum(path: str | os.PathLike) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(CHUNK * 8):
            digest.update(block)
    return digest.hexdigest()


def check_md5(path: Path, md5: str | None, verify: bool = True) -> None:
    """Raise `ChecksumError` when ``path``'s MD5 differs from ``md5``. ``verify=False`` (for
    archives a user re-packed or trimmed) turns the error into a warning."""
    if md5 is None:
        return
    actual = md5sum(path)
    if actual.lower() == md5.lower():
        return
    message = f"{path}: MD5 {actual}, expected {md5}"
    if verify:
        raise ChecksumError(
            message + ". The file is corrupt or incomplete: delete it and fetch it again; if you "
            "re-packed or trimmed it yourself, pass verify=False (CLI: --no-verify)"
        )
    warnings.warn(message + " (not verified, as asked)", stacklevel=2)


def _is_local(url: str) -> bool:
    return urllib.parse.urlparse(url).scheme in ("", "file")


def fetch(url: str, dest: Path, md5: str | None = None, verify: bool = True) -> Path:
    """Bring ``url`` (http(s), ``file://`` or a local path) to ``dest``, resuming an earlier
    partial transfer where the server allows ranges, and check its MD5 before it takes its
    final name."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # not files.atomic_file: that removes the partial file on any error, and a broken transfer
    # keeps it here so that the next run resumes with an HTTP range request
    partial = partial_path(dest)
    if _is_local(url):
        source = Path(urllib.parse.urlparse(url).path if url.startswith("file:") else url)
        if not source.is_file():
            raise DatasetError(f"{source}: no such file to fetch")
        shutil.copyfile(source, partial)
    else:
        _download(url, partial)
    try:
        check_md5(partial, md5, verify)
    except ChecksumError:
        partial.unlink()
        raise
    os.replace(partial, dest)
    return dest


def _download(url: str, partial: Path) -> None:
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "spikestream"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the partial file is already whole
            return
        raise DatasetError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DatasetError(f"{url}: {exc}") from exc
    with response:
        resumed = response.status == 206
        total = response.headers.get("Content-Length")
        total_bytes = int(total) + (have if resumed else 0) if total else None
        from tqdm import tqdm

        with (
            open(partial, "ab" if resumed else "wb") as out,
            tqdm(
                total=total_bytes,
                initial=have if resumed else 0,
                unit="B",
                unit_scale=True,
                desc=partial.name[: -len(".partial")],
                disable=None,
            ) as bar,
        ):
            try:
                while block := response.read(CHUNK):
                    out.write(block)
                    bar.update(len(block))
            except OSError as exc:  # the .partial file stays for the next attempt to resume
                raise DatasetError(
                    f"{url}: transfer broke off ({exc}); run again to resume"
                ) from exc


# ------------------------------------------------------------------------------ extraction


def _check_name(archive: Path, name: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} points outside the extraction folder")


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> int:
    """Check every member before anything is written; return the bytes they unpack to."""
    total = 0
    for info in zf.infolist():
        _check_name(archive, info.filename)
        # the file type bits of a Unix mode; 0 (no type: MS-DOS zips, Python's writestr) is a
        # plain file or, with a trailing '/', a folder
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a link or device")
        if info.flag_bits & 0x1:
            raise DatasetError(
                f"{archive}: member {info.filename!r} is encrypted; spikestream extracts no "
                "encrypted archives: decrypt it (e.g. unzip -P) and re-pack it without a password"
            )
        if info.compress_type not in ZIP_METHODS:
            raise DatasetError(
                f"{archive}: member {info.filename!r} uses zip compression method "
                f"{info.compress_type}, which Python's zipfile cannot read (it reads "
                f"{', '.join(ZIP_METHODS.values())}): re-pack the archive with one of those"
            )
        total += info.file_size
    return total


def _check_tar_member(archive: Path, member: tarfile.TarInfo) -> None:
    _check_name(archive, member.name)
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a link or device")


def _open_compressed(archive: Path) -> io.BufferedIOBase:
    """The archive's decompressed byte stream, read once: gzip by ISA-L when it is installed
    (about 3x zlib's speed), bzip2 and xz by the standard library. Each of these readers checks
    the stream's CRC and length when it reaches the end (tarfile's own gzip reader checks
    neither), which is why the whole stream is read to its end (`_drain`)."""
    with open(archive, "rb") as f:
        magic = f.read(6)
    if magic[:2] == b"\x1f\x8b":
        try:
            from isal import igzip

            return igzip.open(archive, "rb")
        except ImportError:
            return gzip.open(archive, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(archive, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(archive, "rb")
    return open(archive, "rb")


def _drain(stream: io.BufferedIOBase) -> None:
    """Read to the end of the stream, so the decompressor checks its CRC and length: a tar
    reader stops at the end-of-archive blocks and may leave the trailer unread."""
    while stream.read(CHUNK):
        pass


def _check_space(archive: Path, folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed + DISK_MARGIN > free:
        raise DatasetError(
            f"{archive}: extracting needs {needed / 1e9:.2f} GB, {free / 1e9:.2f} GB free in "
            f"{folder}"
        )


def extract(archive: Path, dest: Path, md5: str | None = None, verify: bool = True) -> Path:
    """Extract a zip or tar(.gz/.bz2/.xz) archive into the folder ``dest`` (kept as is when it
    exists: extraction is complete once the folder has its final name). Members with absolute
    paths, ``..``, links or device files are refused (a zip's before anything is written, a
    tar's as the single pass reaches them, the partial folder then being removed); so are
    encrypted zip members and compression methods Python cannot read. Each member must fit on
    the disk, and a compressed stream must end with its CRC and length intact. ``md5`` is
    checked in a parallel thread while extracting."""
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    with build_lock(dest):
        if not dest.is_dir():  # another process may have finished it meanwhile
            _extract(archive, dest, md5, verify)
    return dest


def _extract_zip(archive: Path, dest: Path, partial: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        _check_space(archive, dest.parent, _zip_members(archive, zf))
        for info in zf.infolist():  # sizes and CRCs are enforced by zipfile while reading
            target = partial / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
            except CORRUPT as exc:
                if isinstance(exc, OSError) and exc.errno is not None:
                    raise  # a real I/O error of the disk we write to, not a corrupt member
                raise DatasetError(
                    f"{archive}: member {info.filename!r} is corrupt ({type(exc).__name__}: "
                    f"{exc}); fetch the archive again"
                ) from exc


def _extract_tar(archive: Path, partial: Path) -> None:
    with _open_compressed(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tf:
        for member in tf:
            _check_tar_member(archive, member)
            _check_space(archive, partial, member.size)
            # checked above; the "data" filter refuses the same things again
            tf.extract(member, partial, filter="data")
        _drain(stream)


def _extract(archive: Path, dest: Path, md5: str | None, verify: bool) -> None:
    checksum: dict[str, BaseException | None] = {}

    def check() -> None:
        try:
            check_md5(archive, md5, verify)
            checksum["error"] = None
        except BaseException as exc:  # re-raised in the calling thread
            checksum["error"] = exc

    checker = threading.Thread(target=check, daemon=True)
    checker.start()
    try:
        # the folder takes its name only when every member is out and every check passed
        with atomic_dir(dest) as partial:
            if zipfile.is_zipfile(archive):
                _extract_zip(archive, dest, partial)
            elif tarfile.is_tarfile(archive):
                _extract_tar(archive, partial)
            else:
                raise DatasetError(f"{archive}: neither a zip nor a tar archive")
            checker.join()
            if checksum["error"] is not None:
                raise checksum["error"]
    except SpikestreamError:
        raise
    except OSError as exc:
        if exc.errno is not None:  # the disk we write to, not the archive's content
            raise DatasetError(f"{archive}: extracting into {dest.parent} failed ({exc})") from exc
        raise DatasetError(
            f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc}); fetch it again"
        ) from exc
    except CORRUPT as exc:
        raise DatasetError(
            f"{archive}: corrupt or truncated archive ({type(exc).__name__}: {exc}); fetch it again"
        ) from exc
    finally:
        checker.join()
