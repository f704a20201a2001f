"""Write a zip archive as a stream of bytes, in memory that does not grow with its members.

Pure and generic: no ORM, no HTTP, nothing about annotations (``exporting`` builds its masks
archive on it). Python's zipfile wants a seekable file and keeps every member's entry in memory
until it writes the closing directory; here it writes into an unseekable pipe that the generator
empties as it goes, and the entries wait in a temporary file.
"""

import contextlib
import io
import pickle
import tempfile
import zipfile
from collections.abc import Iterable, Iterator

CHUNK_BYTES = 1 << 16  # pieces handed to the server: big enough to be cheap, small enough to flow


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream: zipfile writes into it and the generator takes the bytes out.

    Bytes wait in a spooled file (in memory up to 1 MB, then on disk): closing a zip writes
    its whole directory at once, about 100 bytes per member, before anything can be taken.
    """

    def __init__(self):
        super().__init__()
        self._spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self._spool.write(data)

    def take(self) -> Iterator[bytes]:
        """Yield what was written since the last take, in chunks of at most CHUNK_BYTES."""
        if self._spool.tell() == 0:
            return
        self._spool.seek(0)
        while chunk := self._spool.read(CHUNK_BYTES):
            yield chunk
        self._spool.seek(0)
        self._spool.truncate()

    def close(self) -> None:
        self._spool.close()
        super().close()


class _SpooledMembers:
    """zipfile's list of members, kept in a temporary file instead of memory.

    A zip ends with a directory of every member, so zipfile holds a ZipInfo (about 500
    bytes) per member until it writes that directory: 25 MB for 50,000 masks, growing
    with the dataset. Pickled to disk as they come and read back once at the end, they
    cost no memory. zipfile only appends to this list, takes its length and iterates it.
    """

    def __init__(self):
        self._file = tempfile.TemporaryFile()
        self._count = 0

    def append(self, info: zipfile.ZipInfo) -> None:
        pickle.dump(info, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[zipfile.ZipInfo]:
        self._file.seek(0)
        for _ in range(self._count):
            yield pickle.load(self._file)  # our own file, written just above: safe to unpickle
        self._file.seek(0, io.SEEK_END)

    def close(self) -> None:
        self._file.close()


class _Unindexed(dict):
    """zipfile's name index, left empty: it only serves to warn of repeated names, and ours are unique."""

    def __setitem__(self, name, info) -> None:
        pass


class _StreamingZipFile(zipfile.ZipFile):
    """A ZipFile for writing whose memory does not grow with the number of members."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filelist = _SpooledMembers()
        self.NameToInfo = _Unindexed()


def zip_pieces(entries: Iterable[tuple[str, bytes | Iterable[str | bytes], bool]], *, date_time) -> Iterator[bytes]:
    """Yield a zip archive of ``(name, content, compress)`` entries as it is written.

    ``content`` is bytes, or an iterable of pieces for a member too big to hold (written as
    ZIP64). Written to an unseekable stream, zipfile puts each member's sizes in a data
    descriptor after it, so nothing is ever rewound; the list of members for the closing
    directory waits on disk (``_SpooledMembers``). PNG members are stored, text is deflated.
    Names must be unique.
    """
    pipe = _Pipe()
    archive = _StreamingZipFile(pipe, "w", allowZip64=True)
    with contextlib.closing(pipe), contextlib.closing(archive.filelist), archive:
        for name, content, compress in entries:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            if isinstance(content, bytes):
                archive.writestr(info, content)
            else:
                with archive.open(info, "w", force_zip64=True) as member:
                    for piece in content:
                        member.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
                        yield from pipe.take()
            yield from pipe.take()
        archive.close()  # writes the closing directory, still into the pipe
        yield from pipe.take()
