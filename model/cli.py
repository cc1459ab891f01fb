"""The ``countysim`` command line.

Subcommands:

* ``countysim run SCENARIO [--seed N] [--until YYYY-MM] [--year YYYY] [--out PATH]``: one
  run, NetCDF out, indicator table printed (2025's beside the article's figures, or
  December of ``--year``; a policy path's run adds the years from its first change);
* ``countysim check SCENARIO``: validate a scenario and print it resolved;
* ``countysim district SCENARIO --out DIR``: write the district tables as CSV;
* ``countysim sweep EXPERIMENT --store PATH [--workers N | --dask [ADDRESS]] [--resume]
  [--quiet]``: run an experiment's sweep into a Zarr store (see ``docs/sweeps.md``);
* ``countysim export STORE OUT.nc``: write a sweep's store as one NetCDF file;
* ``countysim verify STORE``: check that every finished run of a store is present and
  readable (exit status 1 if not);
* ``countysim calibrate EXPERIMENT [--workers N] [--out PATH] [--no-report]
  [--update-scenario]``: history matching to the article's figures (see
  ``docs/calibration.md``);
* ``countysim forecast EXPERIMENT [--out PATH] [--store PATH] [--workers N | --dask
  [ADDRESS]] [--resume]``: policy packages x ensemble members x seeds to 2030, the
  probability of each target (see ``docs/forecast.md``);
* ``countysim compare A B [--results STORE] [--ensemble NAME] [--members N] [--seeds N]
  [--until YYYY-MM] [--year YYYY]``: paired differences B - A of every indicator over
  common seeds and ensemble members, to the longer of the two scenarios' horizons;
* ``countysim report FORECAST --out DIR [--sensitivity PATH] [--prim PATH] [--audit CSV]``: a
  forecast's report, Markdown with PNG figures (see ``docs/forecast_report.md``);
* ``countysim explore [--host H] [--port P] [--open]``: the interactive explorer in the
  browser (needs the ``viz`` extra; see ``model/explorer.py``).

Bad input (scenario files, arguments) is reported on one line, without a traceback,
with exit status 2; so are outputs that cannot be written for reasons on the user's side
(disk full, read-only file system, a file-size limit, a path inside a Zarr store). Every
output file is written to a temporary file renamed into place, so a failed write leaves
the previous file intact. SIGTERM and SIGHUP stop a sweep like Ctrl-C (exit status
``128 + signal``, 143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import __version__
from .core.district import DistrictDataError
from .core.errors import InputError
from .core.scenario import LAST_MONTH, Scenario, month_index
from .sweeps.files import USER_ERRNOS, check_output_path, describe_os_error
from .sweeps.signals import Stopped, command_signals, exit_status, quiet_cancelled_reads

if TYPE_CHECKING:  # the commands import numpy, pandas and xarray when they run
    import pandas as pd
    import xarray as xr

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: Every exit status the command line gives, and what it means (README's table).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done (validate: every run inside its bands; verify: the store is whole)",
    EXIT_FAILURE: "the work could not be done: validate found a run outside a band, verify "
                  "found damage, the workers died, or the system failed a write",
    EXIT_USAGE: "bad input: a file, argument or output target, one line naming it",
    128 + signal.SIGHUP: "stopped by SIGHUP (the finished runs are kept; --resume)",
    128 + signal.SIGINT: "interrupted by Ctrl-C (SIGINT); --resume where there is a store",
    128 + signal.SIGTERM: "stopped by SIGTERM (the finished runs are kept; --resume)",
}


class UsageError(Exception):
    """Bad command-line input: printed on one line, exit status 2."""


def _expect(path: Path, kinds: str | tuple[str, ...], command: str) -> None:
    """Refuse a file of another kind than the command reads, naming both kinds."""
    from .sweeps.kinds import wrong_kind

    message = wrong_kind(path, kinds, command)
    if message is not None:
        raise UsageError(message)


def _month(text: str) -> str:
    try:
        month_index(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM, got {text!r}") from None
    return text


def _whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``, with a one-line error otherwise."""
    what = "a non-negative integer" if minimum == 0 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


_seed = _whole_number(0)
_workers = _whole_number(1)
MAX_PORT = 65535


def _port(text: str) -> int:
    """An argparse type: a TCP port 0..65535 (0 picks a free one), one line otherwise."""
    value = _whole_number(0)(text)
    if value > MAX_PORT:
        raise argparse.ArgumentTypeError(f"expected a port 0-{MAX_PORT}, got {value}")
    return value


