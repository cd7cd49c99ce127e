"""Writing a file so that a failure loses nothing: the bytes go to a temporary file beside the
target, are flushed to the disk, and the temporary file is renamed over the target
(os.replace, atomic on POSIX and Windows).  Until then an existing file is untouched; after a
failure the temporary file is removed.  The new file gets the mode an ordinary open() would
give it (an existing file's, else 0o666 less the umask), not mkstemp's 0o600."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path, write) -> None:
    """write(f) into a temporary binary file, then that file renamed to path."""
    path = Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
