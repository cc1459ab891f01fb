"""The ``countysim`` command line.

Subcommands:

* ``countysim run SCENARIO [--seed N] [--until YYYY-MM] [--out PATH]``: one run, NetCDF
  out, indicator table printed;
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
* ``countysim compare A B [--results STORE] [--ensemble NAME] [--members N] [--seeds N]``:
  paired differences B - A of every indicator over common seeds and ensemble members;
* ``countysim report FORECAST --out DIR [--sensitivity PATH] [--prim PATH]``: a
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
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .core import __version__
from .core.district import DistrictDataError
from .core.errors import InputError
from .core.scenario import LAST_MONTH, month_index
from .sweeps.files import USER_ERRNOS, check_output_path, describe_os_error
from .sweeps.signals import Stopped, command_signals, exit_status, quiet_cancelled_reads

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: printed on one line, exit status 2."""


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="countysim", description="Agent-based model of a county's development targets.")
    parser.add_argument("--version", action="version", version=f"countysim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one scenario and print the indicator table")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--seed", type=_seed, default=0, help="root seed (default 0)")
    run.add_argument("--until", type=_month, default=None,
                     help="last month YYYY-MM (default: the scenario's 'until')")
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
    val.add_argument("scenario", type=Path, nargs="?",
                     default=Path("scenarios/baseline_2025.toml"),
                     help="scenario TOML file (default scenarios/baseline_2025.toml)")
    val.add_argument("--seeds", type=_workers, default=5, metavar="N",
                     help="runs with seeds 100 .. 100+N-1, never used by the calibration "
                     "(default 5)")
    val.set_defaults(func=_cmd_validate)
    _add_sweep_parsers(sub)
    _add_calibrate_parser(sub)
    _add_forecast_parsers(sub)
    _add_report_parser(sub)
    explore = sub.add_parser("explore", help="serve the interactive explorer (SolaraViz; "
                             "needs the viz extra)")
    explore.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    explore.add_argument("--port", type=_whole_number(0), default=8765,
                         help="port (default 8765; 0 picks a free one)")
    explore.add_argument("--open", action="store_true", help="open a browser tab")
    explore.set_defaults(func=_cmd_explore)
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from .core.county import run
    from .core.observe import to_netcdf_layout
    from .core.report import format_table
    from .core.scenario import load_scenario
    from .sweeps.files import write_netcdf

    scenario = load_scenario(args.scenario)
    until = args.until or scenario.until
    if until < scenario.start:
        raise UsageError(f"--until {until} is before the scenario's start {scenario.start}")
    if until > LAST_MONTH:
        raise UsageError(f"--until {until} is after the last month the model covers, "
                         f"{LAST_MONTH}")
    # The scenario's name is validated as a name (not a path) when it is loaded.
    out = check_output_path(args.out or Path("runs") / f"{scenario.name}.nc", "--out")
    ds = run(scenario, seed=args.seed, until=until)
    write_netcdf(to_netcdf_layout(ds), out)  # CF-1.10: countysim.open_run reads it back
    print(format_table(ds))
    print(f"wrote {out}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .core.scenario import load_scenario

    print(load_scenario(args.scenario).to_toml(), end="")
    return 0


def _cmd_district(args: argparse.Namespace) -> int:
    from .core.district import build_district
    from .core.scenario import load_scenario
    from .sweeps.files import write_atomically

    district = build_district(load_scenario(args.scenario))
    for name in ("villages", "firms", "cadres"):
        out = check_output_path(args.out / f"{name}.csv", "--out")
        write_atomically(out, getattr(district, name).to_csv(index=False).encode())
    print(f"wrote {len(district.villages)} villages, {len(district.firms)} firms and "
          f"{len(district.cadres)} cadres to {args.out}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .validate import VALIDATION_SEEDS, validate

    first = VALIDATION_SEEDS[0]
    table, ok = validate(args.scenario, seeds=range(first, first + args.seeds))
    print(table)
    print("all runs inside every band" if ok else "some runs left a band (marked ✗)")
    return 0 if ok else 1


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
        return 1
    except OSError as exc:
        where = exc.filename or args.store
        then = (f"the runs finished so far are kept in {args.store}: fix that, then run the "
                "same command with --resume" if args.store.is_dir() else
                "no store was created: fix that, then run the command again")
        print(f"countysim: error: {where}: cannot write: {describe_os_error(exc)}; {then}",
              file=sys.stderr)
        return EXIT_USAGE if exc.errno in USER_ERRNOS else 1
    print(summary)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .sweeps.store import StoreError, export

    try:
        out = export(args.store, args.out)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {out}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .sweeps.integrity import check_store
    from .sweeps.store import StoreError

    try:
        check = check_store(args.store)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(check.describe(args.store))
    return 0 if check.ok else 1


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
                                spec.name, result.dataset.attrs["date"])
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
                     help="last month YYYY-MM (default: the scenarios')")
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
        return 1
    print(summary_table(ds))
    print(f"runs in {spec.store}; wrote {out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .forecasting.compare import comparison_table, paired_comparison
    from .sweeps.files import write_netcdf
    from .sweeps.store import StoreError

    out = check_output_path(args.out, "--out") if args.out is not None else None
    ensemble = None if args.ensemble.lower() == "none" else args.ensemble
    if args.results is None:
        for key, file in (("A", args.a), ("B", args.b)):
            if not Path(file).is_file():
                raise UsageError(f"{file}: {key}: no such scenario file (to compare packages "
                                 "of a forecast, pass --results STORE)")
    # Without an ensemble, seeds are the only source of pairs: take more of them.
    seeds = args.seeds or (3 if ensemble is not None else 10)
    try:
        ds = paired_comparison(args.a, args.b, results=args.results, ensemble=ensemble,
                               members=args.members, replicates=seeds, seed=args.seed,
                               until=args.until, workers=args.workers,
                               progress=not args.quiet)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    if args.year is not None and args.year not in ds["year"].values:
        raise UsageError(f"--year {args.year}: the runs cover "
                         f"{int(ds['year'].min())}-{int(ds['year'].max())}")
    print(comparison_table(ds, year=args.year, only_moved=args.moved))
    if out is not None:
        print(f"wrote {write_netcdf(ds, out)}")
    return 0


# ------------------------------------------------------------------ report (issue 10)


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
    report.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from .forecasting.report import open_extra, open_forecast, write_report

    ds = open_forecast(args.forecast)
    extra = {k: open_extra(getattr(args, k), k) for k in ("sensitivity", "prim")
             if getattr(args, k) is not None}
    command = " ".join(["countysim report", str(args.forecast), "--out", str(args.out)]
                       + [f"--{k} {getattr(args, k)}" for k in extra])
    path = write_report(ds, args.out, command=command, **extra)
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
    """The command that serves the explorer: ``solara run countysim.explorer``."""
    return [sys.executable, "-m", "solara", "run", "countysim.explorer", "--host", host,
            "--port", str(port), "--production", "--open" if open_browser else "--no-open"]


def _cmd_explore(args: argparse.Namespace) -> int:
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
        return EXIT_USAGE if exc.errno in USER_ERRNOS else 1
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