_port.__name__ = "a port"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as every other bad input's are."""

    def error(self, message: str) -> Any:
        """Print ``<prog>: error: <message> (<prog> -h for usage)`` and exit 2.

        argparse prints its usage block first; the issue 18 contract is one line, and
        ``-h`` still gives the usage to whoever wants it.
        """
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} "
                              f"({self.prog} -h for usage)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog="countysim", description="Agent-based model of a county's development targets.")
    parser.add_argument("--version", action="version", version=f"countysim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one scenario and print the indicator table")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--seed", type=_seed, default=0, help="root seed (default 0)")
    run.add_argument("--until", type=_month, default=None,
                     help="last month YYYY-MM (default: the scenario's 'until')")
    run.add_argument("--year", type=_whole_number(2025), default=None,
                     help="print the table of this year, December values (2025: the "
                     "article's table); runs to YYYY-12 unless --until is given")
    run.add_argument("--out", type=Path, default=None,
                     help="NetCDF output (default runs/<scenario>.nc)")
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check", help="validate a scenario and print it resolved")
    check.add_argument("scenario", type=Path)
    check.set_defaults(func=_cmd_check)

    district = sub.add_parser("district", help="write the scenario's district as CSV")
    district.add_argument("scenario", type=Path)
    district.add_argument("--out", type=Path, required=True, help="output folder")
    district.set_defaults(func=_cmd_district)

    val = sub.add_parser("validate", help="check 2025-2030 paths against plausibility bands "
                         "(exit 1 outside)")
    val.add_argument("scenario", type=Path, nargs="?", default=None,
                     help="scenario TOML file (default scenarios/baseline_2025.toml, with "
                     "--settled scenarios/policies_2024_forever.toml)")
    val.add_argument("--seeds", type=_workers, default=None, metavar="N",
                     help="runs with seeds 100 .. 100+N-1, never used by the calibration "
                     "(default 5; with --settled 20, as slow stocks wander within a run)")
    val.add_argument("--settled", action="store_true",
                     help="check instead that every stock stays within 3 %% of its trend "
                     "(default scenario then scenarios/policies_2024_forever.toml)")
    val.set_defaults(func=_cmd_validate)
    _add_audit_parser(sub)
    _add_sweep_parsers(sub)
    _add_calibrate_parser(sub)
    _add_forecast_parsers(sub)
    _add_report_parser(sub)
    explore = sub.add_parser("explore", help="serve the interactive explorer (SolaraViz; "
                             "needs the viz extra)")
    explore.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    explore.add_argument("--port", type=_port, default=8765,
                         help="port (default 8765; 0 picks a free one)")
    explore.add_argument("--open", action="store_true", help="open a browser tab")
    explore.set_defaults(func=_cmd_explore)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from .core.county import run
    from .core.observe import to_netcdf_layout
    from .core.report import REPORT_MONTH, format_table
    from .core.scenario import load_scenario
    from .sweeps.files import write_netcdf

    _expect(args.scenario, "scenario", "countysim run")
    scenario = load_scenario(args.scenario)
    until = args.until or scenario.until
    if args.year is not None:
        if args.year > int(LAST_MONTH[:4]):
            raise UsageError(f"--year {args.year}: the model covers "
                             f"{scenario.start[:4]}-{LAST_MONTH[:4]}")
        if args.year < int(scenario.start[:4]):
            raise UsageError(f"--year {args.year} is before the scenario's start "
                             f"{scenario.start}")
        if args.until is None:
            until = max(until, f"{args.year}-12")  # the year asked for, in full
        elif args.until < f"{args.year}-01":
            raise UsageError(f"--year {args.year} is after --until {args.until}: the run "
                             "does not reach it")
    if until < scenario.start:
        raise UsageError(f"--until {until} is before the scenario's start {scenario.start}")
    if until > LAST_MONTH:
        raise UsageError(f"--until {until} is after the last month the model covers, "
                         f"{LAST_MONTH}")
    # The scenario's name is validated as a name (not a path) when it is loaded.
    out = check_output_path(args.out or Path("runs") / f"{scenario.name}.nc", "--out")
    ds = run(scenario, seed=args.seed, until=until)
    write_netcdf(to_netcdf_layout(ds), out)  # CF-1.10: countysim.open_run reads it back
    if args.year is None or args.year == int(REPORT_MONTH[:4]):
        print(format_table(ds))
        for line in policy_path_lines(ds, scenario) if args.year is None else ():
            print(line)
    else:
        print(year_table(ds, args.year, scenario))
    print(f"wrote {out}")
    return 0


def scheduled_changes(scenario: Scenario) -> dict[int, list[str]]:
    """The years after the start in which a scenario's scheduled levers change.

    Args:
        scenario: A scenario.

    Returns:
        ``{year: ["lever old -> new", ...]}`` for every year whose values in force differ
        from the year before's, in year order; empty for a scenario without such changes.
    """
    changes: dict[int, list[str]] = {}
    for year in range(int(scenario.start[:4]) + 1, int(LAST_MONTH[:4]) + 1):
        before, now = scenario.in_year(year - 1).values, scenario.in_year(year).values
        moved = [f"{n} {before[n]} -> {now[n]}" for n in now if now[n] != before[n]]
        if moved:
            changes[year] = moved
    return changes


