"""Blocks shared out (saliency_cli/sharing): keys, the checkpoint's files, the model's bytes, stops mid-run."""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass

import numpy as np
import pytest

from saliency_cli.errors import Stopped, UserError
from saliency_cli.nn.modelfile import model_bytes
from saliency_cli.sharing import Blocks
from saliency_cli.sharing.checkpoint import MANIFEST, Checkpoint, _Restricted, block_name
from saliency_cli.sharing.cluster import SchedulerLost, parse_address
from saliency_cli.sharing.executors import Processes, Serial, task
from saliency_cli.sharing.fingerprint import fingerprint
from saliency_cli.sharing.shipment import Shipment, ship, unpack


@dataclass(frozen=True)
class _Opts:
    steps: int
    baseline: object


def test_a_fingerprint_is_stable_and_changes_with_any_value_type_or_shape():
    a = np.arange(6.0)
    base = fingerprint(1, "x", a, _Opts(4, None), {"b": 2, "a": 1}, (slice(0, 3),))
    assert base == fingerprint(1, "x", a.copy(), _Opts(4, None), {"a": 1, "b": 2}, (slice(0, 3),))
    changed = [
        fingerprint(1.0, "x", a, _Opts(4, None), {"b": 2, "a": 1}, (slice(0, 3),)),  # 1.0 is not 1
        fingerprint(1, "x", a.reshape(2, 3), _Opts(4, None), {"b": 2, "a": 1}, (slice(0, 3),)),
        fingerprint(1, "x", a.astype(np.float32), _Opts(4, None), {"b": 2, "a": 1}, (slice(0, 3),)),
        fingerprint(1, "x", a, _Opts(5, None), {"b": 2, "a": 1}, (slice(0, 3),)),
        fingerprint(1, "x", a, _Opts(4, np.zeros(1)), {"b": 2, "a": 1}, (slice(0, 3),)),
        fingerprint(1, "x", a, _Opts(4, None), {"b": 2, "a": 1}, (slice(0, 4),)),
        fingerprint(1, "x", np.nextafter(a, 7), _Opts(4, None), {"b": 2, "a": 1}, (slice(0, 3),)),
    ]
    assert len({base, *changed}) == 1 + len(changed)
    with pytest.raises(TypeError, match="cannot fingerprint"):
        fingerprint(object())


def test_the_model_travels_as_checked_bytes_and_comes_back_the_same(shipped):
    net = shipped("blobs8x8")
    shipment = ship(net)
    again = unpack(shipment)
    assert model_bytes(again) == model_bytes(net) == shipment.data
    assert (again.path, again.sha256) == (net.path, net.sha256)
    damaged = Shipment(shipment.data[:-1] + bytes([shipment.data[-1] ^ 1]), shipment.digest, None, None)
    with pytest.raises(ValueError, match="do not match their SHA-256"):
        unpack(damaged)


def test_a_task_refuses_a_worker_of_another_version(shipped):
    with pytest.raises(UserError, match="install one version"):
        task(len, ship(shipped("blobs6x6")), "0.0.1", ((),))


def _double(net, values):
    return [2 * v for v in values]


def _probe_set(n):
    return [((i, i + 1),) for i in range(n)]


def test_a_checkpoint_keeps_each_block_and_a_rerun_reuses_them(shipped, tmp_path):
    net, told = shipped("blobs6x6"), []
    jobs = _probe_set(4)
    first = Blocks(Serial(), Checkpoint(str(tmp_path / "ck")), "t", told.append).map(_double, net, jobs)
    assert first == [[0, 2], [2, 4], [4, 6], [6, 8]]
    assert sorted(os.listdir(tmp_path / "ck")) == [*(block_name(i) for i in range(4)), MANIFEST]
    # A rerun computes nothing: an executor that fails shows it.
    assert Blocks(_Failing(), Checkpoint(str(tmp_path / "ck")), "t", told.append).map(_double, net, jobs) == first
    assert told == ["checkpoint " + str(tmp_path / "ck") + ": reused 4 of 4 blocks"]


class _Failing:
    name = "nowhere"

    def run(self, fn, net, jobs, done):
        raise AssertionError(f"asked to compute {len(jobs)} blocks")


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "swap"])
def test_a_damaged_block_file_is_computed_again_never_trusted(shipped, tmp_path, damage):
    net, told, ck = shipped("blobs6x6"), [], tmp_path / "ck"
    jobs = _probe_set(3)
    Blocks(Serial(), Checkpoint(str(ck)), "t").map(_double, net, jobs)
    path, other = ck / block_name(1), ck / block_name(2)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) - 5])
    elif damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # another block's file under this block's name: its key differs
        path.write_bytes(other.read_bytes())
    seen = []

    class Counting(Serial):
        def run(self, fn, net, jobs, done):
            seen.extend(jobs)
            super().run(fn, net, jobs, done)

    again = Blocks(Counting(), Checkpoint(str(ck)), "t", told.append).map(_double, net, jobs)
    assert again == [[0, 2], [2, 4], [4, 6]] and seen == [jobs[1]]
    assert told == [f"checkpoint {ck}: reused 2 of 3 blocks; 1 damaged block file computed again"]
    assert path.read_bytes() == data  # written again, whole


