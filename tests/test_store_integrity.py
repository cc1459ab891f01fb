"""Nothing lost, nothing mixed: the store's lock, provenance, checks, signals, atomic files.

Real processes where it matters: a second ``countysim sweep`` on a store that another
process holds is refused and changes nothing; sweeps killed (SIGKILL) at seeded random
moments resume to a store identical, file by file, to an unbroken one; SIGTERM and SIGHUP
stop a sweep with one line and no worker left behind. Damaged stores (a chunk, a folder,
metadata or a byte) are found by ``countysim verify`` and repaired by ``--resume``.
Writes that fail (a file-size limit, a full disk) leave the previous file intact.

The ``stress`` variants (``make test-slow``) repeat the kill campaign many more times.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import write_toml
from countysim import StoreError, open_results, sweep
from countysim.cli import EXIT_USAGE, main
from countysim.sweeps import store as store_module
from countysim.sweeps.files import OutputError, write_atomically
from countysim.sweeps.integrity import check_store, lock_path, store_lock
from countysim.sweeps.store import read_status
from test_district import _edit, _set
from test_sweep import (
    GRID,
    InterruptingExecutor,
    assert_same_store,
    digest,
    experiment_text,
)

# The fixtures of the sweep tests, shared (module-scoped: made again for this module).
from test_sweep import grid_file as grid_file
from test_sweep import long_file as long_file
from test_sweep import long_store as long_store
from test_sweep import serial_store as serial_store
from test_sweep import small_base as small_base

COUNTYSIM = Path(sys.executable).with_name("countysim")
PROC = Path("/proc")


@pytest.fixture(scope="module")
def grid_store(serial_store) -> Path:
    """The grid swept in this process (``test_sweep.serial_store``): the reference."""
    return serial_store


def copy_store(store: Path, to: Path) -> Path:
    shutil.copytree(store, to)
    return to


def _terminal_signals() -> None:
    """In the child: SIGHUP and SIGINT at their defaults, as in a terminal. Under ``nohup``
    or in a shell's background job (a test run started that way) they are inherited as
    ignored, and the CLI rightly leaves them so."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_sweep(experiment: Path, store: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(COUNTYSIM), "sweep", str(experiment), "--store", str(store),
                             "--quiet", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_terminal_signals)


def wait_for_runs(proc: subprocess.Popen, store: Path, n: int) -> None:
    """Wait until ``n`` runs have a status chunk (or the process ended)."""
    status_dir = store / "status" / "c"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if status_dir.is_dir() and sum(1 for p in status_dir.rglob("*") if p.is_file()) >= n:
            return
        time.sleep(0.005)


