"""Reading tables for gdfast: CSV/TSV and Parquet through pyarrow (multithreaded), ``.npy`` and
``.npz`` through numpy, chosen by the file's extension or by ``format=``.

    >>> import os, tempfile
    >>> import numpy as np, gdfast.io
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(path, "w").write("a,b,city,label\\n1,2,x,0\\n3,4,y,1\\n")
    >>> table = gdfast.io.read_table(path, label="label")
    >>> table.X.shape, table.y.tolist(), table.columns
    ((2, 4), [0, 1], ['a', 'b', 'city=x', 'city=y'])

String columns are one-hot encoded: one 0/1 column per distinct value, named ``column=value``,
in sorted order (a value seen only at prediction gets no column: all its indicators are 0).
Numbers are read as float64; a missing number is an error that names its column and row.

Needs ``pip install "gdfast[io]"`` (pyarrow) for CSV, TSV and Parquet.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from gdfast._chunks import StreamedFile

__all__ = ["read_table", "read_svmlight", "open_stream", "fit_stream", "StreamedFile", "Table",
           "FORMATS", "DataError"]

FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".npy": "npy", ".npz": "npz", ".svm": "svmlight", ".svmlight": "svmlight",
           ".libsvm": "svmlight"}


class DataError(ValueError):
    """A data file that cannot be read as a table (its message names the file, and the line
    or column where it can)."""


@dataclass
class Table:
    """X (n, d) float64, y (n,) or None, the feature names, and the one-hot encoding of the
    string columns ({column: its sorted values}) to encode other files the same way."""
    X: np.ndarray
    y: np.ndarray | None
    columns: list
    categories: dict = field(default_factory=dict)


def format_of(path, format=None):
    """The format of path: format when given, else from its extension."""
    if format is not None:
        if format not in set(FORMATS.values()):
            raise DataError(f"format: expected one of {sorted(set(FORMATS.values()))}, got "
                            f"{format!r}")
        return format
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in FORMATS:
        raise DataError(f"{path}: unknown format {ext or '(no extension)'!r}: expected "
                        f"{', '.join(sorted(FORMATS))}, or give the format")
    return FORMATS[ext]


def _arrow_modules(fmt):
    """pyarrow, pyarrow.csv and pyarrow.parquet, or an ImportError that says how to get them."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(f'reading {fmt} needs pyarrow: pip install "gdfast[io]" ({exc})') \
            from None
    return pa, pcsv, pq


def _arrow(path, fmt):
    pa, pcsv, pq = _arrow_modules(fmt)
    try:
        if fmt == "parquet":
            return pq.read_table(path)
        return pcsv.read_csv(path, parse_options=pcsv.ParseOptions(
            delimiter="\t" if fmt == "tsv" else ","))
    except FileNotFoundError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        message = str(exc).strip().splitlines()[0]
        if fmt != "parquet":
            where = _bad_line(path, "\t" if fmt == "tsv" else ",")
            if where:
                message = where
        raise DataError(f"{path}: {message}") from None


def _bad_line(path, delimiter):
    """bad_line_in on a whole file: its malformed line, or None."""
    import csv
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            header = next(csv.reader(f, delimiter=delimiter), None)
            if header is None:
                return "the file is empty: expected a header line"
            return bad_line_in(f, delimiter, header)
    except (OSError, csv.Error):
        return None


# what pyarrow's CSV reader reads as a missing value (its default null_values)
_NULLS = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
          "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"}


def bad_line_in(lines, delimiter, names, numbers=(), line0=2):
    """The first problem of a CSV text's lines (a text stream opened with newline=""; its
    first line is line0 of the file), as 'line N: ...': a field count other than the
    header's names, or text in a column of numbers (the indices `numbers`); None when
    neither is found.  pyarrow's parse error shows a line's text, not its number."""
    import csv
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if not row:
                continue
            line = line0 + reader.line_num - 1
            if len(row) != len(names):
                return (f"line {line}: expected {len(names)} fields (as the header), got "
                        f"{len(row)}")
            for j in numbers:
                value = row[j]
                if value not in _NULLS:
                    try:
                        float(value)
                    except ValueError:
                        return (f"line {line}: column {names[j]!r} holds {value[:40]!r} where "
                                f"the file's first 4 MiB hold numbers")
    except csv.Error:
        return None
    return None


