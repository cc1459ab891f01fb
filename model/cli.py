"""The ``countysim`` command line.

Subcommands:

* ``countysim run SCENARIO [--seed N] [--until YYYY-MM] [--out PATH]``: one run, NetCDF
  out, indicator table printed;
* ``countysim check SCENARIO``: validate a scenario and print it resolved;
* ``countysim district SCENARIO --out DIR``: write the district tables as CSV.

Bad input (scenario files, arguments) is reported on one line, without a traceback,
with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .district import DistrictDataError
from .scenario import ScenarioError, month_index

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input: printed on one line, exit status 2."""


def _month(text: str) -> str:
    try:
        month_index(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM, got {text!r}") from None
    return text


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


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
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from .county import run
    from .report import format_table
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    until = args.until or scenario.until
    if until < scenario.start:
        raise UsageError(f"--until {until} is before the scenario's start {scenario.start}")
    out = args.out or Path("runs") / f"{scenario.name}.nc"
    ds = run(scenario, seed=args.seed, until=until)
    out.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(out, engine="h5netcdf")
    print(format_table(ds))
    print(f"wrote {out}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .scenario import load_scenario

    print(load_scenario(args.scenario).to_toml(), end="")
    return 0


def _cmd_district(args: argparse.Namespace) -> int:
    from .district import build_district
    from .scenario import load_scenario

    district = build_district(load_scenario(args.scenario))
    district.to_csv(args.out)
    print(f"wrote {len(district.villages)} villages, {len(district.firms)} firms and "
          f"{len(district.cadres)} cadres to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``countysim`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, DistrictDataError, UsageError) as exc:
        print(f"countysim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("countysim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
