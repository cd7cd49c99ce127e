"""A data file cut into chunks of rows for a streamed fit (gdfast.io.open_stream).

One pass reads the file in pieces of bounded size (text in blocks cut at line ends, parsed by
pyarrow's CSV reader or the native svmlight parser; Parquet batches), checks every value, and
writes each chunk of chunk_rows rows, parsed, to a cache folder: .npy files in the kernels'
layout, which every epoch reads back one chunk at a time. A text file is parsed once, not once
an epoch (as Vowpal Wabbit's cache), and any chunk can be read in any order, which a text file
does not allow. A .npy file needs no cache: its chunks are slices of a memory map.

String columns are one-hot encoded as gdfast.io.read_table encodes them (sorted values), but
the values are only all known at the end of the pass: the cache holds each string column's
codes in order of first appearance, mapped to the sorted order when a chunk is read.

Memory: the pass holds at most one chunk and one piece of the file; a read, one chunk.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile

import numpy as np

# a chunk's target size in the kernels' layout, when chunk_rows is not given
CHUNK_BYTES = 64 * 2 ** 20
# chunk_rows is rounded down to a multiple of this (of the batch size when one is given), so
# that the batches of a chunk's epoch are the batches of the whole file's (shuffle=False)
ROW_MULTIPLE = 1024
# the CSV, TSV and svmlight passes read the text in blocks of this many bytes
TEXT_BLOCK = 4 * 2 ** 20
# CSV and TSV: the columns' types come from the first SCHEMA_BYTES (then TEXT_BLOCK at a time)
SCHEMA_BYTES = 4 * 2 ** 20
STREAM_FORMATS = ("csv", "tsv", "parquet", "svmlight", "npy")


class StreamedFile:
    """A data file cut into chunks of rows, checked, and cached on disk: what
    :func:`gdfast.io.fit_stream` trains on.  Made by :func:`gdfast.io.open_stream`; a context
    manager, whose exit (or :meth:`close`) removes the cache.

    Attributes
    ----------
    path, format : the file and its format.
    n, d : rows and feature columns (after one-hot encoding).
    sparse : whether the chunks are CSR (svmlight).
    chunk_rows : the rows of every chunk but the last.
    block_rows : list of int, the rows of each chunk.
    columns, categories : as :class:`gdfast.io.Table`'s (None for svmlight, whose columns are
        its indices; categories then holds its width, as read_table's).
    cache : the cache folder (None for .npy files, read in place).
    """

    def __init__(self, path, label, *, format=None, chunk_rows=None, batch_size=None,
                 cache_dir=None, n_threads=None):
        from gdfast._validation import check_int
        from gdfast.io import DataError, format_of
        path = os.fspath(path)
        fmt = format_of(path, format)
        if fmt not in STREAM_FORMATS:
            raise DataError(f"{path}: a {fmt} file cannot be streamed (it is read whole); "
                            f"streaming reads {', '.join(STREAM_FORMATS)} files")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
        if label is None and fmt != "svmlight":
            raise ValueError("label: expected the label column, got None")
        if chunk_rows is not None:
            chunk_rows = check_int(chunk_rows, "chunk_rows", low=1)
        if cache_dir is not None and not os.path.isdir(cache_dir):
            raise ValueError(f"cache_dir: no such folder: {cache_dir}")
        self.path, self.format, self.label = path, fmt, label
        batched = isinstance(batch_size, int) and not isinstance(batch_size, bool) \
            and batch_size > 0
        self._multiple = batch_size if batched else ROW_MULTIPLE
        self.chunk_rows = chunk_rows
        if chunk_rows is not None and batched:
            # rounded down to whole batches (at least one)
            self.chunk_rows = max(batch_size, chunk_rows // batch_size * batch_size)
        self.block_rows, self.cache = [], None
        self.columns, self.categories = None, {}
        self.sparse = fmt == "svmlight"
        self._shift, self._integral = 0, True
        self._threads, self._mm = n_threads, None
        try:
            if fmt == "npy":
                self._open_npy()
            else:
                self.cache = tempfile.mkdtemp(prefix="gdfast-stream-", dir=cache_dir)
                self._write_chunks()
        except BaseException:
            self.close()
            raise
        self.n = int(sum(self.block_rows))
        self.starts = np.concatenate([[0], np.cumsum(self.block_rows)]).astype(np.int64)
        if self.n == 0:
            self.close()
            raise DataError(f"{path}: no data rows")

    # -- reading ----------------------------------------------------------------------------

    def labels(self, i):
        """The labels of chunk i, as read_table reads them: float64 for svmlight and .npy; for
        a table, its text, or int64 when every label in the file is a whole number."""
        if self.format == "npy":
            return self._npy_slice(i)[1]
        y = np.load(self._file(i, "y"), allow_pickle=False)
        table = self.format in ("csv", "tsv", "parquet")
        return y.astype(np.int64) if table and y.dtype.kind == "f" and self._integral else y

    def read(self, i):
        """(X, y) of chunk i: X float64, C-contiguous (CSR for svmlight)."""
        if self.format == "npy":
            return self._npy_slice(i)
        y = self.labels(i)
        if self.sparse:
            import scipy.sparse as sp
            data = np.load(self._file(i, "data"), allow_pickle=False)
            indices = np.load(self._file(i, "indices"), allow_pickle=False)
            indptr = np.load(self._file(i, "indptr"), allow_pickle=False)
            small = self.d < 2 ** 31 and len(indices) < 2 ** 31
            indices = indices.astype(np.int32 if small else np.int64, copy=False)
            if self._shift:
                indices -= self._shift
            if small:
                indptr = indptr.astype(np.int32)
            return sp.csr_matrix((data, indices, indptr), shape=(len(y), self.d)), y
        num = np.load(self._file(i, "num"), allow_pickle=False)
        if not self._strings:
            return num, y
        codes = np.load(self._file(i, "codes"), allow_pickle=False)
        X = np.zeros((len(y), self.d))
        rows = np.arange(len(y))
        for kind, j, pos in self._layout:
            if kind == "num":
                X[:, pos] = num[:, j]
            else:
                X[rows, pos + self._remap[j][codes[:, j]]] = 1.0
        return X, y

    def close(self):
        """Remove the cache (the chunks cannot be read after)."""
        if getattr(self, "cache", None) is not None:
            shutil.rmtree(self.cache, ignore_errors=True)
            self.cache = None
        self._mm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def __repr__(self):
        return (f"StreamedFile({self.path!r}, {self.n} rows x {self.d} columns, "
                f"{len(self.block_rows)} chunks of {self.chunk_rows} rows)")

    # -- the pass that writes the chunks ----------------------------------------------------

    def _file(self, i, key):
        if self.cache is None:
            raise ValueError(f"{self.path}: the stream is closed (its cache was removed)")
        return os.path.join(self.cache, f"{i}.{key}.npy")

    def _set_chunk_rows(self, row_bytes):
        if self.chunk_rows is None:
            self.chunk_rows = max(self._multiple,
                                  int(CHUNK_BYTES // max(row_bytes, 1)) // self._multiple
                                  * self._multiple)

    def _write_chunks(self):
        if not self.sparse:
            return self._write_dense_chunks()
        # CSR pieces: a chunk is joined from views of the rows not yet in one (pending: of
        # the last piece or two)
        pending, rows = [], 0
        for piece in self._pieces():
            if self.chunk_rows is None:
                self._set_chunk_rows(_row_bytes(piece, True))
            size, pos = _piece_rows(piece), 0
            while rows + size - pos >= self.chunk_rows:
                k = self.chunk_rows - rows
                self._save(_join_csr(pending + [_csr_rows(piece, pos, pos + k)]))
                pending, rows, pos = [], 0, pos + k
            if pos < size:
                pending.append(_csr_rows(piece, pos, size))
                rows += size - pos
        if rows:
            self._save(_join_csr(pending))
        if self.chunk_rows is None:
            self._set_chunk_rows(1)

    def _write_dense_chunks(self):
        """Dense pieces copied into one chunk's buffers, written and reused for the next: the
        pass holds one chunk and one piece, and allocates the chunk once."""
        buffers, rows = None, 0
        for piece in self._pieces():
            if buffers is None:
                if self.chunk_rows is None:
                    self._set_chunk_rows(_row_bytes(piece, False))
                buffers = {k: np.empty((self.chunk_rows,) + v.shape[1:], dtype=v.dtype)
                           for k, v in piece.items() if k != "y"}
                labels = []
            size, pos = _piece_rows(piece), 0
            while pos < size:
                k = min(self.chunk_rows - rows, size - pos)
                for key, buf in buffers.items():
                    buf[rows:rows + k] = piece[key][pos:pos + k]
                labels.append(piece["y"][pos:pos + k])
                rows, pos = rows + k, pos + k
                if rows == self.chunk_rows:
                    self._save(dict(buffers, y=np.concatenate(labels)))
                    rows, labels = 0, []
        if rows:
            self._save({**{k: v[:rows] for k, v in buffers.items()},
                        "y": np.concatenate(labels)})
        if self.chunk_rows is None:
            self._set_chunk_rows(1)

    def _save(self, piece):
        i = len(self.block_rows)
        for key, value in piece.items():
            np.save(self._file(i, key), value, allow_pickle=False)
        self.block_rows.append(_piece_rows(piece))

    def _pieces(self):
        if self.format == "svmlight":
            yield from self._svmlight_pieces()
        else:
            yield from self._table_pieces()

    def _table_pieces(self):
        """CSV, TSV and Parquet in record batches: numbers (float64), string columns' codes,
        labels; every value checked."""
        from gdfast.io import DataError, _arrow_modules, _column_values, check_label_column, is_text
        pa, pcsv, pq = _arrow_modules(self.format)
        path, label = self.path, self.label
        try:
            if self.format == "parquet":
                source = pq.ParquetFile(path)
                schema = source.schema_arrow
                batches = _closing_batches(source)
            else:
                tables = _csv_tables(path, self.format, pa, pcsv)
                schema = next(tables)
                batches = (b for table in tables for b in table.to_batches())
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            raise DataError(f"{path}: {_first_line(exc)}") from None
        names = list(schema.names)
        features = check_label_column(path, names, label)
        text = [is_text(pa, schema.field(c).type) for c in features]
        numeric = [c for c, t in zip(features, text, strict=True) if not t]
        strings = [c for c, t in zip(features, text, strict=True) if t]
        self._strings = strings
        seen = {c: {} for c in strings}          # value -> code, in order of first appearance
        label_text = is_text(pa, schema.field(label).type)
        row0 = released = 0
        iterator = iter(batches)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                break
            except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
                raise DataError(f"{path}: {_first_line(exc)}") from None
            n = batch.num_rows
            if n == 0:
                continue
            released += 1
            if released % 16 == 0:
                # pyarrow's allocator keeps freed blocks for reuse; handing them back keeps
                # the pass's resident memory near what it holds
                pa.default_memory_pool().release_unused()
            num = np.empty((n, len(numeric)))
            for j, c in enumerate(numeric):
                values, text = _column_values(c, batch.column(names.index(c)), path, row0)
                if text is not None:
                    raise DataError(f"{path}: column {c!r} holds text at data row "
                                    f"{row0 + 1} or after, numbers before")
                num[:, j] = values
            bad = ~np.isfinite(num)
            if bad.any():
                r, j = np.argwhere(bad)[0]
                raise DataError(f"{path}: column {numeric[j]!r} is not finite at data row "
                                f"{row0 + r + 1}")
            codes = np.empty((n, len(strings)), dtype=np.int32)
            for j, c in enumerate(strings):
                codes[:, j] = _codes(_column_values(c, batch.column(names.index(c)), path,
                                                    row0)[1], seen[c])
            ycol = batch.column(names.index(label))
            numbers, y = _column_values(label, ycol, path, row0)
            if not label_text:
                y = numbers
                if not np.isfinite(y).all():
                    raise DataError(f"{path}: label {label!r} is not finite at data row "
                                    f"{row0 + int(np.argmin(np.isfinite(y))) + 1}")
                self._integral = self._integral and bool(np.all(y == np.round(y)))
            row0 += n
            piece = {"num": num, "y": y}
            if strings:
                piece["codes"] = codes
            yield piece
        # the columns in the file's order, each string column as its sorted values
        self._layout, self._remap, self.columns, pos = [], {}, [], 0
        for c in features:
            if c in seen:
                values = sorted(seen[c])
                j = strings.index(c)
                # appearance code -> position among the sorted values
                order = {v: k for k, v in enumerate(values)}
                remap = np.empty(len(values), dtype=np.int64)
                for v, code in seen[c].items():
                    remap[code] = order[v]
                self._remap[j] = remap
                self._layout.append(("cat", j, pos))
                self.categories[c] = values
                self.columns += [f"{c}={v}" for v in values]
                pos += len(values)
            else:
                self._layout.append(("num", numeric.index(c), pos))
                self.columns.append(c)
                pos += 1
        self.d = pos

    def _svmlight_pieces(self):
        """svmlight text in blocks of TEXT_BLOCK bytes cut at line ends, by the native parser;
        indices as written (shifted at read time once the whole file says whether it is
        one-based, as read_svmlight decides)."""
        from gdfast._readers import parse_svmlight
        from gdfast._threads import effective_n_threads
        from gdfast.io import DataError
        threads = effective_n_threads(self._threads)
        lo, hi, line0 = None, -1, 1
        # one buffer for the whole pass: a block is read into it, cut after its last line end
        # (a NUL written there ends the parser's text) and the rest read again with the next
        block = bytearray(TEXT_BLOCK + 1)
        with open(self.path, "rb") as f:
            while True:
                room = len(block) - 1
                got = f.readinto(memoryview(block)[:room])
                if not got:
                    break
                cut = block.rfind(b"\n", 0, got) + 1 if got == room else got
                if cut == 0:
                    # a line longer than the buffer: grow it
                    f.seek(-got, os.SEEK_CUR)
                    block = bytearray(2 * room + 1)
                    continue
                f.seek(cut - got, os.SEEK_CUR)
                block[cut] = 0
                try:
                    y, indptr, indices, data, a, b = parse_svmlight(block, threads, cut)
                except ValueError as exc:
                    m = re.match(r"line (\d+): (.*)", str(exc))
                    where = (f"line {int(m.group(1)) + line0 - 1}: {m.group(2)}" if m
                             else str(exc))
                    raise DataError(f"{self.path}: {where}") from None
                bad = ~np.isfinite(y)
                if bad.any() or not np.isfinite(data).all():
                    r = int(np.argmax(bad)) if bad.any() else int(np.searchsorted(
                        indptr, np.argmin(np.isfinite(data)), "right")) - 1
                    what = "label" if bad.any() else "value"
                    raise DataError(f"{self.path}: line {_svm_line(block, cut, r, line0)}: a "
                                    f"{what} is not finite")
                line0 += block.count(b"\n", 0, cut)
                if len(indices):
                    lo = a if lo is None else min(lo, a)
                    hi = max(hi, b)
                    if b < 2 ** 31 - 1:
                        indices = indices.astype(np.int32)     # half the cache and memory
                if len(y):
                    yield {"y": y, "indptr": indptr, "indices": indices, "data": data}
        self._shift = 1 if lo is not None and lo > 0 else 0
        self.d = hi + 1 - self._shift if lo is not None else 0
        self.categories = {"svmlight": [self.d]}
        if self.d == 0:
            raise DataError(f"{self.path}: no feature values")

    # -- .npy: slices of a memory map -------------------------------------------------------

    def _open_npy(self):
        from gdfast.io import DataError
        try:
            mm = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{self.path}: not a readable npy file ({exc})") from None
        if mm.ndim != 2 or mm.dtype.kind not in "biuf":
            raise DataError(f"{self.path}: expected a 2-D numeric array, got shape "
                            f"{mm.shape} and dtype {mm.dtype}")
        try:
            self._label_col = int(self.label) % mm.shape[1]
            if not -mm.shape[1] <= int(self.label) < mm.shape[1]:
                raise IndexError
        except (ValueError, IndexError):
            raise DataError(f"{self.path}: label {self.label!r} is not a column index of an "
                            f"array of {mm.shape[1]} columns") from None
        self._mm, self.d = mm, mm.shape[1] - 1
        self.columns = [f"x{j}" for j in range(self.d)]
        self._strings = []
        self._set_chunk_rows(8 * mm.shape[1])
        n = mm.shape[0]
        self.block_rows = [min(self.chunk_rows, n - s) for s in range(0, n, self.chunk_rows)]
        # one pass: every value finite
        for s in range(0, n, self.chunk_rows):
            part = np.asarray(mm[s:s + self.chunk_rows], dtype=np.float64)
            bad = ~np.isfinite(part)
            if bad.any():
                r, j = np.argwhere(bad)[0]
                raise DataError(f"{self.path}: row {s + r}, column {j} is not finite")

    def _npy_slice(self, i):
        if self._mm is None:
            raise ValueError(f"{self.path}: the stream is closed")
        s = int(self.starts[i])
        part = np.asarray(self._mm[s:s + self.block_rows[i]], dtype=np.float64)
        y = part[:, self._label_col].copy()
        return np.ascontiguousarray(np.delete(part, self._label_col, axis=1)), y


def _closing_batches(source):
    """A Parquet file's record batches; the file closed after the last (or when the pass
    stops early and lets go of them)."""
    try:
        yield from source.iter_batches(batch_size=65536)
    finally:
        source.close()


def _csv_tables(path, fmt, pa, pcsv):
    """A CSV or TSV file as pyarrow Tables, one per block of text cut at a line end outside
    quotes, each parsed by pyarrow.csv.read_csv on its threads: first the schema (the types
    the first SCHEMA_BYTES show, whole numbers widened to float64), then the tables, every
    block read with those types.  A malformed line is reported with its number."""
    import io as _io

    from gdfast.io import DataError, bad_line_in
    delimiter = "\t" if fmt == "tsv" else ","
    parse = pcsv.ParseOptions(delimiter=delimiter)
    with open(path, "rb") as f:
        header = f.readline()
        if not header.strip():
            raise DataError(f"{path}: the file is empty: expected a header line")
        try:
            names = pcsv.read_csv(pa.py_buffer(header), parse_options=parse).column_names
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"{path}: line 1: {_first_line(exc)}") from None
        read = pcsv.ReadOptions(column_names=names)
        line0, size, types = 2, SCHEMA_BYTES, None
        while True:
            start = f.tell()
            block = f.read(size)
            if not block:
                break
            if len(block) == size:
                cut = _line_cut(block)
                if cut == 0 and size >= 4 * TEXT_BLOCK:
                    # no line end outside quotes in 16 MiB: a quote that opens no field
                    # (12" pipe), as pyarrow reads it; cut at the last line end
                    cut = block.rfind(b"\n") + 1
                if cut == 0:                    # a line longer than the block
                    f.seek(start)
                    size *= 2
                    continue
                f.seek(start + cut)
            else:
                cut = len(block)
            text = memoryview(block)[:cut]
            try:
                table = pcsv.read_csv(pa.py_buffer(text), read_options=read,
                                      parse_options=parse, convert_options=pcsv.ConvertOptions(
                                          column_types=types or {}))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                numbers = [j for j, n in enumerate(names)
                           if types and pa.types.is_floating(types[n])]
                where = bad_line_in(_io.StringIO(bytes(text).decode("utf-8", errors="replace"),
                                                 newline=""), delimiter, names, numbers, line0)
                raise DataError(f"{path}: {where or _first_line(exc)}") from None
            if types is None:
                types = {f.name: pa.float64() if pa.types.is_integer(f.type) or
                         pa.types.is_null(f.type) else f.type for f in table.schema}
                yield pa.schema([(n, types[n]) for n in names])
                table = table.cast(pa.schema([(n, types[n]) for n in names]))
            yield table
            line0 += block.count(b"\n", 0, cut)
            del text, block, table
            size = TEXT_BLOCK
        if types is None:
            raise DataError(f"{path}: no data rows")


def _svm_line(text, length, row, line0):
    """The file's line number of data row `row` of svmlight text (its first line: line0),
    counting the blank and comment lines the parser skips."""
    number, seen = line0, -1
    for line in bytes(text[:length]).split(b"\n"):
        body = line.split(b"#", 1)[0].strip()
        if body:
            seen += 1
            if seen == row:
                return number
        number += 1
    return number


def _line_cut(block):
    """The length of block up to its last line end outside a quoted field (0: none): quotes
    come in pairs in CSV ("" inside a field), so a line end is outside one where the quotes
    before it are even in number (every block starts outside)."""
    if b'"' not in block:
        return block.rfind(b"\n") + 1
    raw = np.frombuffer(block, dtype=np.uint8)
    inside = np.bitwise_xor.accumulate((raw == ord('"')).view(np.uint8))
    ends = np.flatnonzero((raw == ord("\n")) & (inside == 0))
    return int(ends[-1]) + 1 if len(ends) else 0


def _first_line(exc):
    return str(exc).strip().splitlines()[0]


def _codes(values, seen):
    """The codes of a string column's values, seen: value -> code, extended as values come."""
    uniques, inverse = np.unique(values, return_inverse=True)
    mapping = np.array([seen.setdefault(str(v), len(seen)) for v in uniques], dtype=np.int32)
    return mapping[inverse.ravel()]