def is_text(pa, t):
    """Whether a pyarrow type holds text (one-hot encoded), not numbers."""
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t)


def _column_values(name, column, path, row0=0):
    """A numeric column as float64, or a string column as its values: (numbers, None) or
    (None, text).  row0: the data row of the column's first value (a streamed piece's)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    t = column.type
    numeric = (pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)
               or pa.types.is_null(t))
    if not (numeric or is_text(pa, t)):
        raise DataError(f"{path}: column {name!r} has type {t}, expected numbers or text")
    if column.null_count:
        first = int(pc.index(pc.is_null(column), True).as_py())
        raise DataError(f"{path}: column {name!r} has no value at data row {row0 + first + 1}")
    values = column.to_numpy(zero_copy_only=False)
    if numeric:
        return np.asarray(values, dtype=np.float64), None
    return None, values.astype(str)


def check_label_column(path, names, label):
    """The feature columns of a table whose columns are names, its label column label: a
    DataError when there is no such label or no other column."""
    if label not in names:
        raise DataError(f"{path}: no label column {label!r}; the columns are "
                        f"{', '.join(map(repr, names[:10]))}"
                        + (", ..." if len(names) > 10 else ""))
    features = [c for c in names if c != label]
    if not features:
        raise DataError(f"{path}: no feature columns besides the label")
    return features


def read_table(path, label=None, *, format=None, categories=None,
               label_optional=False) -> Table:
    """Read a table: X (float64) and, with label, y.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.tsv`` (a header row), ``.parquet``, ``.npy`` (a 2-D array; the label
        is a column index) or ``.npz`` file (arrays ``X`` and, optionally, ``y``).
    label : str, int or None, default=None
        The label column (a name; for ``.npy`` a column index, negative from the end); None
        reads X only (an ``.npz`` file's ``y`` is then returned as y).
    format : str or None, default=None
        Overrides the extension: "csv", "tsv", "parquet", "npy" or "npz".
    categories : dict or None, default=None
        The one-hot encoding of another table (``Table.categories``): string columns are
        encoded with its values, so that a model's columns line up with its training file's.
    label_optional : bool, default=False
        A table without the label column is read as X alone (y None) rather than refused
        (files to predict on).

    Returns
    -------
    Table

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    DataError
        (a ValueError) If the file cannot be read as a table: an unknown format, a malformed
        line, a missing value, a label column that does not exist; the message names the
        file and what was expected.
    """
    path = os.fspath(path)
    fmt = format_of(path, format)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    if fmt in ("npy", "npz"):
        return _read_numpy(path, fmt, label, label_optional)
    if fmt == "svmlight":
        n_features = categories["svmlight"][0] if categories and "svmlight" in categories \
            else None
        X, y = read_svmlight(path, n_features=n_features)
        # the columns are the indices; "categories" keeps the width for files read later
        return Table(X=X, y=y, columns=None, categories={"svmlight": [X.shape[1]]})
    table = _arrow(path, fmt)
    names = list(table.column_names)
    y = None
    if label is not None and label_optional and label not in names:
        label = None
    if label is not None:
        names = check_label_column(path, names, label)
        nums, text = _column_values(label, table.column(label), path)
        y = text if text is not None else nums
        if text is None and np.all(y == np.round(y)):
            y = y.astype(np.int64)
    if not names:
        raise DataError(f"{path}: no feature columns besides the label")
    blocks, columns, seen = [], [], {}
    for name in names:
        nums, text = _column_values(name, table.column(name), path)
        if text is None:
            blocks.append(nums[:, None])
            columns.append(name)
            continue
        values = (np.asarray(categories[name]) if categories and name in categories
                  else np.unique(text))
        seen[name] = values.tolist()
        blocks.append((text[:, None] == values[None, :]).astype(np.float64))
        columns += [f"{name}={v}" for v in values]
    X = np.ascontiguousarray(np.hstack(blocks)) if blocks else np.empty((table.num_rows, 0))
    return Table(X=X, y=y, columns=columns, categories=seen)


def _read_numpy(path, fmt, label, label_optional=False):
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable {fmt} file ({exc})") from None
    if fmt == "npz":
        with data:
            if "X" not in data.files:
                raise DataError(f"{path}: expected an array named 'X' (and 'y'), found "
                                f"{', '.join(data.files) or 'none'}")
            X, y = data["X"], data["y"] if "y" in data.files else None
        if label is not None and y is None and not label_optional:
            raise DataError(f"{path}: no array 'y' for the labels")
    else:
        X, y = data, None
        if X.ndim != 2:
            raise DataError(f"{path}: expected a 2-D array, got shape {X.shape}")
        if label is not None:
            try:
                j = int(label)
                y = X[:, j]
                X = np.delete(X, j % X.shape[1], axis=1)
            except (ValueError, IndexError):
                raise DataError(f"{path}: label {label!r} is not a column index of an array "
                                f"of {X.shape[1]} columns") from None
    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise DataError(f"{path}: X must be a 2-D numeric array, got shape {X.shape} and "
                        f"dtype {X.dtype}")
    return Table(X=np.ascontiguousarray(X, dtype=np.float64), y=y,
                 columns=[f"x{j}" for j in range(X.shape[1])])


def read_svmlight(path, n_features=None, *, dtype=np.float64, zero_based="auto",
                  n_threads=None):
    """Read an svmlight / libsvm file into a CSR matrix, with a native parser on several
    threads: the matrix and labels of ``sklearn.datasets.load_svmlight_file``.

    Parameters
    ----------
    path : str or os.PathLike
        Lines ``label [qid:N] index:value ... [# comment]``; ``qid`` is ignored, blank lines
        and comment lines are skipped.
    n_features : int or None, default=None
        The number of columns; None: the largest index + 1 (after the shift of a one-based
        file).
    dtype : float32 or float64, default=float64
        The values' dtype (parsed in float64, then rounded once).
    zero_based : bool or "auto", default="auto"
        Whether the indices start at 0; "auto": one-based unless an index 0 appears (as
        scikit-learn decides).
    n_threads : int or None, default=None
        Parser threads, as for :func:`gdfast.fit`; the matrix does not depend on them.

    Returns
    -------
    (scipy.sparse.csr_matrix, numpy.ndarray)
        X of shape (n_samples, n_features) with int32 indices when they fit, and y (float64).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    DataError
        A malformed line (its number and what was expected), or an index past n_features.
    """
    import scipy.sparse as sp

    from gdfast._readers import parse_svmlight
    from gdfast._threads import effective_n_threads
    from gdfast._validation import check_choice, check_int
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    if not (isinstance(zero_based, bool) or zero_based == "auto"):
        check_choice(zero_based, "zero_based", (True, False, "auto"))
    if n_features is not None:
        n_features = check_int(n_features, "n_features", low=1)
    threads = effective_n_threads(n_threads)
    path = os.fspath(path)
    with open(path, "rb") as f:
        text = f.read()
    try:
        y, indptr, indices, data, lo, hi = parse_svmlight(text, threads)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    del text
    if zero_based is False or (zero_based == "auto" and len(indices) and lo > 0):
        indices -= 1
        hi -= 1
        if len(indices) and lo == 0:
            raise DataError(f"{path}: index 0 in a one-based file (zero_based=False)")
    width = int(hi) + 1 if len(indices) else 0
    if n_features is None:
        n_features = width
    elif width > n_features:
        raise DataError(f"{path}: index {width - 1} is past n_features={n_features}")
    if n_features < 2 ** 31 and len(indices) < 2 ** 31:
        indices, indptr = indices.astype(np.int32), indptr.astype(np.int32)
    X = sp.csr_matrix((data.astype(dtype, copy=False), indices, indptr),
                      shape=(len(y), n_features))
    return X, y


def open_stream(path, label, *, format=None, chunk_rows=None, batch_size=None, cache_dir=None,
                n_threads=None):
    """Cut a data file into chunks of rows for :func:`fit_stream`, with one pass that holds
    one chunk in memory at a time: files larger than memory.

    The pass reads the file in pieces (blocks of text cut at line ends, parsed by pyarrow's CSV
    reader or the native svmlight parser on their threads; Parquet batches), checks every
    value, and writes each chunk, parsed, to a cache folder that the fits read it back from;
    ``.npy`` files are read in place (a memory map). Use it as a context manager: the cache is
    removed at its exit.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.tsv``, ``.parquet``, svmlight or ``.npy`` file (``.npz`` files are read
        whole: use :func:`read_table`).
    label : str or int
        The label column (a column index for ``.npy``; svmlight files hold their labels).
    format : str or None, default=None
        Overrides the extension, as in :func:`read_table`.
    chunk_rows : int or None, default=None
        Rows per chunk; None: about 64 MiB of float64 (or CSR) data a chunk.  Rounded down to a
        multiple of ``batch_size`` when it is given, else of 1024.
    batch_size : int or None, default=None
        The batch size of the fits to come, when it is set: chunks then hold whole batches,
        so that a fit with ``shuffle=False`` takes the steps of :func:`gdfast.fit` on the
        whole file.
    cache_dir : str or None, default=None
        Where the cache folder goes (the system's temporary folder by default); it takes about
        the size of the data as float64 (CSR: 12 bytes a value).
    n_threads : int or None, default=None
        The svmlight parser's threads.

    Returns
    -------
    StreamedFile
        Its ``n``, ``d``, ``columns``, ``categories``, ``block_rows``.  String columns are
        one-hot encoded as by :func:`read_table`; a column's type is the one the first 4 MiB
        of a CSV file show (numbers there and text later is an error naming the column).

    Raises
    ------
    FileNotFoundError, DataError
        As :func:`read_table`: a malformed line, a missing or non-finite value, a label column
        that does not exist; every value is checked before any fit.
    """
    return StreamedFile(path, label, format=format, chunk_rows=chunk_rows,
                        batch_size=batch_size, cache_dir=cache_dir, n_threads=n_threads)


def fit_stream(source, label=None, *, format=None, chunk_rows=None, cache_dir=None, **options):
    """Train on a file larger than memory: :func:`gdfast.fit` on its rows, read one chunk at a
    time (see the guide, :doc:`guide/command-line`, and ``gdfast train --stream``).

    Parameters
    ----------
    source : str, os.PathLike or StreamedFile
        A data file (opened with :func:`open_stream` for this fit, and its cache removed at the
        end), or a StreamedFile already open (to fit it several times; label, format,
        chunk_rows and cache_dir are then its own).
    label, format, chunk_rows, cache_dir :
        As :func:`open_stream`.
    **options
        The keyword arguments of :func:`gdfast.fit` (not ``sample_weight``).  Full-batch fits
        (the default ``"lbfgs"``, ``batch_size=None``) sum each gradient over the chunks;
        smaller batches visit the chunks one after another, each continuing from where the one
        before left the parameters.  A shuffled epoch visits the chunks in a random order and
        shuffles the rows within each chunk (not across chunks).  With ``shuffle=False``, a
        given ``optimizer``, ``batch_size`` and ``learning_rate``, the batches are
        :func:`gdfast.fit`'s on the whole file, and so are the parameters, bit for bit (the
        loss history to rounding: it is summed chunk by chunk).  ``learning_rate="auto"``
        reads statistics summed chunk by chunk, which can differ from the in-memory ones in
        the last bit.

    Returns
    -------
    FitResult
        With ``metadata`` holding the columns, their one-hot encoding and the label, which
        ``gdfast predict`` and :func:`gdfast.save` use.
    """
    from gdfast import _stream
    if isinstance(source, StreamedFile):
        if label is not None or format is not None or chunk_rows is not None or cache_dir:
            raise ValueError("label, format, chunk_rows, cache_dir: an open StreamedFile has "
                             "its own; give them to open_stream")
        res = _stream.fit(source, options)
        stream = source
    else:
        bs = options.get("batch_size")
        with open_stream(source, label, format=format, chunk_rows=chunk_rows,
                         batch_size=bs if isinstance(bs, int) and not isinstance(bs, bool)
                         else None, cache_dir=cache_dir,
                         n_threads=options.get("n_threads")) as stream:
            res = _stream.fit(stream, options)
    res.metadata = {"columns": stream.columns, "categories": stream.categories,
                    "label": stream.label}
    return res