def test_a_directory_of_another_run_is_refused_unless_restart(shipped, tmp_path):
    net, ck = shipped("blobs6x6"), str(tmp_path / "ck")
    Blocks(Serial(), Checkpoint(ck)).map(_double, net, _probe_set(2))
    with pytest.raises(UserError, match=r"holds the blocks of another run .* add --restart"):
        Blocks(Serial(), Checkpoint(ck)).map(_double, net, [((5, 6),), ((1, 2),)])
    with pytest.raises(UserError, match="another run"):  # another model
        Blocks(Serial(), Checkpoint(ck)).map(_double, shipped("blobs8x8"), _probe_set(2))
    assert Blocks(Serial(), Checkpoint(ck, restart=True)).map(_double, net, [((5, 6),)]) == [[10, 12]]
    assert sorted(os.listdir(ck)) == [block_name(0), MANIFEST]


def test_a_directory_with_other_files_is_refused_even_with_restart(shipped, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    for restart in (False, True):
        with pytest.raises(UserError, match=r"holds files that are not checkpoint blocks \(notes.txt"):
            Blocks(Serial(), Checkpoint(str(tmp_path), restart)).map(_double, shipped("blobs6x6"), _probe_set(1))
    assert os.listdir(tmp_path) == ["notes.txt"]
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="not a directory"):
        Checkpoint(str(tmp_path / "file")).open("run", 1, "t")


def test_a_checkpoint_that_cannot_be_written_is_one_line_and_exit_2(shipped, tmp_path, monkeypatch, run):
    (tmp_path / "file").write_text("")
    for where in (tmp_path / "file" / "ck", "/proc/saliency-cli-ck"):  # under a file; where nothing can be made
        with pytest.raises(UserError, match=rf"^--checkpoint {where}: cannot write "):
            Blocks(Serial(), Checkpoint(str(where))).map(_double, shipped("blobs6x6"), _probe_set(1))
    result = run("evaluate", "--probes", "2", "--methods", "random", "--checkpoint", tmp_path / "file" / "ck")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: --checkpoint {tmp_path / 'file' / 'ck'}: cannot write ")

    import saliency_cli.files as files

    def full_after_the_manifest(path, data, mode, write=files._temporary):
        if path.name != MANIFEST:
            raise OSError(28, "No space left on device")
        return write(path, data, mode)

    monkeypatch.setattr(files, "_temporary", full_after_the_manifest)  # full as the first block is kept
    with pytest.raises(UserError, match=rf"--checkpoint \S+: cannot write {block_name(0)}: No space left on device"):
        Blocks(Serial(), Checkpoint(str(tmp_path / "ck"))).map(_double, shipped("blobs6x6"), _probe_set(1))


def test_a_block_file_is_never_code():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        _Restricted(io.BytesIO(pickle.dumps(Evil()))).load()
    data = {"a": np.arange(3.0), "b": [np.float64(2.5), np.int64(3)], "c": (1, None, "s")}
    back = _Restricted(io.BytesIO(pickle.dumps(data, protocol=5))).load()
    assert np.array_equal(back["a"], data["a"]) and back["b"] == data["b"] and back["c"] == data["c"]


class _StopAfter:
    """Finishes `n` blocks, then raises `exc` (Ctrl-C, a lost scheduler)."""

    name = "tcp://127.0.0.1:1"

    def __init__(self, n, exc):
        self.n, self.exc = n, exc

    def run(self, fn, net, jobs, done):
        for i, job in enumerate(jobs[: self.n]):
            done(i, fn(net, *job))
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "code", "said"),
    [
        (KeyboardInterrupt(), 130, "interrupted: "),
        (SchedulerLost("gone"), 75, "lost the scheduler (tcp://127.0.0.1:1): "),
    ],
)
def test_a_stopped_run_says_what_it_kept_and_a_rerun_goes_on(shipped, tmp_path, exc, code, said):
    net, ck, jobs = shipped("blobs6x6"), tmp_path / "ck", _probe_set(5)
    with pytest.raises(Stopped) as stopped:
        Blocks(_StopAfter(2, exc), Checkpoint(str(ck)), "t").map(_double, net, jobs)
    assert stopped.value.exit_code == code
    assert (
        str(stopped.value) == f"{said}2 of 5 blocks are finished and kept in {ck}: run the same command again to go on"
    )
    told = []
    assert Blocks(Serial(), Checkpoint(str(ck)), "t", told.append).map(_double, net, jobs) == [
        _double(net, *j) for j in jobs
    ]
    assert told == [f"checkpoint {ck}: reused 2 of 5 blocks"]
    with pytest.raises(Stopped, match=r"1 of 5 blocks were finished and not kept \(--checkpoint DIR keeps them"):
        Blocks(_StopAfter(1, exc)).map(_double, net, jobs)


def test_processes_hand_back_each_block_the_same_as_this_process(shipped):
    net = shipped("blobs6x6")
    jobs = _probe_set(3)
    assert Blocks(Processes(2)).map(_double, net, jobs) == Blocks(Serial()).map(_double, net, jobs)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("local:0", "local:N needs N workers from 1 to 64"),
        ("local:x", "local:N needs N workers"),
        ("local:\u00b3", "local:N needs N workers"),  # a superscript 3: isdigit() takes it, int() does not
        ("local:\u0662", "local:N needs N workers"),  # an Arabic-Indic 2
        ("host:8786", "give a scheduler's address such as tcp://host:8786"),
        ("tcp://", "give a scheduler's address"),
    ],
)
def test_a_bad_scheduler_address_is_refused_in_one_line(address, message):
    with pytest.raises(UserError, match=message):
        parse_address(address)
    assert parse_address("local:3") == ("local", 3) and parse_address("tcp://h:1") == ("tcp://h:1", None)
