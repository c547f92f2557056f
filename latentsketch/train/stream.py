"""A folder of images larger than memory: decoded once into a pre-resized cache on disk, then
read back a batch at a time.

The cache is one ``.npy`` file of uint8 (N, S, S, 3), the format ``numpy.load(path,
mmap_mode="r")`` opens as a memory-mapped array, plus a JSON index written last (its presence
says the cache is complete). Images are decoded and fitted (``data.images.load_fitted``: EXIF,
alpha, bit depth, centre crop, Lanczos) in ``torch.utils.data.DataLoader`` worker processes.
Training reads rows with ``os.preadv`` into a batch-sized buffer rather than through a
mapping, so the process's resident memory stays flat whatever the folder's size (pages of a
mapping count as resident once touched). The cache is keyed by the folder's file list (paths,
sizes, modification times), the size and the background, so a changed folder is decoded anew;
unreadable files are skipped once, when the cache is built, and listed in the index.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from latentsketch.data.images import (
    WHITE,
    Colour,
    DataError,
    ImageReadError,
    find_images,
    load_fitted,
)
from latentsketch.tempfiles import temp_beside

CACHE_VERSION = 1
IN_MEMORY_BYTES = 1 << 30  # decoded bytes a process keeps in memory; a bigger folder streams


class _Files(Dataset):
    """Item i: (i, the fitted image or None if unreadable, whether it had transparency)."""

    def __init__(self, paths: list[Path], size: int, background: Colour) -> None:
        self.paths, self.size, self.background = paths, size, background

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray | None, bool]:
        try:
            img, alpha = load_fitted(self.paths[i], self.size, 3, self.background)
        except ImageReadError:
            return i, None, False
        return i, img, alpha


def _keep(item: Any) -> Any:
    return item  # DataLoader's collate: items pass through as they are


@dataclass(frozen=True)
class CacheIndex:
    """What a cache holds: readable rows, files skipped, transparent images, where from."""

    rows: tuple[int, ...]        # rows of the .npy holding readable images, in file order
    skipped: tuple[str, ...]
    transparent: int
    folder: str

    def to_json(self) -> str:
        return json.dumps({"version": CACHE_VERSION, "rows": list(self.rows),
                           "skipped": list(self.skipped), "transparent": self.transparent,
                           "folder": self.folder})


class CachedImages:
    """The readable images of a cache as a read-only array-like (N, S, S, 3) uint8: indexing
    with an int, a slice or an index array reads just those rows from disk."""

    def __init__(self, npy: Path, index: CacheIndex) -> None:
        with open(npy, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = (np.lib.format.read_array_header_1_0 if major == 1
                           else np.lib.format.read_array_header_2_0)
            shape, _, _ = read_header(f)
            self._offset = f.tell()
        self.path, self.index = npy, index
        self._rows = np.asarray(index.rows, np.int64)
        self._item = tuple(int(v) for v in shape[1:])
        self._bytes = int(np.prod(self._item))
        self._fds: dict[int, int] = {}  # by process id: a DataLoader worker opens its own

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self._rows), *self._item)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    def __len__(self) -> int:
        return len(self._rows)

    def _fd(self) -> int:
        pid = os.getpid()
        if pid not in self._fds:
            self._fds[pid] = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return self._fds[pid]

    def __getitem__(self, idx: Any) -> np.ndarray:
        one = np.ndim(idx) == 0 and not isinstance(idx, slice)
        if isinstance(idx, slice):
            which = np.arange(*idx.indices(len(self)))
        else:
            which = np.atleast_1d(np.asarray(idx, np.int64))
            which = np.where(which < 0, which + len(self), which)
            if len(which) and (which.min() < 0 or which.max() >= len(self)):
                raise IndexError(f"image index out of range 0..{len(self) - 1}")
        out = np.empty((len(which), *self._item), np.uint8)
        fd = self._fd()
        for j, row in enumerate(self._rows[which]):
            self._read(fd, out[j], self._offset + int(row) * self._bytes)
        return out[0] if one else out

    def _read(self, fd: int, buf: np.ndarray, at: int) -> None:
        view = memoryview(buf).cast("B")
        done = 0
        while done < len(view):
            if hasattr(os, "preadv"):
                n = os.preadv(fd, [view[done:]], at + done)
            else:  # Windows: no positioned read
                os.lseek(fd, at + done, os.SEEK_SET)
                n = os.readv(fd, [view[done:]])
            if n <= 0:
                raise DataError(f"image cache {self.path}: shorter than its index says; "
                                f"delete it to rebuild it")
            done += n

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self) -> None:
        self.close()


def cache_key(folder: str | os.PathLike[str], paths: list[Path], size: int,
              background: Colour) -> str:
    """16 hex digits naming a cache: the folder's files (paths, sizes, times), size, background."""
    h = hashlib.sha256(json.dumps([CACHE_VERSION, str(Path(folder).resolve()), size,
                                   list(background)]).encode())
    for p in paths:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def cache_paths(folder: str | os.PathLike[str], size: int, background: Colour,
                cache_dir: Path) -> tuple[list[Path], Path, Path]:
    """(the folder's image files, the cache's .npy, its index). Raises DataError if none."""
    paths = find_images(folder)
    if not paths:
        raise DataError(f"images {folder}: no images found (looked recursively)")
    key = f"{Path(folder).name or 'images'}-{size}px-{cache_key(folder, paths, size, background)}"
    return paths, cache_dir / f"{key}.npy", cache_dir / f"{key}.json"