def descendants(pid: int) -> set[int]:
    """Process IDs below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def wait_gone(pids: set[int]) -> set[int]:
    """The processes of ``pids`` still alive after waiting up to a minute."""
    deadline = time.monotonic() + 60
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


needs_proc = pytest.mark.skipif(not PROC.is_dir(), reason="needs Linux /proc")


# ------------------------------------------------------------------------------- lock


def test_a_second_writer_is_refused_and_changes_nothing(grid_store, grid_file, tmp_path):
    """The store is held by this process; the CLI in another process must not touch it."""
    store = copy_store(grid_store, tmp_path / "s.zarr")
    zarr_json = store / "status" / "zarr.json"
    zarr_json.write_bytes(zarr_json.read_bytes())
    # What the holder may be doing: creating a layout, writing a chunk.
    creating = tmp_path / ".s.zarr.creating-0123456789ab"
    creating.mkdir()
    partial = store / "workers" / "c" / "0" / "0" / "0" / "0.abc.partial"
    partial.write_bytes(b"half a chunk")
    (store / "status" / "c" / "1" / "1").unlink()  # a pending run it could run
    before = digest(store)
    with store_lock(store):
        proc = subprocess.run([str(COUNTYSIM), "sweep", str(grid_file), "--store", str(store),
                               "--resume", "--quiet"], capture_output=True, text=True,
                              timeout=120, check=False)
        assert proc.returncode == EXIT_USAGE, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"countysim: error: {store} is being "
                                                       "written by another countysim sweep")
        assert f"(process {os.getpid()})" in lines[0] and "nothing was changed" in lines[0]
        assert digest(store) == before and creating.is_dir() and partial.is_file()
        # A new store beside a creation in progress: refused as well.
        with store_lock(tmp_path / "new.zarr"):
            assert main(["sweep", str(grid_file), "--store", str(tmp_path / "new.zarr"),
                         "--quiet"]) == EXIT_USAGE
        assert not (tmp_path / "new.zarr").exists()
    # Released: the lock file stays and the next sweep goes ahead.
    assert lock_path(store).is_file()
    summary = sweep(grid_file, store, workers=1, resume=True, progress=False)
    assert summary.ran == 1 and not creating.exists() and not partial.exists()
    assert_same_store(grid_store, store)


def test_two_sweep_processes_on_one_store(grid_store, grid_file, tmp_path):
    """A real sweep holds the store (paused mid-way); a second one is refused."""
    store = tmp_path / "s.zarr"
    first = start_sweep(grid_file, store, "--workers", "1")
    try:
        wait_for_runs(first, store, 2)
        first.send_signal(signal.SIGSTOP)
        files_before = digest(store)
        for extra in ((), ("--resume",)):
            second = subprocess.run([str(COUNTYSIM), "sweep", str(grid_file), "--store",
                                     str(store), "--quiet", *extra], capture_output=True,
                                    text=True, timeout=120, check=False)
            assert second.returncode == EXIT_USAGE, second.stderr
            assert second.stderr.count("\n") == 1
            assert "being written by another countysim sweep" in second.stderr
        assert digest(store) == files_before
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert_same_store(grid_store, store)


# -------------------------------------------------------------------- kills at random


def kill_campaign(long_file: Path, store: Path, kills: int, seed: int) -> int:
    """SIGKILL a 2-worker sweep ``kills`` times at seeded random delays; resume each time.

    Returns:
        How many of the kills happened before the sweep had finished.
    """
    rng = np.random.default_rng(seed)
    survived = 0
    for _ in range(kills):
        # --resume of a store that does not exist is refused: a kill may come before the
        # store is made.
        proc = start_sweep(long_file, store, "--workers", "2",
                           *(("--resume",) if store.exists() else ()))
        # Somewhere between the start (before the store exists) and well into the runs.
        time.sleep(float(rng.uniform(0.0, 2.0)))
        finished = proc.poll() is not None
        if not finished:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        survived += not finished
    # On a loaded machine every kill can come before the store is made: then nothing is
    # left to resume and the last sweep starts it afresh.
    summary = sweep(long_file, store, workers=1, resume=store.exists(), progress=False)
    assert summary.done == summary.runs
    return survived


def record_kills(kills: int, survived: int) -> None:
    """Add to the tally file of ``COUNTYSIM_FUZZ_TALLY`` (see test_inputs_hardened)."""
    target = os.environ.get("COUNTYSIM_FUZZ_TALLY")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kills": kills, "killed_mid_sweep": survived}) + "\n")


def test_sweeps_killed_at_random_moments_resume_to_the_same_store(long_store, long_file,
                                                                   tmp_path):
    store = tmp_path / "killed.zarr"
    survived = kill_campaign(long_file, store, kills=3, seed=8)
    record_kills(3, survived)
    assert survived >= 1
    assert not list(store.rglob("*.partial"))
    assert not list(tmp_path.glob(".killed.zarr.creating-*"))
    assert_same_store(long_store, store)
    assert check_store(store).ok


@pytest.mark.stress
def test_kill_campaign_long(long_store, long_file, tmp_path):
    store = tmp_path / "killed.zarr"
    survived = kill_campaign(long_file, store, kills=25, seed=2025)
    record_kills(25, survived)
    assert survived >= 20
    assert_same_store(long_store, store)


# --------------------------------------------------------------------------- signals


@needs_proc
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_the_sweep_and_its_workers(long_store, long_file, tmp_path, sig,
                                                  status):
    store = tmp_path / "s.zarr"
    proc = start_sweep(long_file, store, "--workers", "2")
    wait_for_runs(proc, store, 2)
    helpers = descendants(proc.pid)
    assert proc.poll() is None and helpers, "the sweep ended before the signal"
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == status
    lines = proc.stderr.read().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"countysim: stopped by {sig.name}; the finished runs are in {store}")
    assert not wait_gone(helpers), "workers or the fork server outlived the sweep"
    left = read_status(store)
    assert (left == "pending").any()
    if sig != signal.SIGTERM:
        return  # the store after a stop: checked once, for SIGTERM
    summary = sweep(long_file, store, workers=1, resume=True, progress=False)
    assert summary.ran == int((left == "pending").sum())
    assert_same_store(long_store, store)


@needs_proc
def test_workers_end_when_the_sweep_is_killed(long_file, tmp_path):
    """subprocess.run(..., timeout=) kills with SIGKILL: nothing can clean up but workers."""
    store = tmp_path / "s.zarr"
    proc = start_sweep(long_file, store, "--workers", "2")
    wait_for_runs(proc, store, 2)
    helpers = descendants(proc.pid)
    assert proc.poll() is None and len(helpers) >= 2
    proc.kill()
    proc.wait()
    assert not wait_gone(helpers), "workers outlived a killed sweep"


# ----------------------------------------------------------------- checks and repairs


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x01  # inside the compressed frame, before zstd's 4-byte checksum
    path.write_bytes(bytes(data))


DAMAGE = {
    "chunk-deleted": (lambda s: (s / "workers/c/1/0/0/0").unlink(), "1 finished runs damaged"),
    "variable-folder-deleted": (lambda s: shutil.rmtree(s / "urban_placements"),
                                "arrays missing or damaged (urban_placements)"),
    "metadata-deleted": (lambda s: (s / "workers/zarr.json").unlink(),
                         "arrays missing or damaged (workers)"),
    "status-metadata-deleted": (lambda s: (s / "status/zarr.json").unlink(),
                                "arrays missing or damaged (status)"),
    "byte-flipped": (lambda s: _flip_last_byte(s / "village_workers/c/2/1/0/0/0"),
                     "village_workers: unreadable"),
    "status-chunk-corrupt": (lambda s: (s / "status/c/0/1").write_bytes(b"\x00garbage"),
                             "1 status chunks unreadable"),
    "per-sample-chunk-deleted": (lambda s: (s / "pilot/c/0/0").unlink(),
                                 "pilot: chunk missing"),
    "coordinate-deleted": (lambda s: shutil.rmtree(s / "time"),
                           "arrays missing or damaged (time)"),
    "design-chunk-deleted": (lambda s: (s / "pilot_villages/c/0").unlink(),
                             "arrays missing or damaged (pilot_villages)"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damage_is_found_by_verify_and_repaired_by_resume(grid_store, grid_file, tmp_path,
                                                          capsys, case):
    store = copy_store(grid_store, tmp_path / "s.zarr")
    damage, fragment = DAMAGE[case]
    damage(store)
    assert main(["verify", str(store)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and fragment in out, out
    assert main(["sweep", str(grid_file), "--store", str(store), "--resume", "--quiet"]) == 0
    summary = capsys.readouterr().out
    assert "runs were missing or damaged" in summary or "damaged arrays restored" in summary
    assert_same_store(grid_store, store)
    assert main(["verify", str(store)]) == 0
    assert "ok; 8 finished runs of 8 checked" in capsys.readouterr().out


READER_DAMAGE = {**DAMAGE, "metadata-corrupt": (
    lambda s: (s / "workers/zarr.json").write_text("{not json", encoding="utf-8"),
    "arrays missing or damaged (workers)")}


@pytest.mark.parametrize("case", sorted(READER_DAMAGE))
def test_every_reader_refuses_a_damaged_store(grid_store, tmp_path, capsys, case):
    """Issue 18, cases 3 and 10: export and open_results refuse, on one line, naming it."""
    store = copy_store(grid_store, tmp_path / "s.zarr")
    damage, fragment = READER_DAMAGE[case]
    damage(store)
    out = tmp_path / "out.nc"
    assert main(["export", str(store), str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and "nothing was read" in err, err
    assert "Traceback" not in err and "Zstd" not in err and not out.exists()
    with pytest.raises(StoreError, match="run the sweep again with --resume"):
        open_results(store)


def test_two_exports_of_one_store_are_byte_identical(grid_store, tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    assert main(["export", str(grid_store), str(a)]) == 0
    assert main(["export", str(grid_store), str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


def test_verify_refuses_what_is_not_a_store(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == EXIT_USAGE
    assert "is not a countysim sweep store" in capsys.readouterr().err


# ------------------------------------------------------------------------- provenance


@pytest.fixture
def own_base(small_base, tmp_path) -> Path:
    """A private copy of the small scenario and its district CSVs (to be edited)."""
    folder = tmp_path / "base"
    shutil.copytree(small_base.parent, folder)
    return folder / small_base.name


def test_resume_refuses_changed_district_data_unless_forced(own_base, grid_store, tmp_path,
                                                            capsys):
    exp = write_toml(tmp_path / "grid.toml", experiment_text(own_base, GRID))
    store = tmp_path / "s.zarr"
    with pytest.raises(KeyboardInterrupt):
        sweep(exp, store, executor=InterruptingExecutor(6), progress=False)
    _edit(own_base.parent / "district", "villages", _set(0, "collective_income", "123400"))
    before = digest(store)
    assert main(["sweep", str(exp), "--store", str(store), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "was written from other inputs or code (base/district/villages.csv changed)" in err
    assert "--force-mixed" in err and digest(store) == before
    assert main(["sweep", str(exp), "--store", str(store), "--resume", "--force-mixed",
                 "--quiet"]) == 0
    ds = open_results(store)
    origins = json.loads(ds.attrs["origins"])
    assert len(origins) == 2
    changed = [k for k in origins[0]["inputs"] if origins[0]["inputs"][k]
               != origins[1]["inputs"][k]]
    assert changed == ["base/district/villages.csv"]
    finished_first = ds["origin"].values == 0
    assert 0 < finished_first.sum() < finished_first.size  # runs of both kinds, labelled
    assert set(np.unique(ds["origin"].values)) == {0, 1}
    # The same mix again: found, not appended twice; with the original inputs: origin 0.
    assert sweep(exp, store, workers=1, resume=True, force_mixed=True,
                 progress=False).ran == 0
    assert len(json.loads(open_results(store).attrs["origins"])) == 2


def test_resume_refuses_other_code_and_other_scenario_text(grid_store, grid_file, own_base,
                                                           tmp_path, monkeypatch):
    store = copy_store(grid_store, tmp_path / "s.zarr")
    real = store_module.provenance()
    monkeypatch.setattr(store_module, "provenance",
                        lambda: {**real, "code_digest": "0" * 64, "git_commit": "abc+dirty"})
    with pytest.raises(StoreError, match=r"the countysim code changed \(commit"):
        sweep(grid_file, store, workers=1, resume=True, progress=False)
    monkeypatch.undo()
    exp = write_toml(tmp_path / "grid.toml", experiment_text(own_base, GRID))
    store = tmp_path / "own.zarr"
    sweep(exp, store, workers=1, progress=False)
    own_base.write_text(own_base.read_text() + "# a comment is a change of the file\n")
    with pytest.raises(StoreError, match=r"small\.toml changed"):
        sweep(exp, store, workers=1, resume=True, progress=False)


# ----------------------------------------------------------------------- atomic files


def _limited(limit_bytes: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return preexec


@pytest.mark.parametrize("command", ["export", "run"])
def test_a_write_over_the_file_size_limit_keeps_the_old_file(grid_store, small_base,
                                                             tmp_path, command):
    out = tmp_path / "out.nc"
    out.write_bytes(b"the previous good file")
    args = (["export", str(grid_store), str(out)] if command == "export"
            else ["run", str(small_base), "--until", "2025-02", "--out", str(out)])
    proc = subprocess.run([str(COUNTYSIM), *args], capture_output=True, text=True,
                          timeout=120, check=False, preexec_fn=_limited(50_000))
    assert proc.returncode == EXIT_USAGE, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == (f"countysim: error: {out}: <output>: cannot "
                                            "write: File too large; the previous file is "
                                            "unchanged")
    assert out.read_bytes() == b"the previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = write_toml(tmp_path / "a.txt", "old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space left on device; the previous file is "
                                          "unchanged"):
        write_atomically(target, b"new")
    with pytest.raises(OutputError, match="nothing was written"):
        write_atomically(tmp_path / "b.txt", b"new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt"]


def test_a_full_disk_during_a_sweep_is_one_line_and_resumable(grid_store, grid_file,
                                                              tmp_path, monkeypatch, capsys):
    import zarr.storage._local as local

    store = tmp_path / "s.zarr"
    put = local._put
    full_at = store / "workers" / "c" / "2"  # the disk fills up at sample 2's runs

    def put_until_full(path, value, exclusive=False):
        if Path(path).is_relative_to(full_at):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return put(path, value, exclusive)

    monkeypatch.setattr(local, "_put", put_until_full)
    assert main(["sweep", str(grid_file), "--store", str(store), "--workers", "1",
                 "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write: No space left on device" in err
    assert "the runs finished so far are kept" in err and "--resume" in err
    assert (read_status(store)[:2] != "pending").all()
    monkeypatch.undo()
    assert main(["sweep", str(grid_file), "--store", str(store), "--workers", "1",
                 "--resume", "--quiet"]) == 0
    assert_same_store(grid_store, store)


def test_outputs_are_refused_inside_a_store(grid_store, small_base, tmp_path, capsys):
    store = copy_store(grid_store, tmp_path / "s.zarr")
    before = digest(store)
    assert main(["export", str(store), str(store / "zarr.json")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is inside the Zarr store" in err
    assert main(["run", str(small_base), "--until", "2025-01", "--out",
                 str(store / "workers" / "x.nc")]) == EXIT_USAGE
    assert "is inside the Zarr store" in capsys.readouterr().err
    assert main(["export", str(store), str(tmp_path)]) == EXIT_USAGE
    assert "is a folder" in capsys.readouterr().err
    assert digest(store) == before


def test_export_writes_the_results(grid_store, tmp_path):
    out = tmp_path / "x.nc"
    assert main(["export", str(grid_store), str(out)]) == 0
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        xr.testing.assert_equal(ds["workers"], open_results(grid_store)["workers"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


def test_store_chunks_carry_checksums(grid_store):
    for name in ("workers", "status", "error", "sample", "pilot"):
        meta = json.loads((grid_store / name / "zarr.json").read_text())
        zstd = [c for c in meta["codecs"] if c["name"] == "zstd"]
        assert zstd and zstd[0]["configuration"]["checksum"] is True, name
    assert zarr.open_group(str(grid_store)).attrs["store_format"] == 2


# ------------------------------------------------------------ inputs read once (issue 18)


def _edit_during_sweep(monkeypatch, district: Path, after: int = 1) -> list[int]:
    """Edit ``villages.csv`` (more workers in village 0) once ``after`` runs are written."""
    written = [0]
    original = store_module.RunWriter.write_done

    def write_done(self, sample, replicate, ds):
        original(self, sample, replicate, ds)
        written[0] += 1
        if written[0] == after:
            _edit(district, "villages",
                  lambda f: _set(0, "workforce", str(int(f.loc[0, "workforce"]) + 40))(f))
    monkeypatch.setattr(store_module.RunWriter, "write_done", write_done)
    return written


def test_a_district_csv_edited_during_a_sweep_does_not_enter_it(own_base, grid_store,
                                                                 tmp_path, monkeypatch,
                                                                 capsys):
    exp = write_toml(tmp_path / "grid.toml", experiment_text(own_base, GRID))
    villages = own_base.parent / "district" / "villages.csv"
    original = hashlib.sha256(villages.read_bytes()).hexdigest()
    store = tmp_path / "s.zarr"
    written = _edit_during_sweep(monkeypatch, villages.parent)
    sweep(exp, store, workers=1, progress=False)
    assert written[0] == 6 and hashlib.sha256(villages.read_bytes()).hexdigest() != original
    ds, ref = open_results(store).load(), open_results(grid_store).load()
    # Every run used the district as it was when the sweep started: the same values as
    # the reference sweep of the unedited district, and the digest of those bytes.
    for name in ref.data_vars:
        if name not in ("error", "scenario_hash"):  # these name the district's folder
            xr.testing.assert_equal(ds[name], ref[name])
    assert json.loads(ds.attrs["inputs"])["base/district/villages.csv"] == original
    assert main(["verify", str(store)]) == 0
    # The edit is seen by the next session: resume compares the files with the snapshot.
    assert main(["sweep", str(exp), "--store", str(store), "--resume", "--quiet"]) == 2
    assert "base/district/villages.csv changed" in capsys.readouterr().err


@pytest.mark.stress
@pytest.mark.parametrize("trial", range(5))
def test_edit_campaign_during_sweeps(own_base, grid_store, tmp_path, monkeypatch, trial):
    """Edits at different moments, 1 or 2 workers, the district through a symlink."""
    link = tmp_path / "linked"
    link.symlink_to(own_base.parent, target_is_directory=True)
    exp = write_toml(tmp_path / "grid.toml", experiment_text(link / own_base.name, GRID))
    _edit_during_sweep(monkeypatch, own_base.parent / "district", after=1 + trial)
    store = tmp_path / "s.zarr"
    sweep(exp, store, workers=1 + trial % 2, progress=False)
    ds, ref = open_results(store).load(), open_results(grid_store).load()
    for name in ref.data_vars:
        if name not in ("error", "scenario_hash"):
            xr.testing.assert_equal(ds[name], ref[name])
    assert check_store(store).ok


# ------------------------------------------- outputs replace only what they own (issue 18)


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "store"])
def test_export_refuses_a_target_that_is_not_a_regular_file(grid_store, tmp_path, capsys,
                                                             kind):
    import socket

    target = tmp_path / "target"
    server = None
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
    elif kind == "folder":
        target.mkdir()
        (target / "keep.txt").write_text("x", encoding="utf-8")
    else:
        target = copy_store(grid_store, tmp_path / "copy.zarr")
    before = os.stat(target)
    try:
        assert main(["export", str(grid_store), str(target)]) == EXIT_USAGE
    finally:
        if server is not None:
            server.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    what = {"fifo": "is a FIFO", "socket": "is a socket", "folder": "is a folder",
            "store": "is inside the Zarr store"}[kind]
    assert what in err
    after = os.stat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_devices_are_never_output_files(tmp_path):
    # Checked without writing: were the check to fail, a test run as root would replace
    # the machine's /dev/null.
    for device in ("/dev/null", "/dev/full"):
        with pytest.raises(OutputError, match="is a character device; an output replaces "
                                              "only a regular file"):
            store_module.check_output_path(device, "out")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="is a FIFO"):
        write_atomically(fifo, b"x")
    assert not fifo.is_file() and list(tmp_path.iterdir()) == [fifo]


def test_an_output_through_a_symlink_replaces_the_file_not_the_link(grid_store, tmp_path):
    real = tmp_path / "real.nc"
    real.write_bytes(b"old")
    link = tmp_path / "link.nc"
    link.symlink_to(real)
    assert main(["export", str(grid_store), str(link)]) == 0
    assert link.is_symlink() and real.read_bytes()[:4] == b"\x89HDF"


def test_the_lock_goes_by_the_real_path(grid_store, grid_file, tmp_path, capsys):
    """Issue 18, case 5: a sweep through a symlink to a held store is a second writer."""
    store = copy_store(grid_store, tmp_path / "real.zarr")
    link = tmp_path / "link.zarr"
    link.symlink_to(store, target_is_directory=True)
    before = digest(store)
    with store_lock(store):
        assert main(["sweep", str(grid_file), "--store", str(link), "--resume",
                     "--force-mixed", "--quiet"]) == EXIT_USAGE
    assert "being written by another countysim sweep" in capsys.readouterr().err
    assert digest(store) == before and lock_path(link) == lock_path(store)


@pytest.mark.parametrize("where", ["root", "nested", "nested_array"])
def test_a_store_where_no_store_can_be(grid_store, grid_file, tmp_path, capsys, where):
    outer = copy_store(grid_store, tmp_path / "outer.zarr")
    target = {"root": Path("/"), "nested": outer / "inner.zarr",
              "nested_array": outer / "status" / "inner.zarr"}[where]
    before = digest(outer)
    assert main(["sweep", str(grid_file), "--store", str(target), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ("not the root of the file system" if where == "root" else
            f"is inside the Zarr store {outer}") in err
    assert digest(outer) == before


def test_resume_of_a_store_that_does_not_exist_is_refused(grid_file, tmp_path, capsys):
    store = tmp_path / "typo.zarr"
    assert main(["sweep", str(grid_file), "--store", str(store), "--resume",
                 "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such store to resume" in err
    assert not store.exists()


# --------------------------------------------- signals in every command (issue 18, 6 7 11)

REPO = Path(__file__).resolve().parents[1]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([str(COUNTYSIM), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_terminal_signals)


@pytest.fixture(scope="module")
def forecast_file(small_base, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fc")
    (folder / "targets.toml").write_text(
        '[[targets]]\nid = "always"\nlabel = "x"\nindicator = "legacy_open"\n'
        'aggregation = "december"\ndirection = ">="\nthreshold = 0\nunits = "problems"\n'
        'years = [2025]\nsource = "test"\n', encoding="utf-8")
    return write_toml(folder / "fc.toml", f'name = "fc"\nuntil = "2025-12"\nreplicates = 12\n'
                      f'seed = 3\n[design]\nkind = "scenarios"\nfiles = ["{small_base}"]\n'
                      '[forecast]\ntargets = "targets.toml"\n')


@needs_proc
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                             (signal.SIGINT, 130)])
def test_a_signal_stops_a_forecast_with_a_resume_hint(forecast_file, tmp_path, sig, status):
    store = tmp_path / "fc.zarr"
    proc = _start("forecast", str(forecast_file), "--store", str(store), "--workers", "2",
                  "--quiet", "--out", str(tmp_path / "fc.nc"))
    wait_for_runs(proc, store, 1)
    helpers = descendants(proc.pid)
    assert proc.poll() is None and helpers, "the forecast ended before the signal"
    started = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == status
    assert time.monotonic() - started < 5
    lines = proc.stderr.read().strip().splitlines()
    assert len(lines) == 1, lines
    how = "interrupted" if sig == signal.SIGINT else f"stopped by {sig.name}"
    assert lines[0].startswith(f"countysim: {how}; ")
    assert f"the finished runs are in {store}: run the same command with --resume" in lines[0]
    assert not wait_gone(helpers), "workers outlived the forecast"
    assert not (tmp_path / "fc.nc").exists()


@pytest.fixture(scope="module")
def calibration_file(tmp_path_factory) -> Path:
    text = (REPO / "experiments" / "recover_small.toml").read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("cal")
    text = text.replace('"../scenarios/', f'"{REPO}/scenarios/').replace("workers = 1",
                                                                         "workers = 2")
    return write_toml(folder / "cal.toml", text)


@needs_proc
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_calibrate_leaves_no_workers_behind(calibration_file, tmp_path, sig):
    proc = _start("calibrate", str(calibration_file), "--workers", "2", "--no-report",
                  "--out", str(tmp_path / "cal.nc"))
    deadline = time.monotonic() + 60
    while len(descendants(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the workers are running the first wave
    helpers = descendants(proc.pid)
    assert proc.poll() is None and len(helpers) >= 2
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert not wait_gone(helpers), "calibration workers outlived the command"
    if sig == signal.SIGTERM:
        assert code == 143
        lines = proc.stderr.read().strip().splitlines()
        # Known gap: a worker still starting may add a forkserver traceback after this.
        assert lines[0] == ("countysim: stopped by SIGTERM; nothing was written: run the "
                            "same command again"), "\n".join(lines)
    assert not (tmp_path / "cal.nc").exists()


# A worker ended while it sends a large result leaves half a message in the result pipe;
# before the fix the pool's manager thread waited for the rest for ever and the process
# never exited after a stop (seen as a forecast that ignored SIGINT in CI).
_HALF_SENT = '''
import sys, time
from countysim.sweeps.sweep import process_pool

def big(i):
    return b"x" * 50_000_000  # ~50 ms to send: a stop lands mid-message

if __name__ == "__main__":
    try:
        with process_pool(2) as pool:
            futures = [pool.submit(big, i) for i in range(20)]
            time.sleep(float(sys.argv[1]))
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("stopped")
'''


@pytest.mark.parametrize("delay", [0.3, 0.7, 1.2])
def test_a_pool_stopped_while_a_worker_sends_lets_the_process_exit(tmp_path, delay):
    script = tmp_path / "half_sent.py"
    script.write_text(_HALF_SENT, encoding="utf-8")
    # Without the fix each of these delays hung (measured: 4 of 4); 60 s is far beyond
    # the ~2 s a stopped pool takes.
    done = subprocess.run([sys.executable, str(script), str(delay)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "stopped", done.stderr
    assert "leaked" not in done.stderr


# ------------------------------ large designs: a stop during a store's reads (issue 18, 7)


def _status_array(path: Path, shape: tuple[int, int], done_rows) -> Path:
    """A store's ``status`` array as a sweep writes it: one chunk per run, written when
    the run ends (the fill value, "pending", is never written)."""
    array = zarr.create_array(str(path / "status"), shape=shape, chunks=(1, 1), dtype=str,
                              fill_value="pending", zarr_format=3)
    for i in done_rows:
        array[i] = "done"
    return path


class _CountingReads:
    """Counts zarr's orthogonal selections (the store's block reads), with the rows read;
    ``then`` runs in a thread beside the ``at``-th call and is joined before it returns."""

    def __init__(self, monkeypatch, then=None, at: int = 0) -> None:
        self.rows: list[np.ndarray] = []
        self.then, self.at = then, at
        original = zarr.Array.get_orthogonal_selection
        counter = self

        def counted(array, selection, **kwargs):
            first = selection[0] if isinstance(selection, tuple) else selection
            counter.rows.append(first if isinstance(first, slice) else np.atleast_1d(first))
            helper = None
            if counter.then is not None and len(counter.rows) == counter.at:
                import threading

                helper = threading.Thread(target=counter.then)
                helper.start()
            try:
                return original(array, selection, **kwargs)
            finally:
                if helper is not None:
                    helper.join()

        monkeypatch.setattr(zarr.Array, "get_orthogonal_selection", counted)


def test_statuses_are_read_only_where_runs_wrote_them(tmp_path, monkeypatch):
    """A fresh 100,000-run store read every status chunk (all missing): 15 s, and a stop
    in that read flooded the terminal. Rows without a chunk on disk are not read now."""
    from countysim.sweeps.store import read_status_checked

    fresh = _status_array(tmp_path / "fresh", (20_000, 10), [])
    reads = _CountingReads(monkeypatch)
    status, damaged = read_status_checked(fresh)
    assert reads.rows == [] and damaged == []
    assert status.shape == (20_000, 10) and (status == "pending").all()

    begun = _status_array(tmp_path / "begun", (20_000, 10), [3, 4, 17_999])
    status, damaged = read_status_checked(begun)
    assert [r.tolist() for r in reads.rows] == [[3, 4, 17_999]] and damaged == []
    assert set(map(tuple, np.argwhere(status == "done")[:, :1].tolist())) == {(3,), (4,),
                                                                            (17_999,)}
    assert (status == "done").sum() == 30


def test_a_stop_during_a_store_read_ends_its_block_and_leaves_no_read_pending(
        tmp_path, monkeypatch):
    """SIGTERM while zarr reads a big store used to stop the caller with the read's chunk
    tasks still on zarr's I/O loop: they went on decoding after the stop line, and each
    printed "Exception ignored ... Event loop is closed" at exit. The read goes by
    blocks, each held against signals: the stop is raised when its block ends."""
    import asyncio
    import threading

    from countysim.sweeps import store as store_mod
    from countysim.sweeps.signals import Stopped, stop_on_signals
    from zarr.core import sync as zarr_sync

    path = _status_array(tmp_path / "s", (400, 10), range(400))
    monkeypatch.setattr(store_mod, "_CHUNKS_PER_READ", 100)  # 40 blocks of 10 rows

    def stop_soon() -> None:
        time.sleep(0.005)  # lands while zarr reads the block's 100 chunks
        os.kill(os.getpid(), signal.SIGTERM)

    reads = _CountingReads(monkeypatch, then=stop_soon, at=5)
    with pytest.raises(Stopped), stop_on_signals():
        store_mod.read_status_checked(path)
    assert len(reads.rows) == 5, "the read went on past the block the signal came in"
    assert threading.main_thread() is threading.current_thread()

    async def pending() -> list:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    loop = zarr_sync.loop[0]
    assert asyncio.run_coroutine_threadsafe(pending(), loop).result(10) == []
    # and the same store reads whole once no signal comes
    status, damaged = store_mod.read_status_checked(path)
    assert (status == "done").all() and damaged == []


def test_a_stop_during_a_resume_check_ends_its_block(grid_store, tmp_path, monkeypatch):
    """The check of a resumed store reads every finished run's chunks: by blocks too."""
    import asyncio

    from countysim.sweeps import integrity
    from countysim.sweeps.signals import Stopped, stop_on_signals
    from zarr.core import sync as zarr_sync

    store = copy_store(grid_store, tmp_path / "s.zarr")
    monkeypatch.setattr(integrity, "_CHUNKS_PER_READ", 1)  # a row (two runs) a block

    def stop_now() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    reads = _CountingReads(monkeypatch, then=stop_now, at=3)
    with pytest.raises(Stopped), stop_on_signals():
        check_store(store)
    assert len(reads.rows) == 3

    async def pending() -> list:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run_coroutine_threadsafe(pending(), zarr_sync.loop[0]).result(10) == []
    assert check_store(store).ok


