"""Resolve user-given data sources (paths, directories, globs, filesystem URIs) into a
pyarrow dataset.

Kept apart from the connector so that the rules for "what counts as a data file" live in
one place: sorted file lists (deterministic row order, which sharding relies on), format
from the file suffix, hidden and ``_``-prefixed files ignored inside directories.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence
from typing import Union

import pyarrow.dataset as ds
import pyarrow.fs as pafs

SourceLike = Union[str, "os.PathLike[str]"]

_SUFFIXES: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".parq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
}
_GLOB_CHARS = "*?["


class DataSourceError(ValueError):
    """A data source that cannot be read: missing, empty, or of an unknown format."""


_SUFFIX_TUPLE = tuple(_SUFFIXES)


def format_of(path: str) -> str | None:
    """The pyarrow dataset format for a file name, or None when the suffix is unknown."""
    lower = path.lower()
    if not lower.endswith(_SUFFIX_TUPLE):
        return None
    for suffix, fmt in _SUFFIXES.items():
        if lower.endswith(suffix):
            return fmt
    return None


def _is_data_file(path: str) -> bool:
    base = os.path.basename(path)
    return not base.startswith((".", "_")) and format_of(path) is not None


def _filesystem_for(source: str) -> tuple[pafs.FileSystem, str]:
    if "://" in source:
        try:
            return pafs.FileSystem.from_uri(source)
        except Exception as exc:  # pyarrow raises several types for bad URIs
            raise DataSourceError(
                f"Cannot open data source {source!r}: {exc}. "
                "Use a local path or a URI pyarrow understands (file://, s3://, gs://, hdfs://)."
            ) from exc
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(source))


# Entries a recursive (`**`) pattern may look through on the local disk. A pattern such as
# `/**/*.parquet` would otherwise walk the whole machine while `plan` waits.
MAX_GLOB_ENTRIES = 100_000


def _check_glob_scope(pattern: str) -> None:
    """Refuse a recursive local pattern whose base directory holds too many entries."""
    if "**" not in pattern:
        return
    first = min(pattern.find(c) for c in _GLOB_CHARS if c in pattern)
    base = pattern[:first].rsplit("/", 1)[0] or "/"
    seen = 0
    for _, dirs, files in os.walk(base):
        seen += len(dirs) + len(files)
        if seen > MAX_GLOB_ENTRIES:
            raise DataSourceError(
                f"The pattern {pattern!r} searches {base!r}, which holds more than {MAX_GLOB_ENTRIES:,} "
                "files and directories. Start the pattern in the data's own directory "
                "(for example data/**/*.parquet)."
            )


def _expand_glob(filesystem: pafs.FileSystem, pattern: str) -> list[str]:
    if isinstance(filesystem, pafs.LocalFileSystem):
        _check_glob_scope(pattern)
        return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    first = min(pattern.find(c) for c in _GLOB_CHARS if c in pattern)
    base = pattern[:first].rsplit("/", 1)[0] or "/"
    infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return sorted(i.path for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, pattern))


def _list_files(filesystem: pafs.FileSystem, path: str, source: str) -> list[str]:
    """The data files one source names (a file, a directory or a glob), sorted."""
    if "\0" in path:
        raise DataSourceError(f"Data source {source!r} contains a NUL character, which no path may hold.")
    if any(c in path for c in _GLOB_CHARS):
        files = _expand_glob(filesystem, path)
        if not files:
            raise DataSourceError(f"Data source {source!r} matches no files: check the pattern")
        return files
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise DataSourceError(f"Data source {source!r} does not exist: check the path")
    if info.type == pafs.FileType.Directory:
        infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
        prefix = path.rstrip("/") + "/"
        file_type = pafs.FileType.File
        files = []
        for info in infos:
            if info.type != file_type:
                continue
            full = info.path
            rel = full[len(prefix) :] if full.startswith(prefix) else os.path.relpath(full, path)
            if _is_data_file(rel):
                files.append(full)
        files.sort()
        if not files:
            raise DataSourceError(
                f"Directory {source!r} holds no parquet, csv or arrow files. "
                "Point the source at a folder of data files."
            )
        return files
    return [path]


def _hidden_in_dir(rel: str) -> bool:
    return any(part.startswith((".", "_")) for part in rel.split("/"))


def dataset_from_sources(sources: Sequence[SourceLike], *, format: str | None = None) -> ds.Dataset:
    """One pyarrow dataset over all sources, in the order given (files sorted within each).

    Files of different formats become one union dataset; their schemas must agree.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if not sources:
        raise DataSourceError("No data sources given. Name at least one file, directory or glob.")
    groups: list[tuple[str, pafs.FileSystem, list[str], str | None]] = []
    for raw in sources:
        source = os.fspath(raw)
        filesystem, path = _filesystem_for(source)
        files = _list_files(filesystem, path, source)
        is_dir = filesystem.get_file_info(path).type == pafs.FileType.Directory
        base = path if is_dir else None
        if is_dir:
            files = [f for f in files if not _hidden_in_dir(os.path.relpath(f, path))]
        for file in files:
            fmt = format or format_of(file)
            if fmt is None:
                raise DataSourceError(
                    f"Cannot tell the format of {file!r} (from source {source!r}). "
                    "Use a .parquet, .csv or .arrow/.feather file, or pass format=."
                )
            last = groups[-1] if groups else None
            if last and last[0] == fmt and last[1] is filesystem and last[3] == base:
                last[2].append(file)
            else:
                groups.append((fmt, filesystem, [file], base))
    parts = [
        ds.dataset(
            files,
            format=fmt,
            filesystem=filesystem,
            partitioning="hive" if base else None,
            partition_base_dir=base,
        )
        for fmt, filesystem, files, base in groups
    ]
    if len(parts) == 1:
        return parts[0]
    try:
        return ds.dataset(parts)
    except Exception as exc:
        raise DataSourceError(
            f"The data sources do not share one schema: {exc}. Give sources with the same columns and types."
        ) from exc
