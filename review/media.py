"""The review media folder: the only files Label Studio may serve, and nothing else.

Layout (``root`` is Label Studio's local-files document root)::

    root/
      .mmrakit-media     marker: this folder belongs to mmrakit (never served: no storage covers root itself)
      .lock              serialises adding and collecting across processes
      images/            the one local storage: <sha256><ext> regular files, exactly the pushed tasks' images

Files are hard links to the catalogued image where the filesystem allows, copies otherwise; every
file is checked against its catalogue sha256 before it goes in, so the folder only ever holds bytes
that are a catalogued image. Label Studio follows symlinks when it serves, so none is ever placed
here and any found is removed. Task URLs are ``/data/local-files/?d=images/<name>``: relative to the
document root, no path of the machine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mmrakit import atomic
from mmrakit.errors import ConfigError, InputError
from mmrakit.models import ImageRecord

MARKER = ".mmrakit-media"
LOCK = ".lock"
IMAGES = "images"
URL_PREFIX = "/data/local-files/?d="
NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}$")
# PIL format names -> the extension Label Studio's mimetypes lookup turns into the right content type
FORMAT_EXT = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp",
              "TIFF": ".tiff", "AVIF": ".avif"}
KNOWN_EXT = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif"}


def file_name(record: ImageRecord, source: Path | None = None) -> str:
    ext = FORMAT_EXT.get((record.format or "").upper())
    if ext is None and source is not None and source.suffix.lower() in KNOWN_EXT:
        ext = source.suffix.lower()
    return record.sha256 + (ext or ".img")


def name_from_url(url: object) -> str | None:
    """The media file name a task URL points at (None for anything that is not one of ours)."""
    if not isinstance(url, str) or not url.startswith(URL_PREFIX):
        return None
    d = (parse_qs(urlsplit(url).query).get("d") or [""])[0]
    folder, _, name = d.partition("/")
    return name if folder == IMAGES and NAME.match(name) else None


class MediaFolder:
    """One media folder. ``open`` refuses a folder that holds anything mmrakit did not put there."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.images = self.root / IMAGES

    @classmethod
    def open(cls, root: Path, *, create: bool = True) -> "MediaFolder":
        m = cls(root)
        if (m.root / MARKER).is_file():
            m.images.mkdir(exist_ok=True)
            return m
        if m.root.exists():
            if not m.root.is_dir():
                raise ConfigError(f"review media folder {m.root} is not a directory")
            others = sorted(p.name for p in m.root.iterdir())
            if others:
                raise ConfigError(
                    f"{m.root} is not an mmrakit review media folder: it already holds {', '.join(others[:5])}"
                    f"{' …' if len(others) > 5 else ''}, and every file under a Label Studio local storage can be "
                    "read by every reviewer",
                    hint="point the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT and [review] files_root at an "
                         "empty folder used only for review images (mmrakit fills it with exactly the pushed images)")
        if not create:
            raise ConfigError(f"review media folder {m.root} does not exist")
        m.root.mkdir(parents=True, exist_ok=True)
        os.chmod(m.root, 0o700)
        m.images.mkdir(exist_ok=True)
        atomic.write_text(m.root / MARKER, "mmrakit review media: only images of pushed review tasks live here.\n")
        return m

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock across processes: a push adding files never races a collection removing them."""
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def url(self, name: str) -> str:
        return URL_PREFIX + IMAGES + "/" + name

    def names(self) -> set[str]:
        return {e.name for e in os.scandir(self.images) if NAME.match(e.name) and e.is_file(follow_symlinks=False)}

    def add(self, record: ImageRecord, source: Path) -> str:
        """Put the image in (hard link, else copy) after checking its bytes; returns its file name."""
        name = file_name(record, source)
        target = self.images / name
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            return name
        if st is not None:  # a symlink or anything else under our name: never serve it
            _remove(target)
        real = source.resolve()
        if not real.is_file():
            raise InputError(f"image {record.sha256}: file {source} is missing",
                             hint="re-import the images, or rebuild the candidates")
        if _sha256(real) != record.sha256:
            raise InputError(f"image file {source} no longer matches its catalogue sha256 {record.sha256}",
                             hint="the file changed after import: re-import it with `mmrakit images import`")
        tmp = self.root / f"{atomic.TMP_PREFIX}{name}"  # beside images/, outside the storage, same filesystem
        tmp.unlink(missing_ok=True)
        try:
            os.link(real, tmp)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            shutil.copyfile(real, tmp)
            os.chmod(tmp, 0o600)
        os.replace(tmp, target)
        return name

    def prune_strays(self) -> list[str]:
        """Remove from images/ anything that is not a media file (symlinks, folders, other names)."""
        gone = []
        for e in os.scandir(self.images):
            if not (NAME.match(e.name) and e.is_file(follow_symlinks=False)):
                _remove(Path(e.path))
                gone.append(e.name)
        return gone

    def collect(self, referenced: Iterable[str]) -> list[str]:
        """Remove every media file no task references any more; returns the names removed."""
        keep = set(referenced)
        gone = sorted(self.names() - keep)
        for name in gone:
            (self.images / name).unlink(missing_ok=True)
        return gone + self.prune_strays()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
