"""The columns of a data source, read from file footers and remembered by file stat.

A plan checks that every dataset's `input_cols` and `label_col` are in its files, and of
types its framework can train on, before anything runs. Every plan does it, so it must cost
next to nothing: a parquet or arrow file's schema is in its footer (no rows are read), a CSV
file's is inferred from its first block, and each is kept in memory under the file's
(size, mtime, inode, device), so a plan that follows another in one process reads nothing.

Like a dataset, a source's schema is its first file's (a directory or glob of files with
different columns fails when the data is read, as pyarrow's own dataset discovery does).
"""

from __future__ import annotations

import os

import pyarrow as pa

from mlrt_iac.runtime.sources import DataSourceError, _filesystem_for, _list_files, format_of

_MEMO: dict[tuple[str, int, int, int, int], pa.Schema] = {}
_MEMO_MAX = 4096


def is_remote(source: str) -> bool:
    return "://" in source and not source.startswith("file://")


def local_files(source: str, project_dir: str) -> list[str]:
    """The data files a local source names (relative to `project_dir`), sorted; a
    DataSourceError says what is wrong (missing, matches nothing, no data files)."""
    path = source[len("file://") :] if source.startswith("file://") else source
    if not os.path.isabs(os.path.expanduser(path)):
        path = os.path.join(project_dir, path)
    filesystem, resolved = _filesystem_for(path)
    return _list_files(filesystem, resolved, source)


def _read_schema(path: str) -> pa.Schema:
    fmt = format_of(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path)
    if fmt == "ipc":
        import pyarrow.ipc as ipc

        try:
            with ipc.open_file(path) as reader:
                return reader.schema
        except pa.ArrowInvalid:  # a stream rather than a file
            with ipc.open_stream(path) as stream:
                return stream.schema
    import pyarrow.dataset as ds

    return ds.dataset([path], format=fmt or "csv").schema


def file_schema(path: str) -> pa.Schema:
    """The schema of one local data file (memoised by stat); DataSourceError when it cannot
    be read as its suffix says."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    hit = _MEMO.get(key)
    if hit is not None:
        return hit
    try:
        schema = _read_schema(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataSourceError(f"Cannot read the columns of {path!r}: {first}") from exc
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = schema
    return schema


def is_numeric(t: pa.DataType) -> bool:
    """What XGBoost and LightGBM train on as a plain number column (bool counts as 0/1)."""
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))


def type_name(t: pa.DataType) -> str:
    return str(t)
