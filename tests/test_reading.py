"""The bounded file reader every reader of a user's file goes through (models, .onnx, images, classes, data)."""

from __future__ import annotations

import os
import threading
import tracemalloc

import pytest

from saliency_cli.errors import UserError
from saliency_cli.reading import HEAD_BYTES, TooLong, read_bounded, read_problem, read_user_file


def _peak(fn):
    """The result (or exception) of fn() and the peak of memory Python allocated meanwhile."""
    tracemalloc.start()
    try:
        try:
            result = fn()
        except Exception as exc:  # handed back for the test to check
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_file_at_the_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 40)
    assert read_bounded(path, 10_240) == path.read_bytes()
    with pytest.raises(TooLong) as caught:
        read_bounded(path, 10_239)
    assert (caught.value.size, caught.value.limit) == (10_240, 10_239)
    assert str(caught.value) == "longer than 10,239 bytes"
    assert caught.value.larger_than("a model") == "file of 10,240 bytes is larger than a model may be (10,239 bytes)"


def test_a_large_regular_file_is_refused_by_its_size_before_any_of_it_is_read(tmp_path):
    path = tmp_path / "sparse"
    with open(path, "wb") as fh:
        fh.truncate(2**30)  # a sparse GiB: reading it would allocate a GiB
    heads = []
    error, peak = _peak(lambda: read_bounded(path, 2**20, check_head=heads.append))
    assert isinstance(error, TooLong) and error.size == 2**30
    assert heads == [] and peak < 2**16


def test_an_endless_device_is_refused_after_limit_plus_one_bytes(tmp_path):
    limit = 3 * 2**20 + 5
    error, peak = _peak(lambda: read_bounded("/dev/zero", limit))
    assert isinstance(error, TooLong) and error.size is None
    assert error.larger_than("a model") == f"larger than a model may be ({limit:,} bytes; an endless stream?)"
    assert peak < 2 * limit + 2**21  # the chunks and their join, never more than the bound's worth twice


def test_an_endless_pipe_is_refused_and_a_finite_one_is_read(tmp_path):
    for total, limit in ((50 * 2**20, 2**20), (3000, 4096)):
        read_fd, write_fd = os.pipe()

        def feed(fd=write_fd, total=total):
            try:
                with os.fdopen(fd, "wb") as out:
                    for _ in range(total // 1000):
                        out.write(b"x" * 1000)
            except BrokenPipeError:
                pass

        writer = threading.Thread(target=feed)
        writer.start()
        try:
            result, _ = _peak(lambda fd=read_fd, limit=limit: read_bounded(f"/dev/fd/{fd}", limit))
        finally:
            os.close(read_fd)
            writer.join()
        if total > limit:
            assert isinstance(result, TooLong) and result.size is None
        else:
            assert result == b"x" * total


def test_check_head_sees_the_first_bytes_and_can_refuse_before_the_rest_is_read(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"PK\x03\x04" + b"y" * 100)
    heads = []
    assert read_bounded(path, 200, check_head=heads.append) == path.read_bytes()
    assert heads == [b"PK\x03\x04yyyy"] and len(heads[0]) == HEAD_BYTES

    def refuse(head):
        raise ValueError(f"head {head!r}")

    error, peak = _peak(lambda: read_bounded("/dev/zero", 2**28, check_head=refuse))
    assert str(error) == f"head {bytes(HEAD_BYTES)!r}" and peak < 2**16
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    heads.clear()
    assert read_bounded(empty, 10, check_head=heads.append) == b"" and heads == [b""]


def test_missing_directory_and_unreadable_files_propagate_os_errors_that_read_problem_words(tmp_path):
    (tmp_path / "plain").write_bytes(b"x")
    cases = {
        tmp_path / "none": (FileNotFoundError, "no such file"),
        tmp_path: (IsADirectoryError, "is a directory, not a thing"),
        tmp_path / "plain" / "below": (NotADirectoryError, "cannot read (Not a directory)"),
    }
    for path, (kind, words) in cases.items():
        with pytest.raises(kind) as caught:
            read_bounded(path, 10)
        assert read_problem(caught.value, "a thing") == words
        with pytest.raises(UserError) as user:
            read_user_file(str(path), 10, f"--opt {path}", "a thing")
        assert str(user.value) == f"--opt {path}: {words}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file without read permission")
def test_a_file_without_read_permission_is_one_line(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(UserError, match=r"secret: cannot read \(Permission denied\)$"):
        read_user_file(str(path), 10, str(path), "a file")


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="Linux's /proc: a file that opens but never reads")
def test_a_file_that_opens_but_cannot_be_read_is_one_line():
    with pytest.raises(UserError, match=r"^mem: cannot read \(Input/output error\)$"):
        read_user_file("/proc/self/mem", 10, "mem", "a file")


def test_read_user_file_words_a_long_file_by_its_limit(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    assert read_user_file(str(path), 5, "n", "w") == b"12345"
    with pytest.raises(UserError, match=r"^--targets f: longer than 4 bytes$"):
        read_user_file(str(path), 4, "--targets f", "a file of classes")