def _big_design(base: Path, folder: Path, replicates: int) -> Path:
    """A 100 x 100 grid of the small district, a month per run: 10,000 x replicates runs."""
    values = ", ".join(f"{0.02 + 0.0005 * k:.4f}" for k in range(100))
    rates = ", ".join(f"{0.1 + 0.002 * k:.3f}" for k in range(100))
    return write_toml(folder / "big.toml", experiment_text(
        base, f'kind = "grid"\n[design.parameters]\nactivation_rate = [{values}]\n'
        f"local_exit_rate = [{rates}]\n", until="2025-01", replicates=replicates))


@needs_proc
@pytest.mark.stress
def test_sigterm_on_a_100000_run_design_is_one_line_and_quick(small_base, tmp_path):
    """Issue 18, case 7, as reported: SIGTERM in the first sweep of a 100,000-run design
    and a few seconds into its resume (statuses and checks being read). Each must stop
    within a few seconds (a block of reads is a fraction of one), with the one line."""
    design = _big_design(small_base, tmp_path, replicates=10)
    store = tmp_path / "big.zarr"
    for delay, extra in ((20.0, ()), (6.0, ("--resume",)), (15.0, ("--resume",))):
        proc = _start("sweep", str(design), "--store", str(store), "--workers", "2",
                      "--quiet", *extra)
        time.sleep(delay)
        assert proc.poll() is None, "the sweep ended before the signal"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 143
        took = time.monotonic() - started
        lines = proc.stderr.read().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("countysim: stopped by SIGTERM"), \
            (delay, extra, len(lines), lines[:3])
        # Seen: 0.2-0.6 s; before the fix 0.9 s with ~150 lines, and 66 s on a resume.
        assert took < 5, (delay, extra, took)
    assert (read_status(store) == "done").any()


def test_the_resume_check_reads_chunk_files_without_zarr(grid_store, tmp_path, monkeypatch):
    """zarr costs ~0.7 ms a chunk (a finished 100,000-run store: over an hour to check);
    the sweep's own layout is checked from its files. Intact runs never reach zarr's
    run-by-run reads; a damaged one does, and is named (the DAMAGE cases above)."""
    from countysim.sweeps import integrity

    def no_zarr(*args, **kwargs):
        raise AssertionError("an intact run was read through zarr")

    monkeypatch.setattr(integrity, "_check_row", no_zarr)
    assert check_store(grid_store).ok
    store = copy_store(grid_store, tmp_path / "s.zarr")
    _flip_last_byte(store / "workers/c/1/0/0/0")
    with pytest.raises(AssertionError, match="through zarr"):
        check_store(store)
