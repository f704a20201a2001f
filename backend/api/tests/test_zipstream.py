"""Streaming zip archives: valid for zipfile and Info-ZIP, members larger than memory, constant memory."""

import io
import shutil
import subprocess
import zipfile

import pytest

from backend.api.zipstream import zip_pieces


def test_a_streamed_zip_is_valid_and_holds_a_member_larger_than_memory_would_like():
    big = (b"0123456789" * 100_000 for _ in range(30))  # 30 MB of text, never held at once
    pieces = zip_pieces([("small.bin", b"\x00\x01", False), ("big.txt", big, True)], date_time=(2026, 1, 2, 3, 4, 6))
    largest = 0
    data = io.BytesIO()
    for piece in pieces:
        largest = max(largest, len(piece))
        data.write(piece)
    archive = zipfile.ZipFile(data)
    assert archive.testzip() is None
    assert archive.read("small.bin") == b"\x00\x01"
    assert archive.getinfo("big.txt").file_size == 30_000_000
    assert archive.getinfo("big.txt").compress_type == zipfile.ZIP_DEFLATED
    assert largest < 2_000_000  # the member was written as it came, not gathered first


def test_a_zip_of_many_members_is_written_in_constant_memory():
    import tracemalloc

    def entries(count):
        return ((f"masks/image_{i:06d}__annotator.png", b"x" * 500, False) for i in range(count))

    peaks = []
    for count in (2_000, 20_000):
        tracemalloc.start()
        for _ in zip_pieces(entries(count), date_time=(2026, 1, 1, 0, 0, 0)):
            pass
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # zipfile alone holds ~500 bytes per member until the end: 10 MB more for the larger one.
    assert peaks[1] < peaks[0] + 1_000_000, peaks


@pytest.mark.skipif(shutil.which("unzip") is None, reason="needs Info-ZIP's unzip")
def test_info_zips_unzip_accepts_the_streamed_archive(tmp_path):
    path = tmp_path / "streamed.zip"
    entries = [(f"masks/m{i}.png", bytes([i % 256]) * i, i % 2 == 0) for i in range(300)]
    entries.append(("annotations.csv", iter(["a,b\r\n"] * 100_000), True))
    path.write_bytes(b"".join(zip_pieces(entries, date_time=(2026, 1, 1, 0, 0, 0))))
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "No errors detected" in result.stdout, result.stdout + result.stderr