def build(folder: str | os.PathLike[str], size: int, cache_dir: Path,
          background: Colour = WHITE, workers: int = 2,
          progress: Callable[[int, int], None] | None = None) -> tuple[Path, Path]:
    """Decode the folder into its cache unless it is there already; (.npy, index) paths.

    Written to temporary names and renamed, the index last: a build cut short leaves no cache
    that looks complete. Raises DataError if no image is readable, OSError if ``cache_dir``
    cannot be written.
    """
    paths, npy, index = cache_paths(folder, size, background, cache_dir)
    if npy.is_file() and index.is_file():
        return npy, index
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp_npy, tmp_index = temp_beside(npy), temp_beside(index)
    try:
        arr = np.lib.format.open_memmap(tmp_npy, "w+", np.uint8, (len(paths), size, size, 3))
        offset, row_bytes = arr.offset, size * size * 3
        del arr  # rows go in with pwrite below: written pages of a mapping would count as RSS
        rows: list[int] = []
        skipped: list[str] = []
        transparent = 0
        loader = DataLoader(_Files(paths, size, background), batch_size=None,
                            num_workers=workers, collate_fn=_keep,
                            prefetch_factor=4 if workers else None,
                            generator=torch.Generator())  # leaves the training's RNG alone
        with open(tmp_npy, "r+b") as f:
            for n, (i, img, alpha) in enumerate(loader, 1):
                if img is None:
                    skipped.append(str(paths[i]))
                else:
                    f.seek(offset + i * row_bytes)
                    f.write(np.ascontiguousarray(img).tobytes())
                    rows.append(i)
                    transparent += alpha
                if progress:
                    progress(n, len(paths))
        if not rows:
            raise DataError(f"images {folder}: none of the {len(paths)} image files could be "
                            f"read")
        tmp_index.write_text(CacheIndex(tuple(rows), tuple(skipped), transparent,
                                        str(folder)).to_json())
        os.replace(tmp_npy, npy)
        os.replace(tmp_index, index)
    finally:
        tmp_npy.unlink(missing_ok=True)
        tmp_index.unlink(missing_ok=True)
    return npy, index


def open_cache(npy: Path, index: Path) -> CachedImages:
    """The cache's images; DataError (one line) if its index is damaged."""
    try:
        d = json.loads(index.read_text())
        if d.get("version") != CACHE_VERSION:
            raise ValueError(f"version {d.get('version')}")
        idx = CacheIndex(tuple(int(r) for r in d["rows"]), tuple(d["skipped"]),
                         int(d["transparent"]), str(d["folder"]))
        return CachedImages(npy, idx)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"image cache {index}: unreadable ({e}); delete it to rebuild "
                        f"it") from None


def too_big_for_memory(n_files: int, size: int) -> bool:
    """True if ``n_files`` decoded at ``size`` px would not fit ``IN_MEMORY_BYTES``."""
    return n_files * size * size * 3 > IN_MEMORY_BYTES


def default_workers() -> int:
    """Decoding processes for a cache build: the cores torch may use, at most 8."""
    return max(1, min(8, torch.get_num_threads(), os.cpu_count() or 1))