def _piece_rows(piece):
    return len(piece["y"])


def _row_bytes(piece, sparse):
    n = max(_piece_rows(piece), 1)
    if sparse:
        return 12 * len(piece["data"]) / n + 16
    return 8 * (piece["num"].shape[1] + piece.get("codes", np.empty((0, 0))).shape[1] + 1)


def _join_csr(pieces):
    """One CSR piece of the rows of several, in order."""
    if len(pieces) == 1:
        return pieces[0]
    offsets = np.cumsum([0] + [p["indptr"][-1] for p in pieces[:-1]])
    return {"y": np.concatenate([p["y"] for p in pieces]),
            "indptr": np.concatenate([pieces[0]["indptr"][:1]] +
                                     [p["indptr"][1:] + o for p, o in
                                      zip(pieces, offsets, strict=True)]),
            "indices": np.concatenate([p["indices"] for p in pieces]),
            "data": np.concatenate([p["data"] for p in pieces])}


def _csr_rows(piece, start, stop):
    """Rows start..stop of a CSR piece: views, but for its indptr rebased (stop - start + 1
    entries)."""
    ip = piece["indptr"]
    a, b = ip[start], ip[stop]
    return {"y": piece["y"][start:stop], "indptr": ip[start:stop + 1] - a,
            "indices": piece["indices"][a:b], "data": piece["data"][a:b]}