def _row_value(ds: xr.Dataset, variable: str, scale: float, month: pd.Timestamp) -> str:
    value = float(ds[variable].sel(time=month)) * scale
    if not math.isfinite(value):
        return "nan"
    return f"{value:,.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def _december(ds: xr.Dataset, year: int) -> pd.Timestamp:
    """December of ``year``, or the run's last month in that year if it ends earlier."""
    import pandas as pd

    times = pd.DatetimeIndex(ds["time"].values)
    return times[times.year == year][-1]


def years_table(ds: xr.Dataset, years: Sequence[int]) -> list[str]:
    """The table's indicators in each of ``years``: December (or last) values, aligned."""
    from .core.report import ROWS

    months = [_december(ds, y) for y in years]
    lines = [f"{'indicator':<36} " + " ".join(f"{m:%Y-%m}".rjust(10) for m in months)]
    for row in ROWS:
        cells = " ".join(_row_value(ds, row.variable, row.scale, m).rjust(10) for m in months)
        lines.append(f"{row.label[:36]:<36} {cells}")
    return lines


def year_table(ds: xr.Dataset, year: int, scenario: Scenario) -> str:
    """``countysim run --year``: the indicators of one year beside the run's first year.

    Year-to-date rows read December: the whole year's flow. The article's figures refer to
    2025 and are not shown for other years.

    Args:
        ds: A run reaching ``year``.
        year: The year of the table.
        scenario: The run's scenario (its lever changes in force in ``year`` are listed).
    """
    first = int(ds["time"].dt.year.values[0])
    when = _december(ds, year)
    lines = [f"countysim {ds.attrs.get('countysim_version', '?')} · scenario "
             f"{ds.attrs.get('scenario_name', '?')} · seed {ds.attrs.get('seed_entropy', '?')}"
             f" · values at {when:%Y-%m} (year-to-date rows: the year's total)"]
    if when.month != 12:
        lines.append(f"NOTE: the run ends at {when:%Y-%m}: year-to-date rows cover "
                     f"{when.month} months of {year}")
    changed = {y: c for y, c in scheduled_changes(scenario).items() if y <= year}
    for y, moved in changed.items():
        lines.append(f"levers changed from {y}: {'; '.join(moved)}")
    lines += years_table(ds, sorted({first, year}))
    return "\n".join(lines)


def policy_path_lines(ds: xr.Dataset, scenario: Scenario) -> list[str]:
    """For a policy path (levers scheduled to change after the start): the years where it
    matters, or a note that the run ends before its first change."""
    changes = scheduled_changes(scenario)
    if not changes:
        return []
    first = min(changes)
    last = int(ds["time"].dt.year.values[-1])
    if last < first:
        return [f"NOTE: {scenario.name} is a policy path whose levers change from {first} "
                f"({'; '.join(changes[first])}); this run ends at {last}, before the change: "
                f"see a year with --year {first} (or --until {LAST_MONTH})"]
    lines = ["", f"policy path {scenario.name}: scheduled lever changes"]
    lines += [f"  from {y}: {'; '.join(moved)}" for y, moved in changes.items() if y <= last]
    lines.append("")
    lines += years_table(ds, range(first - 1, last + 1))
    return lines


def _cmd_check(args: argparse.Namespace) -> int:
    from .core.scenario import load_scenario

    _expect(args.scenario, "scenario", "countysim check")
    print(load_scenario(args.scenario).to_toml(), end="")
    return 0


