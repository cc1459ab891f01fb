"""Every input of a sweep read once, before its first run.

A sweep's runs used to read the district CSVs each time one started, and the store's
input digests were computed from the files again when the store was created or resumed:
an edit on disk during a sweep reached the later runs while the store still recorded
the original digests. Now :func:`take_snapshot` reads every input file (each scenario's
``extends`` chain and the district CSVs) once; the store's digests are of those bytes,
resume compares them with the store's, and every run reads its district from the same
bytes (:func:`countysim.core.district.district_snapshot`), in this process or a worker.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.district import OPTIONAL_TABLES, TABLES, DistrictDataError

if TYPE_CHECKING:
    from .experiment import Experiment

__all__ = ["DISTRICT_FILES", "InputSnapshot", "take_snapshot"]

# The optional tables are in the snapshot when the folder has them.
DISTRICT_FILES = tuple(f"{name}.csv" for name in (*TABLES, *OPTIONAL_TABLES))


@dataclass(frozen=True)
class InputSnapshot:
    """The bytes of every input file of an experiment, read once.

    Attributes:
        root: The folder input names are relative to (the experiment's), so a project
            moved elsewhere keeps its digests.
        files: Every input file's bytes, by absolute path.
        districts: The district folders' CSVs: folder -> file name -> bytes (the same
            bytes as in ``files``), as the runs receive them.
    """

    root: Path
    files: Mapping[Path, bytes]
    districts: Mapping[Path, Mapping[str, bytes]] = field(default_factory=dict)

    def digests(self) -> dict[str, str]:
        """SHA-256 of each file, named relative to :attr:`root` (as the store records)."""
        return {Path(os.path.relpath(f, self.root)).as_posix(): hashlib.sha256(data).hexdigest()
                for f, data in self.files.items()}

    def district_items(self) -> tuple[tuple[Path, tuple[tuple[str, bytes], ...]], ...]:
        """:attr:`districts` as nested tuples: small, hashable and picklable for a task."""
        return tuple((folder, tuple(files.items())) for folder, files in self.districts.items())


def take_snapshot(experiment: Experiment) -> InputSnapshot:
    """Read every input file of ``experiment`` once.

    Raises:
        DistrictDataError: An input file cannot be read (the message names it).
    """
    root = experiment.path.parent if experiment.path else Path.cwd()
    files: dict[Path, bytes] = {}
    for file in experiment.input_files():
        try:
            files[file] = file.read_bytes()
        except OSError as exc:
            raise DistrictDataError(f"{file}: cannot be read: "
                                    f"{exc.strerror or type(exc).__name__}; every input "
                                    "file of the experiment must be readable") from None
    folders = {s.district_data for s in (*experiment.scenarios, experiment.base)
               if s is not None and s.district_data is not None}
    districts = {folder: {name: files[folder / name] for name in DISTRICT_FILES
                          if folder / name in files}
                 for folder in sorted(folders)}
    return InputSnapshot(root, files, districts)
