"""Fetching, checksums and safe extraction of dataset archives.

Every step is atomic: a download goes to ``<file>.partial`` (kept for resuming when the transfer
breaks, removed when its checksum is wrong) and an extraction to ``<folder>.partial``, renamed
into place only when complete, so an interrupted run never leaves something that looks finished.
"""

from __future__ import annotations

import contextlib
import hashlib
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
from collections.abc import Iterator
from pathlib import Path

from ..errors import ChecksumError, DatasetError, SpikestreamError, UnsafeArchiveError

CHUNK = 1 << 20


@contextlib.contextmanager
def exclusive(target: Path) -> Iterator[None]:
    """Hold ``<target>.lock`` while building ``target``, so that processes preparing the same
    dataset at once (every rank of a distributed job, say) build it once: the others wait, then
    find it complete. The lock file stays (removing it would race). No-op where ``fcntl`` is
    missing (Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    partial = dest.with_name(dest.name + ".partial")
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
    total = 0
    for info in zf.infolist():
        _check_name(archive, info.filename)
        mode = info.external_attr >> 16
        if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a link or device")
        total += info.file_size
    return total


def _check_tar_member(archive: Path, member: tarfile.TarInfo) -> None:
    _check_name(archive, member.name)
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a link or device")


def _open_tar(archive: Path) -> tarfile.TarFile:
    """A one-pass (streaming) reader: a compressed tar is decompressed once, by ISA-L when it
    is installed (about 3x zlib's speed on gzip)."""
    with open(archive, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if gz:
        try:
            from isal import igzip

            return tarfile.open(fileobj=igzip.open(archive, "rb"), mode="r|")
        except ImportError:
            pass
    return tarfile.open(archive, mode="r|*")


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
    tar's as the single pass reaches them, the partial folder then being removed); each member
    must fit on the disk. ``md5`` is checked in a parallel thread while extracting."""
    archive, dest = Path(archive), Path(dest)
    if dest.is_dir():
        return dest
    with exclusive(dest):
        if not dest.is_dir():  # another process may have finished it meanwhile
            _extract(archive, dest, md5, verify)
    return dest


def _extract(archive: Path, dest: Path, md5: str | None, verify: bool) -> None:
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
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
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_space(archive, dest.parent, _zip_members(archive, zf))
                partial.mkdir()
                for info in zf.infolist():  # sizes are enforced by zipfile while reading
                    target = partial / info.filename
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, CHUNK)
        elif tarfile.is_tarfile(archive):
            partial.mkdir()
            with _open_tar(archive) as tf:
                for member in tf:
                    _check_tar_member(archive, member)
                    _check_space(archive, partial, member.size)
                    # checked above; the "data" filter refuses the same things again
                    tf.extract(member, partial, filter="data")
        else:
            raise DatasetError(f"{archive}: neither a zip nor a tar archive")
        checker.join()
        if checksum["error"] is not None:
            raise checksum["error"]
    except SpikestreamError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise DatasetError(f"{archive}: corrupt or truncated archive ({exc})") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        checker.join()
    os.replace(partial, dest)