def _cmd_district(args: argparse.Namespace) -> int:
    from .core.district import build_district
    from .core.scenario import load_scenario
    from .sweeps.files import write_atomically

    _expect(args.scenario, "scenario", "countysim district")
    district = build_district(load_scenario(args.scenario))
    for name, frame in district.tables().items():
        out = check_output_path(args.out / f"{name}.csv", "--out")
        write_atomically(out, frame.to_csv(index=False).encode())
    print(f"wrote {len(district.villages)} villages, {len(district.firms)} firms and "
          f"{len(district.cadres)} cadres to {args.out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .validate import SETTLED_SCENARIO, SETTLED_SEEDS, VALIDATION_SEEDS, settled, validate

    default = SETTLED_SCENARIO if args.settled else Path("scenarios/baseline_2025.toml")
    scenario = default if args.scenario is None else args.scenario
    _expect(scenario, "scenario", "countysim validate")
    first = VALIDATION_SEEDS[0]
    n = args.seeds or len(SETTLED_SEEDS if args.settled else VALIDATION_SEEDS)
    seeds = range(first, first + n)
    if args.settled:
        table, ok = settled(scenario, seeds=seeds)
        print(table)
        print("every stock on its trend" if ok else "some stocks left their trend (marked ✗)")
        return 0 if ok else EXIT_FAILURE
    table, ok = validate(scenario, seeds=seeds)
    print(table)
    print("all runs inside every band" if ok else "some runs left a band (marked ✗)")
    return 0 if ok else EXIT_FAILURE


def _add_audit_parser(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="elasticity of every article figure and comparator "
                           "to every parameter (+-20 %%, paired seeds): mechanism or identity")
    audit.add_argument("scenario", type=Path, nargs="?",
                       default=Path("scenarios/baseline_2025.toml"),
                       help="scenario TOML file (default scenarios/baseline_2025.toml)")
    audit.add_argument("--targets", type=Path, default=None,
                       help="targets file (default targets/litong_2025.toml beside the "
                       "scenario)")
    audit.add_argument("--seeds", type=_whole_number(2), default=6, metavar="N",
                       help="seed pairs: seeds 3000 .. 3000+N-1, used by no other check "
                       "(default 6)")
    audit.add_argument("--parameters", default=None, metavar="A,B,...",
                       help="perturb only these parameters (default: every numeric one)")
    audit.add_argument("--workers", type=_workers, default=1, help="processes (default 1)")
    audit.add_argument("--out", type=Path, default=None, help="write the Markdown page here")
    audit.add_argument("--table", type=Path, default=None,
                       help="write every elasticity as CSV here (parameter, output, "
                       "elasticity, se)")
    audit.add_argument("--quiet", action="store_true", help="no progress bar")
    audit.set_defaults(func=_cmd_audit)


def _cmd_audit(args: argparse.Namespace) -> int:
    from .calibration.audit import AUDIT_SEEDS, audit, classify_all, to_markdown
    from .calibration.targets import load_targets
    from .core.scenario import load_scenario
    from .sweeps.files import write_atomically

    scenario = load_scenario(args.scenario)
    targets = args.targets or (args.scenario.parent / "targets" / "litong_2025.toml")
    targets = load_targets(targets, require_held_out=False)
    outputs = [check_output_path(p, key) for p, key in ((args.out, "--out"),
                                                         (args.table, "--table")) if p]
    parameters = args.parameters.split(",") if args.parameters else None
    seeds = range(AUDIT_SEEDS[0], AUDIT_SEEDS[0] + args.seeds)
    try:
        result = audit(scenario, targets, parameters=parameters, seeds=seeds,
                       workers=args.workers, progress=not args.quiet)
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise UsageError(str(exc)) from None
    classes = classify_all(result)
    width = max(len(c.output) for c in classes)
    print(f"countysim audit · scenario {scenario.name} · {result.sizes['parameter']} "
          f"parameters x +-20 % · seeds {seeds.start}-{seeds.stop - 1}")
    for c in classes:
        second = f"; next {c.second[0]} {c.second[1]:+.2f}" if c.second else ""
        print(f"{c.output:<{width}}  {c.kind:<9}  {c.top[0]} {c.top[1]:+.2f}{second}; "
              f"{c.moved_by} inputs >= 0.1")
    print(f"{sum(c.kind == 'identity' for c in classes)} of {len(classes)} outputs are "
          "identities")
    command = "countysim audit " + " ".join(
        [str(args.scenario), f"--seeds {args.seeds}"]
        + ([f"--parameters {args.parameters}"] if args.parameters else []))
    if args.out:
        labels = {t.id: t.quote for t in targets}
        write_atomically(outputs[0], to_markdown(result, labels, command).encode())
        print(f"wrote {args.out}")
    if args.table:
        frame = result[["elasticity", "se"]].to_dataframe().reset_index()
        write_atomically(outputs[-1], frame.to_csv(index=False, float_format="%.6g").encode())
        print(f"wrote {args.table}")
    return 0


# ------------------------------------------------------------------ sweeps (issue 3)


def _add_sweep_parsers(sub: argparse._SubParsersAction) -> None:
    sweep = sub.add_parser("sweep", help="run an experiment's samples x replicates into a "
                           "Zarr store")
    sweep.add_argument("experiment", type=Path, help="experiment TOML file")
    sweep.add_argument("--store", type=Path, required=True, help="Zarr store (a directory)")
    sweep.add_argument("--workers", type=_workers, default=None, metavar="N",
                       help="worker processes (default: one per core; 1 = in this process); "
                       "with --dask and no address, the size of the local cluster")
    sweep.add_argument("--dask", nargs="?", const=True, default=None, metavar="ADDRESS",
                       help="run on the dask.distributed scheduler at ADDRESS, or on a local "
                       "cluster if no address is given")
    sweep.add_argument("--resume", action="store_true",
                       help="continue an interrupted sweep: run only the missing runs")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="with --resume, run the failed runs again too")
    sweep.add_argument("--force-mixed", action="store_true",
                       help="with --resume, go on although the store was written from other "
                       "input files or code; the store records which runs came from what")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_cmd_sweep)

    export = sub.add_parser("export", help="write a sweep's store to one NetCDF file")
    export.add_argument("store", type=Path, help="Zarr store written by 'countysim sweep'")
    export.add_argument("out", type=Path, help="NetCDF file to write")
    export.set_defaults(func=_cmd_export)

    verify = sub.add_parser("verify", help="check that every finished run of a sweep's "
                            "store is present and readable")
    verify.add_argument("store", type=Path, help="Zarr store written by 'countysim sweep'")
    verify.set_defaults(func=_cmd_verify)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .sweeps.experiment import ExperimentError
    from .sweeps.store import StoreError
    from .sweeps.sweep import SweepError, sweep

    _expect(args.experiment, ("experiment", "forecast experiment"), "countysim sweep")
    for flag, given in (("--retry-failed", args.retry_failed),
                        ("--force-mixed", args.force_mixed)):
        if given and not args.resume:
            raise UsageError(f"{flag} needs --resume")
    if args.workers is not None and args.dask not in (None, True):
        raise UsageError("--workers sizes a local cluster; it cannot be used with a "
                         "--dask scheduler address")
    if args.dask is not None and importlib.util.find_spec("distributed") is None:
        raise UsageError("--dask needs dask.distributed: pip install 'countysim[dask]'")
    try:
        summary = sweep(args.experiment, args.store, workers=args.workers, dask=args.dask,
                        resume=args.resume, retry_failed=args.retry_failed,
                        force_mixed=args.force_mixed, progress=not args.quiet)
    except (ExperimentError, StoreError) as exc:
        raise UsageError(str(exc)) from None
    except SweepError as exc:
        print(f"countysim: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        where = exc.filename or args.store
        then = (f"the runs finished so far are kept in {args.store}: fix that, then run the "
                "same command with --resume" if args.store.is_dir() else
                "no store was created: fix that, then run the command again")
        print(f"countysim: error: {where}: cannot write: {describe_os_error(exc)}; {then}",
              file=sys.stderr)
        return EXIT_USAGE if exc.errno in USER_ERRNOS else EXIT_FAILURE
    print(summary)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .sweeps.store import StoreError, export

    _expect(args.store, "sweep store", "countysim export")
    try:
        out = export(args.store, args.out)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .sweeps.integrity import check_store
    from .sweeps.store import StoreError

    _expect(args.store, "sweep store", "countysim verify")
    try:
        check = check_store(args.store)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(check.describe(args.store))
    return 0 if check.ok else EXIT_FAILURE


def _add_calibrate_parser(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calibrate", help="history-match parameters to targets")
    cal.add_argument("experiment", type=Path, help="calibration experiment TOML "
                     "(e.g. experiments/calibrate_2025.toml)")
    cal.add_argument("--workers", type=_workers, default=None, metavar="N",
                     help="worker processes (default: the experiment's); results do not "
                     "depend on it")
    cal.add_argument("--out", type=Path, default=None,
                     help="NetCDF of the results (default: the experiment's output.dataset, "
                     "else runs/calibration/<name>.nc)")
    cal.add_argument("--no-report", action="store_true",
                     help="do not write the report and figures named by the experiment")
    cal.add_argument("--update-scenario", action="store_true",
                     help="write the calibrated values into the base scenario file")
    cal.set_defaults(func=_cmd_calibrate)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibration.calibrate import (
        CalibrationError,
        calibrate,
        load_calibration,
        update_scenario,
    )
    from .calibration.targets import TargetError
    from .core.scenario import NAME_RULE, is_name

    _expect(args.experiment, "calibration experiment", "countysim calibrate")
    try:
        spec = load_calibration(args.experiment)
    except (CalibrationError, TargetError) as exc:
        raise UsageError(str(exc)) from None
    if args.update_scenario and spec.truth is not None:
        raise UsageError(f"{args.experiment} is a recovery experiment (pseudo-targets); "
                         "refusing to write its values into a scenario")
    out = args.out or spec.output.get("dataset")
    if out is None and not is_name(spec.name):
        raise UsageError(f"{args.experiment}: name: {spec.name!r} is not {NAME_RULE}; the "
                         "default output file is named after it")
    out = check_output_path(out or Path("runs/calibration") / f"{spec.name}.nc", "--out")
    result = calibrate(spec, workers=args.workers)
    print(f"wrote {result.save(out)}")
    if not args.no_report and "report" in spec.output:
        from .calibration.calreport import write_report

        command = f"countysim calibrate {args.experiment}"
        if args.update_scenario:
            command += " --update-scenario"
        report = write_report(result.dataset, spec.output["report"],
                              spec.output.get("figures"), command=command)
        print(f"wrote {report}")
    if args.update_scenario:
        names = update_scenario(spec.scenario_path, result.calibrated, result.accepted_range,
                                spec.name, result.dataset.attrs["date"],
                                int(result.dataset.attrs.get("baseline_member", -1)),
                                result.baseline_draws,
                                {p.name: (p.lower, p.upper) for p in spec.carried})
        print(f"updated {len(names)} parameters in {spec.scenario_path}")
    if "ensemble" in spec.output and spec.truth is None:
        print(f"wrote {_write_calibrated_ensemble(spec, result)}")
    return 0


# ---------------------------------------------------------------- forecasts (issue 10)


def _add_forecast_parsers(sub: argparse._SubParsersAction) -> None:
    fc = sub.add_parser("forecast", help="policy packages x ensemble members x seeds to "
                        "2030: probability of each target (see docs/forecast.md)")
    fc.add_argument("experiment", type=Path, help="forecast experiment TOML (e.g. "
                    "experiments/forecast_2030.toml)")
    fc.add_argument("--out", type=Path, default=None, help="forecast Dataset, .nc or .zarr "
                    "(default runs/forecast/<name>.nc)")
    fc.add_argument("--store", type=Path, default=None, help="Zarr store of the runs "
                    "(default: the experiment's [forecast] store, else "
                    "runs/forecast/<name>.zarr)")
    fc.add_argument("--targets", type=Path, default=None, help="targets file instead of the "
                    "experiment's [forecast] targets")
    fc.add_argument("--workers", type=_workers, default=None, metavar="N",
                    help="worker processes (default: one per core; 1 = in this process)")
    fc.add_argument("--dask", nargs="?", const=True, default=None, metavar="ADDRESS",
                    help="run on a dask.distributed scheduler (a local cluster if no "
                    "address)")
    fc.add_argument("--resume", action="store_true", help="continue (or re-evaluate) the "
                    "runs in an existing store")
    fc.add_argument("--quiet", action="store_true", help="no progress bar")
    fc.set_defaults(func=_cmd_forecast)

    cmp = sub.add_parser("compare", help="paired differences B - A of every indicator over "
                         "common seeds and ensemble members")
    cmp.add_argument("a", help="reference: a scenario file, or a package name with --results")
    cmp.add_argument("b", help="compared with A: likewise")
    cmp.add_argument("--results", type=Path, default=None, metavar="STORE",
                     help="compare packages A and B of this sweep or forecast store instead "
                     "of running scenario files")
    cmp.add_argument("--ensemble", default="litong_2025", help="ensemble whose members "
                     "carry parameter and district uncertainty (packaged name or file; "
                     "'none': the scenarios' own parameters, seeds only; default "
                     "litong_2025)")
    cmp.add_argument("--members", type=_workers, default=20, metavar="N",
                     help="the first N ensemble members (default 20)")
    cmp.add_argument("--seeds", type=_workers, default=None, metavar="N",
                     help="seeds per member (default 3; 10 with --ensemble none)")
    cmp.add_argument("--seed", type=_seed, default=0, help="root seed (default 0)")
    cmp.add_argument("--until", type=_month, default=None,
                     help="last month YYYY-MM (default: the longer of the two scenarios' "
                     "'until')")
    cmp.add_argument("--year", type=_whole_number(2025), default=None,
                     help="year of the printed table (default: the last)")
    cmp.add_argument("--moved", action="store_true",
                     help="print only indicators moved beyond noise (|z| >= 3)")
    cmp.add_argument("--out", type=Path, default=None,
                     help="write the whole comparison (every year) as NetCDF")
    cmp.add_argument("--workers", type=_workers, default=None, metavar="N",
                     help="worker processes (default: one per core)")
    cmp.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp.set_defaults(func=_cmd_compare)


def _cmd_forecast(args: argparse.Namespace) -> int:
    from .forecasting.forecast import forecast, load_forecast_spec, summary_table
    from .sweeps.store import StoreError
    from .sweeps.sweep import SweepError

    _expect(args.experiment, ("forecast experiment", "experiment"), "countysim forecast")
    if args.workers is not None and args.dask not in (None, True):
        raise UsageError("--workers sizes a local cluster; it cannot be used with a "
                         "--dask scheduler address")
    if args.dask is not None and importlib.util.find_spec("distributed") is None:
        raise UsageError("--dask needs dask.distributed: pip install 'countysim[dask]'")
    spec = load_forecast_spec(args.experiment, targets=args.targets, store=args.store)
    args.store = spec.store  # named by the resume hint if the forecast is stopped
    out = args.out or Path("runs") / "forecast" / f"{spec.name}.nc"
    try:
        ds = forecast(spec, out=out, workers=args.workers, dask=args.dask,
                      resume=args.resume, progress=not args.quiet)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    except SweepError as exc:
        print(f"countysim: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(summary_table(ds))
    print(f"runs in {spec.store}; wrote {out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .core.scenario import load_scenario
    from .forecasting.compare import (
        comparison_table,
        first_difference,
        horizon,
        identical_line,
        paired_comparison,
    )
    from .sweeps.files import write_netcdf
    from .sweeps.store import StoreError

    out = check_output_path(args.out, "--out") if args.out is not None else None
    ensemble = None if args.ensemble.lower() == "none" else args.ensemble
    if args.year is not None and args.year > int(LAST_MONTH[:4]):
        raise UsageError(f"--year {args.year}: the model covers 2025-{LAST_MONTH[:4]}")
    until, notes = args.until, []
    results = args.results
    if results is not None:
        results = _runs_store(results)
    else:
        for key, file in (("A", args.a), ("B", args.b)):
            if not Path(file).is_file():
                raise UsageError(f"{file}: {key}: no such scenario file (to compare packages "
                                 "of a forecast, pass --results STORE)")
            _expect(Path(file), "scenario", f"countysim compare ({key})")
        until, notes = horizon(args.a, args.b, args.until)
        if args.year is not None and args.until is None and until < f"{args.year}-12":
            # --year alone asks for that year: run far enough to cover it.
            until = f"{args.year}-12"
            notes.append(f"--year {args.year}: comparing to {until}")
        sa, sb = load_scenario(args.a), load_scenario(args.b)
        first = first_difference(sa, sb) or "none"
        if first == "none" or until < first or (args.year is not None
                                                and args.year < int(first[:4])):
            # The runs would be identical pair by pair: say so instead of simulating.
            for line in notes:
                print(f"NOTE: {line}")
            year = None if args.year is None or until < first else args.year
            print(identical_line(sa.name, sb.name, first, year))
            print("nothing was run" + (f"; {args.out} was not written" if out else ""))
            return 0
    # Without an ensemble, seeds are the only source of pairs: take more of them.
    seeds = args.seeds or (3 if ensemble is not None else 10)
    try:
        ds = paired_comparison(args.a, args.b, results=results, ensemble=ensemble,
                               members=args.members, replicates=seeds, seed=args.seed,
                               until=until, workers=args.workers,
                               progress=not args.quiet)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    if notes:  # an explicit horizon hides the default's notes from the API: keep them
        ds.attrs["notes"] = "\n".join(notes)
    if args.year is not None and args.year not in ds["year"].values:
        raise UsageError(f"--year {args.year}: the runs cover "
                         f"{int(ds['year'].min())}-{int(ds['year'].max())}")
    print(comparison_table(ds, year=args.year, only_moved=args.moved))
    if out is not None:
        print(f"wrote {write_netcdf(ds, out)}")
    return 0


def _runs_store(path: Path) -> Path:
    """The sweep store ``compare --results`` reads: the path itself, or the store of runs a
    forecast Dataset (``countysim forecast --out``) names, if it still exists."""
    from .sweeps.kinds import file_kind

    kind = file_kind(path)
    if kind == "forecast":
        import xarray as xr

        with xr.open_dataset(path, engine="h5netcdf") if path.is_file() else xr.open_zarr(
                path, consolidated=False, zarr_format=3) as ds:
            named = str(ds.attrs.get("store", ""))
        # The store is named as the forecast was given it: relative to where it ran.
        for store in (Path(named), path.parent / named) if named else ():
            if file_kind(store) == "sweep store":
                return store
        raise UsageError(f"{path}: --results: this is a forecast Dataset, which holds the "
                         "targets' values, not the indicators; compare reads the store of "
                         f"runs it names ({named or 'none'}), which is not there: pass "
                         "--results STORE, the .zarr folder 'countysim forecast' ran into")
    _expect(path, "sweep store", "compare --results")
    return path


# ------------------------------------------------------------------ report (issue 10)


# The targets file the identity audit reads by default (``countysim audit``'s).
AUDIT_TARGETS = Path("scenarios/targets/litong_2025.toml")


def _add_report_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="write a forecast's report: Markdown and PNG "
                            "figures")
    report.add_argument("forecast", type=Path, help="forecast Dataset (.nc, or a .zarr "
                        "store) written by 'countysim forecast --out'")
    report.add_argument("--out", type=Path, required=True,
                        help="report folder (new, empty, or an earlier report's: replaced)")
    report.add_argument("--sensitivity", type=Path, default=None, metavar="PATH",
                        help="sensitivity indices over time (NetCDF) to include")
    report.add_argument("--prim", type=Path, default=None, metavar="PATH",
                        help="PRIM scenario-discovery result to include")
    report.add_argument("--audit", type=Path, default=None, metavar="CSV",
                        help="the identity audit's table (countysim audit --table, e.g. "
                        "docs/audit_baseline_2025.csv): says whether a target certain under "
                        "every package is an identity of one input")
    report.add_argument("--audit-targets", type=Path,
                        default=AUDIT_TARGETS, metavar="TOML",
                        help="the targets file the audit read (default "
                        "scenarios/targets/litong_2025.toml)")
    report.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from .forecasting.certainty import load_identity_audit
    from .forecasting.report import open_extra, open_forecast, write_report

    _expect(args.forecast, "forecast", "countysim report")
    ds = open_forecast(args.forecast)
    extra = {k: open_extra(getattr(args, k), k) for k in ("sensitivity", "prim")
             if getattr(args, k) is not None}
    audit = (load_identity_audit(args.audit, args.audit_targets) if args.audit is not None
             else None)
    command = " ".join(["countysim report", str(args.forecast), "--out", str(args.out)]
                       + [f"--{k} {getattr(args, k)}" for k in extra]
                       + ([f"--audit {args.audit}"] if audit is not None else [])
                       + ([f"--audit-targets {args.audit_targets}"] if audit is not None
                          and args.audit_targets != AUDIT_TARGETS else []))
    path = write_report(ds, args.out, command=command, audit=audit, **extra)
    print(f"wrote {path}")
    return 0


def _write_calibrated_ensemble(spec: Any, result: Any) -> Path:
    """Write the calibration's ensemble (``[output] ensemble``) with the scenario it
    belongs to: after ``--update-scenario``, the updated file's text."""
    from .calibration.calibrate import ensemble_dataset
    from .core.scenario import load_scenario
    from .sweeps.ensemble import write_ensemble

    path = spec.output["ensemble"]
    if spec.scenario_path is not None:
        spec = dataclasses.replace(spec, scenario=load_scenario(spec.scenario_path))
    ds = ensemble_dataset(spec, result.dataset, path.stem)
    write_ensemble(ds, path)
    return path


VIZ_MISSING = "the explorer needs the viz extra: pip install -e '.[viz]'"


def explore_command(host: str = "127.0.0.1", port: int = 8765,
                    open_browser: bool = False) -> list[str]:
    """The command that serves the explorer: ``solara run countysim.explorer``.

    Solara's check for a newer version of itself is off: it asks PyPI on every start,
    prints an upgrade hint into the explorer's output, and the explorer works offline.
    """
    return [sys.executable, "-m", "solara", "run", "countysim.explorer", "--host", host,
            "--port", str(port), "--production", "--no-check-version",
            "--open" if open_browser else "--no-open"]


def _check_listen(host: str, port: int) -> None:
    """Refuse a busy port or a host this machine cannot listen on, in one line.

    The server would otherwise fail inside solara with a page of traceback. Port 0 is
    left to the server, which picks a free one.

    Raises:
        UsageError: ``host:port`` cannot be bound.
    """
    import errno
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--host {host}: not a host name or address this machine knows "
                         f"({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"--port {port}: already in use on {host}; choose another "
                                 "port, or --port 0 for a free one") from None
            root = "; ports below 1024 need root" if exc.errno == errno.EACCES else ""
            raise UsageError(f"--host {host} --port {port}: cannot listen there "
                             f"({exc.strerror or exc}){root}") from None


def _cmd_explore(args: argparse.Namespace) -> int:
    _check_listen(args.host, args.port)
    for module in ("solara", "altair"):
        if importlib.util.find_spec(module) is None:
            raise UsageError(f"{VIZ_MISSING} ({module} is missing)")
    import subprocess

    print(f"countysim explorer on http://{args.host}:{args.port}/ (Ctrl-C stops it)",
          flush=True)
    return subprocess.call(explore_command(args.host, args.port, args.open))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``countysim`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if hasattr(signal, "SIGXFSZ"):
        # Past a file-size limit (ulimit -f) a write then fails with EFBIG, reported on
        # one line, instead of the signal killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        with command_signals():
            return args.func(args)
    except (InputError, DistrictDataError, UsageError) as exc:
        print(f"countysim: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"countysim: error: {where}{describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE if exc.errno in USER_ERRNOS else EXIT_FAILURE
    except KeyboardInterrupt as exc:
        print(f"countysim: {_stopped_how(exc)}; {_resume_hint(args)}", file=sys.stderr)
        quiet_cancelled_reads()
        return exit_status(exc)


def _stopped_how(exc: KeyboardInterrupt) -> str:
    return f"stopped by {signal.Signals(exc.signum).name}" if isinstance(exc, Stopped) \
        else "interrupted"


def _resume_hint(args: argparse.Namespace) -> str:
    """What to do after a stop, for the command that was stopped."""
    store = getattr(args, "store", None)
    if args.command in ("forecast", "sweep") and store is not None:
        return (f"the finished runs are in {store}: run the same command with --resume to "
                "complete it")
    if args.command == "compare" and getattr(args, "results", None) is None:
        return "nothing was written: run the same command again to start afresh"
    return "nothing was written: run the same command again"



if __name__ == "__main__":
    sys.exit(main())
