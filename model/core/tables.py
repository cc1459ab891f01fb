"""Fixed tables the model uses: product lines, firm sectors, seasonality, labour states.

These are structural inputs rather than tunable scalars; each row names its source
(figure ID or ``assumption``). ``docs/odd.md`` lists them beside the parameter table.
"""

from __future__ import annotations

from enum import IntEnum

MONTHS_PER_YEAR = 12


class Labour(IntEnum):
    """Labour states of a worker (the ``labour_state`` dimension, in this order).

    Arrays are compared with a member's ``value`` (``state == Labour.SEEKING.value``): NumPy
    takes a member itself, an ``int`` subclass, as a 64-bit number and widens the whole
    int8 array to compare with it, ~10x slower than with the plain int (the same result).
    """

    FARMING = 0
    LOCAL_WAGE = 1
    URBAN_JOB = 2
    MIGRANT = 3
    SEEKING = 4


LABOUR_STATES = tuple(s.name.lower() for s in Labour)
NONFARM = (Labour.LOCAL_WAGE, Labour.URBAN_JOB, Labour.MIGRANT)

# Product lines: share of villages at the start, farm-income multiplier relative to grain.
# Sources: B9 (dairy: 227,900 head), B10-B11 (day lily), A20/A22 (facility vegetables,
# broccoli); shares and multipliers are assumptions: no village-level census is published.
PRODUCT_LINES: dict[str, dict[str, float | str]] = {
    "dairy": {"share": 0.15, "income_multiplier": 1.35, "source": "B9; assumption: share"},
    "day_lily": {"share": 0.08, "income_multiplier": 1.25, "source": "B10, B11; assumption"},
    "facility_vegetables": {"share": 0.12, "income_multiplier": 1.40,
                            "source": "A20; assumption"},
    "field_vegetables": {"share": 0.20, "income_multiplier": 1.15, "source": "A22; assumption"},
    "grain": {"share": 0.35, "income_multiplier": 1.00, "source": "assumption: reference line"},
    "other": {"share": 0.10, "income_multiplier": 1.05, "source": "assumption"},
}
PRODUCT_LINE_NAMES = tuple(PRODUCT_LINES)

# Firm sectors and their share of firms (B8: industry 33.3%, services 54.8% of output).
FIRM_SECTORS: dict[str, dict[str, float | str]] = {
    "manufacturing": {"share": 0.25, "source": "B8; assumption: split of secondary"},
    "dairy_processing": {"share": 0.08, "source": "B9; assumption"},
    "construction": {"share": 0.10, "source": "B8; assumption"},
    "agri_processing": {"share": 0.07, "source": "B10; assumption"},
    "services": {"share": 0.50, "source": "B8; assumption: tertiary 54.8% of output"},
}
FIRM_SECTOR_NAMES = tuple(FIRM_SECTORS)
FIRM_URBAN_SHARE = 0.7  # assumption: most firms sit in the urban core and industrial parks

# Month-of-year multipliers (January first).
# Seasonal local farm wage work: day-lily picking June-August (B10), vegetable harvests
# into October; assumption for the exact shape.
FARM_SEASON = (0.1, 0.1, 0.3, 0.5, 0.7, 1.0, 1.0, 1.0, 0.8, 0.6, 0.3, 0.1)

# Cadre qualities (五比五看, A1) are drawn as logistic(mean + load * g + unique * e) with a
# common factor g: able cadres tend to be able in several ways. Assumption: no data.
CADRE_QUALITIES = ("responsibility", "capability", "service", "results", "integrity")
CADRE_QUALITY_MEAN = 0.6
CADRE_QUALITY_LOAD = 0.7
CADRE_QUALITY_UNIQUE = 0.5
CADRE_TOWNSHIP_SHARE = 0.6  # assumption: share of the pool posted in townships
RECRUIT_PROBATION_MONTHS = 12  # civil-service probation (公务员法 art. 34: one year)
# Assumption: newcomers start lower on all five qualities (logit); only capability grows back.
RECRUIT_CAPABILITY_SHIFT = -0.8

# Village synthesis: size and asset spread across villages, and branch capacity.
VILLAGE_SIZE_SIGMA = 0.5  # assumption: largest villages (B6: 1,097 households) ~3x median
IDLE_LAND_SIGMA = 0.6  # assumption
BRANCH_CAPACITY_BETA = (4.0, 3.0)  # assumption: most branches middling, few weak
DISTANCE_KM = (2.0, 30.0)  # assumption: distance to the urban core, uniform
MIN_HOUSEHOLDS = 30  # assumption: smallest administrative village
FIRM_PRODUCTIVITY_SIGMA = 0.2  # assumption

# Problems: difficulty ~ Beta(a, b) on [0, 1]; legacy problems are harder (A29: 10+ years).
PROBLEM_DIFFICULTY_BETA = (2.0, 2.0)
LEGACY_DIFFICULTY_BETA = (5.0, 2.0)
