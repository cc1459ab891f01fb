"""The parameter registry: every model parameter with its unit, default, bounds and source.

Figure IDs: A* are the article's figures, B* the district's facts, R* regional and
national comparators (see ``docs/odd.md``). A source that starts with ``assumption:`` is a
documented guess; the behavioural ones are fitted by the calibration (issue 4).

Parameters live in three sections, mirrored by the scenario TOML tables:

* ``district``: the district's size and make-up, used to generate the initial state;
* ``levers``: programme sizes and policy settings an analyst changes (mostly article figures);
* ``behaviour``: behavioural rates the article does not give (calibration targets them).

The registry is the single source of truth: the scenario loader validates against it,
``docs/odd.md`` renders its table from it, and sweeps vary its entries by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SECTIONS = ("district", "levers", "behaviour")

#: What a source must name unless it is ``assumption: <reason>`` or a calibration: a
#: figure or fact (A*, B*, R*) or a causal link of the pathways table (L1-L12), whose
#: row names the studies that size it.
SOURCE_ID = re.compile(r"\b(?:[ABR]\d+|L(?:1[0-2]|[1-9]))\b")


@dataclass(frozen=True)
class Parameter:
    """One model parameter.

    Attributes:
        name: Key in the scenario TOML (unique across sections).
        section: TOML table the key belongs to.
        default: Default value; its Python type is the parameter's type.
        unit: Physical unit, or ``"1"`` for dimensionless numbers.
        bounds: Inclusive ``(low, high)`` for numbers; ``None`` for booleans and choices.
        source: Figure ID(s), a link ID with its studies (:data:`SOURCE_ID`), or
            ``"assumption: <reason>"``.
        doc: One-line meaning.
        choices: Allowed values of a categorical parameter; ``(False, True)`` for a boolean
            (so samplers and strategies can list every parameter's values alike).
        before: For levers, the value in force before the scenario's start year (the
            2024 policy regime the spin-up runs under); ``None``: the same as the value.
        link: For the strength of a causal link, its ID in the pathways table
            (``docs/pathways.md``: L1..L12), else ``None``.
        prior: For a link strength, the range its sources support (``None``: the bounds
            are all that is known); the ensemble carries it over this range.
    """

    name: str
    section: str
    default: Any
    unit: str
    bounds: tuple[float, float] | None
    source: str
    doc: str
    choices: tuple[Any, ...] | None = None
    before: Any = None
    link: str | None = None
    prior: tuple[float, float] | None = None

    @property
    def kind(self) -> type:
        """The Python type values must have (``int``, ``float``, ``bool`` or ``str``)."""
        return type(self.default)

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.kind is bool:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo, hi = self.bounds
        return f"{self.kind.__name__} in [{lo:g}, {hi:g}]"


def _p(name, section, default, unit, bounds, source, doc, choices=None, before=None,
       link=None, prior=None) -> Parameter:
    return Parameter(name, section, default, unit, bounds, source, doc, choices, before,
                     link, prior)


_A = "assumption: "

_PARAMETERS: list[Parameter] = [
    # ---------------------------------------------------------------- district
    _p("population", "district", 460_790, "persons", (1_000, 5_000_000), "B1",
       "Resident population (7th census, 2020); the district's scale."),
    _p("population_growth", "district", 0.006, "1/yr", (-0.02, 0.03),
       "B2: resident population 45.76 (2019) -> 46.3 (2021) x 10k, +0.6 %/yr",
       "Trend growth of the resident population and its labour force."),
    _p("townships", "district", 12, "1", (1, 60), "B4",
       "Township-level units (towns and townships) that contain the villages."),
    _p("villages", "district", 130, "1", (1, 2_000),
       _A + "B5 not published; 金积 had 17 and 金银滩 12 villages, ~11 per township x 12",
       "Administrative villages in the district."),
    _p("rural_share", "district", 0.45, "1", (0.0, 1.0),
       _A + "Ningxia is 67% urban (R3); Litong holds the Wuzhong urban core but 11 of 12 "
       "units are agricultural towns",
       "Share of residents living in villages."),
    _p("household_size", "district", 2.79, "persons/household", (1.0, 8.0), "B13",
       "Persons per family household (Wuzhong, 2020 census)."),
    _p("labour_force_share", "district", 0.50, "1", (0.1, 0.9),
       _A + "working-age share ~0.65 (7th census, Ningxia) x participation ~0.77",
       "Labour force (working-age and active) as a share of residents."),
    _p("vacancy_share", "district", 0.05, "1", (0.0, 0.3),
       _A + "job-to-applicant ratio (求人倍率) ~1.4 in public employment services with 5 % "
       "unemployment gives vacancies of ~7 % of jobs; part of them never registered",
       "Open vacancies as a share of urban jobs at the start (the vacancy stock)."),
    _p("firms", "district", 600, "1", (1, 20_000),
       _A + "enterprises with hired staff; scaled from B8 (secondary+tertiary 88%)",
       "Enterprises represented as agents."),
    _p("firm_size_median", "district", 30.0, "persons", (1.0, 5_000.0),
       _A + "small and medium enterprises dominate",
       "Median employees per firm (lognormal)."),
    _p("firm_size_sigma", "district", 1.0, "1", (0.0, 3.0), _A + "typical firm-size spread",
       "Log-standard deviation of firm size."),
    _p("idle_land_per_household", "district", 0.35, "mu/household", (0.0, 10.0),
       _A + "A13 speaks of idle land and old buildings; no figure published",
       "Idle (unused or abandoned) farmland per household at the start."),
    _p("idle_buildings_mean", "district", 1.5, "buildings/village", (0.0, 20.0),
       _A + "A13 old factory buildings and schools; no figure published",
       "Mean number of idle collective buildings per village (Poisson)."),
    _p("collective_income_median", "district", 250_000.0, "yuan/yr", (0.0, 1e8),
       "R11: 94 % of a Ningxia city's villages earn >= 100k yuan, 31 % >= 500k; B14",
       "Median village collective income in 2024."),
    _p("collective_income_sigma", "district", 0.8, "1", (0.0, 3.0),
       "R11: 13 % of villages >= 1 M yuan; B12 (12.35 M) is the far tail",
       "Log-standard deviation of collective income."),
    _p("legacy_backlog", "district", 1_800, "problems", (0, 100_000),
       _A + "A29 resolved 1,172 legacy (demolition) problems; backlog must exceed it",
       "Legacy problems open at the start of 2025."),
    _p("leading_posts", "district", 290, "posts", (0, 20_000),
       _A + "leading posts filled from the evaluated pool; with 5-year terms (turnover 0.2/yr) "
       "290 posts free ~58 a year (A7's scale)",
       "Leading posts whose vacancies are filled by promotion from the pool."),
    _p("district_seed", "district", 20_250_101, "1", (0, 2**63 - 1),
       _A + "the district is a fixed input, not a replicate-level draw",
       "Seed of the synthetic district (same villages, firms, cadres in every replicate)."),
    _p("spinup_months", "district", 24, "months", (0, 120),
       _A + "slow stocks start from their derived stationary values; two years under 2024 "
       "policies settle the rest (problem queues within 1 %, probation cohorts, evaluations)",
       "Months simulated under the pre-programme (2024) levers before the start month."),
    # ------------------------------------------------------------------ levers
    _p("pilot_villages", "levers", 50, "villages", (0, 2_000), "A13",
       "Villages with a party-branch-led cooperative.", before=0),
    _p("pilot_rule", "levers", "capacity", "1", None,
       _A + "districts pick villages with strong branches first",
       "How pilot villages are chosen ('listed' uses the pilot column of villages.csv).",
       ("capacity", "idle_assets", "random", "listed")),
    _p("alliances", "levers", True, "1", None, "A15",
       "Cross-village alliances (跨村联建) pool pilot villages of one township.",
       (False, True), before=False),
    _p("alliance_size", "levers", 3, "villages", (2, 20),
       _A + "A15 names no size; a few neighbouring villages per alliance",
       "Pilot villages per alliance."),
    _p("frontline_share", "levers", 0.4, "1", (0.0, 1.0),
       "A2 (241 mechanism; the digits' meaning is not given) " + _A + "~2 of 5 days; "
       "before 2025 ~1 day a week",
       "Minimum share of cadre working time spent in villages and firms.", before=0.2),
    _p("firm_visits_per_year", "levers", 132, "visits/yr", (0, 20_000),
       "A3: 110+ firms visited by October, i.e. 110 x 12/10 a year",
       "Firm visits by cadres bringing subsidies and job matching.", before=0),
    _p("subsidy_per_visit", "levers", 60_000.0, "yuan", (0.0, 1e7),
       _A + "A3 names job-retention, job-expansion (1,500 yuan a hire) and social-insurance "
       "subsidies", "Subsidies delivered to a visited firm."),
    _p("matching_boost", "levers", 0.15, "1", (0.0, 3.0),
       _A + "A3 big-data job matching; effect size unpublished",
       "Relative gain in matching efficiency of vacancies on the matching platform.",
       before=0.0, link="L11", prior=(0.05, 0.3)),
    _p("mentor_pairs", "levers", 30, "pairs", (0, 2_000), "A11",
       "District-level mentor pairs among evaluated cadres (re-formed each year).", before=0),
    _p("recruits", "levers", 28, "cadres/yr", (0, 2_000), "A11",
       "Newcomers a year (refilling posts) each matched to a mentor.", before=0),
    _p("expert_mentors", "levers", 25, "persons", (0, 1_000), "A18",
       "Local experts (土专家) mentoring agri-technicians (1 : 10).", before=0),
    _p("technicians", "levers", 250, "persons", (0, 10_000), "A18",
       "Grassroots agri-technicians in the villages."),
    _p("returnees", "levers", 77, "persons/yr", (0, 10_000), "A21",
       "Returnee graduates and veterans supported to start businesses, per year.", before=0),
    _p("nonfarm_trainees", "levers", 2_000, "persons/yr", (0, 100_000),
       _A + "vocational training for rural workers (Ningxia trains rural workers every "
       "year; Litong's number is not published): ~2 % of rural workers a year",
       "Rural workers trained for non-farm work a year (L12)."),
    _p("evaluated_cadres", "levers", 479, "cadres", (1, 20_000), "A10",
       "Cadres in the evaluated pool (一人一册 files)."),
    _p("evaluation_strictness", "levers", 1.0, "1", (0.0, 1.0),
       "A1; " + _A + "before 五比五看, merit and seniority weighed about equally",
       "Weight of merit (the five dimensions) against seniority in evaluation.",
       before=0.5),
    _p("results_weight", "levers", 0.2, "1", (0.0, 1.0),
       "A1: five dimensions (担当, 能力, 服务, 实绩, 廉洁); equal weights assumed",
       "Weight of front-line results (实绩) among the five dimensions."),
    _p("integrity_checks", "levers", True, "1", None, "A1",
       "Integrity (廉洁) is checked and failures lead to removal.", (False, True)),
    _p("evaluation_interval", "levers", 3, "months", (1, 12),
       _A + "quarterly evaluation; the article gives no frequency",
       "Months between evaluations (decisions at each)."),
    _p("promotion_score_min", "levers", 0.5, "sd", (-3.0, 3.0),
       _A + "promotion club: only clearly above-average cadres",
       "Minimum standardised score (one-year moving average) for promotion."),
    _p("advance_min_tenure", "levers", 2.0, "years", (0.0, 10.0),
       _A + "rank advancement needs years in rank (公务员职务与职级并行规定)",
       "Minimum years in rank before advancement."),
    # --------------------------------------------------------------- behaviour
    _p("problem_rate_household", "behaviour", 0.0025, "problems/household/month",
       (0.0, 0.05), _A + "fitted by calibration to A6",
       "Households' rate of raising urgent problems."),
    _p("problem_rate_firm", "behaviour", 0.03, "problems/firm/month", (0.0, 1.0),
       _A + "hand-set, not fitted; bears on A6", "Firms' rate of raising development problems."),
    _p("collect_rate", "behaviour", 2.0, "1/month", (0.0, 20.0),
       _A + "A2 closed loop collects most problems within a few months",
       "Hazard of a problem being collected per unit of front-line effort."),
    _p("resolve_base", "behaviour", -1.2, "logit", (-8.0, 4.0),
       _A + "fitted by calibration to A6", "Intercept of the monthly resolution probability."),
    _p("resolve_skill", "behaviour", 3.0, "logit", (0.0, 10.0),
       _A + "hand-set, not fitted; bears on A6",
       "Effect of a cadre's capability x responsibility."),
    _p("resolve_difficulty", "behaviour", 2.0, "logit", (0.0, 10.0),
       _A + "hand-set, not fitted; bears on A6", "Effect of a problem's difficulty (0-1)."),
    _p("legacy_logit", "behaviour", 0.1, "logit", (-10.0, 5.0),
       _A + "fitted by calibration to A29",
       "Logit offset of the monthly resolution probability of a legacy problem."),
    _p("legacy_cadre_share", "behaviour", 0.15, "1", (0.0, 1.0),
       _A + "cadres on urban renewal and resettlement work",
       "Share of cadres assigned to the legacy backlog."),
    _p("matching_elasticity", "behaviour", 0.5, "1", (0.05, 0.95),
       "assumption: Petrongolo & Pissarides (2001) survey range 0.5-0.7",
       "Elasticity a of matches with respect to seekers."),
    _p("separation_rate", "behaviour", 0.0028, "1/month", (0.0, 0.1),
       _A + "fitted by calibration to A4 (placements ~ replacement demand)",
       "Monthly rate at which urban jobs end."),
    _p("retirement_rate", "behaviour", 0.025, "1/yr", (0.0, 0.1),
       _A + "working lives of ~40 years (entry ~20, retirement 55-60)",
       "Annual rate at which workers leave the labour force, replaced by young entrants."),
    _p("output_growth", "behaviour", 0.043, "1/yr", (-0.2, 0.3), "B7",
       "Trend growth of real output (2021-25 average)."),
    _p("employment_elasticity", "behaviour", 0.27, "1", (0.0, 1.0),
       _A + "non-farm (urban) employment grew ~0.1-0.45 % per % of GDP growth in China in "
       "2010-24 (urban employment ~347 M -> 463 M in 2010-20, slower since) while farm "
       "employment fell: urban jobs must absorb those who leave farming",
       "Growth of urban labour demand per unit of output growth."),
    _p("inflation", "behaviour", 0.01, "1/yr", (-0.05, 0.1),
       _A + "China CPI averaged ~1 %/yr in 2021-25",
       "Price inflation added to productivity growth in nominal wages."),
    _p("labour_demand_elasticity", "behaviour", 0.3, "1", (0.0, 2.0),
       "assumption: Hamermesh (1993) constant-output own-wage elasticity ~0.3",
       "Relative rise in a firm's labour demand per relative fall in its labour cost "
       "(subsidies, A3)."),
    _p("problem_productivity_penalty", "behaviour", 0.05, "1/problem", (0.0, 1.0),
       _A + "unresolved firm problems depress output",
       "Drag of each open problem: a firm's output and labour demand fall to "
       "1 / (1 + penalty x open problems).", link="L5", prior=(0.01, 0.1)),
    _p("migration_rate", "behaviour", 0.006, "1/month", (0.0, 0.5),
       "R2, R3: Ningxia counts 831,000 migrant workers away from home among 7.29 M people; "
       "scaled to the district (6.3 %), ~52k of its rural workers work away from home, "
       "inside the district's towns or outside it (the baseline: ~47k rural holders of "
       "urban jobs and ~10k migrants in 2025)",
       "Monthly migration hazard per unit expected-wage gap."),
    _p("return_rate", "behaviour", 0.008, "1/month", (0.0, 0.5),
       _A + "migrants return home after a few years on average",
       "Monthly rate at which migrants return and seek work at home."),
    _p("seasonal_take_rate", "behaviour", 0.15, "1/month", (0.0, 1.0),
       _A + "B10: day-lily picking employs 1,000+ in summer; fitted by calibration to A5",
       "Peak-season monthly rate at which farmers take local wage work."),
    _p("local_exit_rate", "behaviour", 0.3, "1/month", (0.0, 1.0),
       _A + "seasonal work lasts the picking season (B10: June-August)",
       "Monthly rate at which seasonal local work, and rural job search, end."),
    _p("activation_rate", "behaviour", 0.08, "1/month", (0.0, 1.0),
       _A + "the pace the district's support allows; fitted by calibration to A14",
       "Monthly share of remaining idle assets a supported cooperative with a fully capable "
       "branch activates (diminishing returns)."),
    _p("coop_revenue_per_mu", "behaviour", 3_000.0, "yuan/mu/yr", (0.0, 50_000.0),
       _A + "facility vegetables and day lily earn several thousand yuan per mu",
       "Revenue of an activated mu at productivity 1."),
    _p("building_revenue", "behaviour", 80_000.0, "yuan/building/yr", (0.0, 5e6),
       _A + "leased or reused old buildings (A13)", "Revenue of an activated building."),
    _p("coop_collective_share", "behaviour", 0.035, "1", (0.0, 1.0),
       _A + "fitted by calibration to A14",
       "Share of cooperative revenue paid to collective income."),
    _p("coop_wage_share", "behaviour", 0.4, "1", (0.0, 1.0),
       _A + "labour share of farm revenue", "Share of cooperative revenue paid as wages."),
    _p("coop_member_households", "behaviour", 40, "households", (1, 2_000),
       "A26: a party member's cooperative with 30+ member households",
       "Member households sharing a cooperative's profit."),
    _p("dividend_share", "behaviour", 0.35, "1", (0.0, 1.0),
       "R13: 40 % of collective income paid as dividends; B12: 3.79 M of 12.35 M (31 %)",
       "Share of collective income paid to the village's households as dividends."),
    _p("alliance_market_boost", "behaviour", 0.2, "1", (0.0, 3.0),
       _A + "A15 shared sales channels (利通好礼)",
       "Revenue gain and wider market (less price saturation) from an alliance."),
    _p("technician_yield_gain", "behaviour", 0.10, "1", (0.0, 2.0),
       "L9: yields +5-15 % for directly advised farmers (Waddington et al. 2014, Campbell "
       "review of farmer field schools; Lampach et al., meta-regression); A22's doubling is "
       "the best case",
       "Relative farm-income gain of households advised by a trained technician.",
       link="L9", prior=(0.05, 0.15)),
    _p("households_per_technician", "behaviour", 50, "households", (1, 1_000),
       "A22: 50 neighbouring households followed one trained grower",
       "Households one trained technician advises."),
    _p("training_months", "behaviour", 6, "months", (1, 60),
       _A + "one growing season of mentoring (A18)", "Months until a technician is trained."),
    _p("returnee_income", "behaviour", 10_000.0, "yuan/yr", (0.0, 1e6),
       _A + "A19's lead goose (150k) is the best case", "Collective income from a returnee firm."),
    _p("returnee_jobs", "behaviour", 4, "jobs", (0, 200),
       "L10: 2-6 jobs per returnee venture (the official 6.5 counts linked households); "
       "A19, A22", "Local wage jobs a returnee business creates.", link="L10", prior=(2, 6)),
    _p("returnee_closure_rate", "behaviour", 0.13, "1/yr", (0.0, 1.0),
       "L10: 40-60 % of new firms survive five years (SAIC 2013: 49 % exit within 5 years)",
       "Annual rate at which returnee businesses close.", link="L10", prior=(0.10, 0.18)),
    _p("imitation_rate", "behaviour", 0.05, "1/month", (0.0, 1.0),
       _A + "A22: 50 households followed one returnee within a season or two",
       "Monthly probability a village with know-how compares its line with a neighbour's."),
    _p("switch_cost", "behaviour", 0.15, "1", (0.0, 2.0),
       _A + "seedlings, sheds and lost harvest of a switch: a share of a year's farm income",
       "Income gain a village needs before it switches product line."),
    _p("price_elasticity", "behaviour", 2.0, "1", (0.2, 20.0),
       _A + "district produce sells beyond the local market; demand is elastic",
       "Elasticity of demand for a product line: its price falls as supply rises."),
    _p("collective_income_noise", "behaviour", 0.05, "1", (0.0, 1.0),
       _A + "villages' incomes vary year to year",
       "Coefficient of variation of a village's monthly collective income."),
    _p("effort_response", "behaviour", 0.5, "1", (0.0, 3.0),
       _A + "results-based evaluation raises effort (design page)",
       "Extra front-line effort per unit of marginal evaluation reward (1 / effort cost).",
       link="L1", prior=(0.1, 1.0)),
    _p("capability_growth", "behaviour", 0.003, "1/month", (0.0, 0.1),
       _A + "learning on the job", "Monthly capability gain of a cadre (towards 1)."),
    _p("mentor_boost", "behaviour", 0.3, "1/yr", (0.0, 1.0),
       _A + "L3: A11 mentoring passes on the mentor's know-how; no direct estimate found, "
       "so the range is wide",
       "Share of the gap to its mentor's capability a mentee closes over the mentoring year.",
       link="L3", prior=(0.1, 0.5)),
    _p("evaluation_noise", "behaviour", 0.15, "1", (0.0, 2.0),
       _A + "evaluators see qualities with error", "SD of the noise on each observed quality."),
    _p("removal_score_max", "behaviour", 0.30, "1", (0.0, 1.0),
       _A + "the evaluators' effective absolute standard on the [0, 1] scale of the five "
       "dimensions (A1); fitted by calibration to A9",
       "Merit (one-year moving average) at or below which a cadre past probation is removed."),
    _p("leading_post_turnover", "behaviour", 0.2, "1/yr", (0.0, 1.0),
       "assumption: five-year terms of leading posts (党政领导干部职务任期暂行规定)",
       "Annual share of leading posts that fall vacant (retirement, transfer, term end)."),
    _p("cadre_exit_rate", "behaviour", 0.05, "1/yr", (0.0, 0.5),
       _A + "retirement after ~30 years in the pool plus transfers out",
       "Annual rate at which pool cadres retire or transfer; posts are refilled."),
    _p("advance_rate", "behaviour", 0.2, "1/evaluation", (0.0, 1.0),
       _A + "fitted by calibration to A8",
       "Probability an eligible, above-median cadre advances in rank at an evaluation."),
    _p("integrity_failure_rate", "behaviour", 0.005, "1/yr", (0.0, 0.5),
       _A + "fitted by calibration to A9",
       "Annual rate of integrity failures at integrity 0.5 (twice that at 0, none at 1)."),
    _p("farm_income", "behaviour", 1_500.0, "yuan/worker/month", (0.0, 1e5),
       _A + "anchored to R1/R4 rural income (~19k yuan per capita in 2024)",
       "Net farm income of a farming worker at productivity 1 in 2025."),
    _p("local_wage", "behaviour", 2_600.0, "yuan/month", (0.0, 1e5),
       _A + "B10 picking wages; county wage levels", "Local wage work income in 2025."),
    _p("urban_wage", "behaviour", 5_800.0, "yuan/month", (0.0, 1e5),
       _A + "R1 urban income 40k per capita", "Urban job income in 2025."),
    _p("migrant_wage", "behaviour", 4_800.0, "yuan/month", (0.0, 1e5),
       _A + "migrant wages net of living costs are remitted in part",
       "Migrant earnings outside the district in 2025."),
    _p("remittance_share", "behaviour", 0.55, "1", (0.0, 1.0),
       _A + "half of migrant earnings reach the household",
       "Share of migrant earnings counted in household income."),
    _p("transfer_income", "behaviour", 300.0, "yuan/person/month", (0.0, 1e4),
       "R8: net transfers ~18 % of disposable income", "Transfers per resident in 2025."),
    _p("rural_transfer_growth", "behaviour", 0.07, "1/yr", (-0.1, 0.3),
       _A + "rural residents' basic pension minimum raised by 20 yuan a month in 2024 and "
       "again in 2025 (government work reports; ~10 % a year on ~200 yuan), other rural "
       "transfers with wages",
       "Nominal growth of transfers per rural resident.", prior=(0.05, 0.10)),
    _p("urban_transfer_growth", "behaviour", 0.03, "1/yr", (-0.1, 0.3),
       _A + "retirees' basic pensions were raised 3.8 % (2023), 3 % (2024) and 2 % (2025)",
       "Nominal growth of transfers per urban resident.", prior=(0.02, 0.04)),
    # ---------------------------------------------- causal links (docs/pathways.md)
    _p("leader_growth_effect", "behaviour", 0.005, "1/yr/sd", (0.0, 0.03),
       "L2: 1 sd of leader quality ~ 0.5-1.0 pp of local growth a year (Jones & Olken "
       "2005, QJE; Yao & Zhang 2015, J Econ Growth); the lower end for township leaders",
       "Extra output growth a year per sd of the mean capability of leading-post holders "
       "above its 2024 level (selection).", link="L2", prior=(0.0025, 0.01)),
    _p("breach_penalty", "behaviour", 0.5, "1", (0.0, 1.0),
       _A + "L2: a cadre with an undetected integrity failure works for the village at half "
       "strength; no estimate found",
       "Share of a cadre's front-line effectiveness lost to an undetected integrity failure.",
       link="L2", prior=(0.25, 0.75)),
    _p("problem_investment_drag", "behaviour", 0.03, "1/problem/yr", (0.0, 0.5),
       "L5: served firms' investment +0-5 % over 1-2 years (Bruhn 2011, REStat; Klapper & "
       "Love 2011; Ito, Lim & Zhang 2023, RIETI)",
       "Yearly growth of a firm's capacity lost per open problem, against the 2024 "
       "expected number (investment held back).", link="L5", prior=(0.0, 0.06)),
    _p("unlock_elasticity", "behaviour", 0.2, "1", (0.0, 2.0),
       _A + "L6: no direct estimate exists (the petition literature measures "
       "responsiveness, Chen, Pan & Xu 2016, AJPS); fewer unresolved household problems "
       "unlock stalled land and buildings",
       "Elasticity of a cooperative's activation pace with respect to its village's open "
       "household problems relative to 2024 (with the sign that fewer speed it up).",
       link="L6", prior=(0.0, 0.5)),
    _p("coop_leader_effect", "behaviour", 0.1, "1/sd", (0.0, 0.5),
       "L7: leader-quality multiplier 0.7-1.3 on cooperative returns (about +-3 sd)",
       "Relative change of a cooperative's activation pace, returns and success per sd of "
       "its village's responsible cadre (capability x responsibility x effort) above 2024.",
       link="L7", prior=(0.05, 0.15)),
    _p("shell_share", "behaviour", 0.4, "1", (0.0, 1.0),
       _A + "L7: 30-50 % of new cooperatives earn almost nothing ('shell' cooperatives); "
       "coop membership does not raise the lowest incomes (Agric. Food Econ. 2022)",
       "Share of new party-branch cooperatives that stay shells at average leadership "
       "(more under weaker, fewer under stronger leadership).", link="L7", prior=(0.3, 0.5)),
    _p("reinvest_share", "behaviour", 0.075, "1", (0.0, 0.5),
       "L8: cooperative rules reserve 5-10 % of profit for reinvestment (Yantai)",
       "Share of a cooperative's profit reinvested in more activated assets.", link="L8",
       prior=(0.05, 0.10)),
    _p("asset_return", "behaviour", 0.065, "1/yr", (0.0, 0.5),
       "L7: return on activated collective assets 5-8 % a year (3-20 %); county cases",
       "Yearly profit per yuan of activated assets: what reinvestment adds to them.",
       link="L8", prior=(0.03, 0.20)),
    _p("idle_land_per_settler", "behaviour", 0.5, "mu/worker", (0.0, 10.0),
       _A + "L8: a household settling in town rents out most of its land; some lies idle "
       "and passes to the collective",
       "Idle land a rural worker leaves to the village when settling in town.", link="L8",
       prior=(0.2, 1.0)),
    _p("training_nonfarm_gain", "behaviour", 0.04, "1/yr", (0.0, 0.5),
       "L12: non-farm employment +2-6 pp within a year of training (Zhao & Geng 2020; NBS "
       "migrant survey, PSM); administrative claims of 30-40 % are biased up",
       "Extra yearly chance a trained farmer moves into transfer (migrant) work.",
       link="L12", prior=(0.02, 0.06)),
    # ------------------------------------------------------ long-run structure
    _p("job_finding_rate", "behaviour", 0.05, "1/month", (0.005, 1.0),
       _A + "urban job search in China is slow (re-employment of laid-off workers took "
       "years: Giles, Park & Cai 2006, China Quarterly); spells of 10-33 months. The "
       "surveyed rate (R6) checks the unemployment this gives; it does not set it",
       "Monthly job-finding rate of seekers at the start (sets the matching efficiency)."),
    _p("settle_rate", "behaviour", 0.10, "1/yr", (0.0, 1.0),
       "B15, R15: Litong's urban share rose ~2 points a year in 2010-20 (rural residents "
       "188,520 -> 139,311, reclassified villages included), Ningxia's ~1.7 in 2017-22 and "
       "~1.0 in 2022-23; " + _A + "rural workers with an urban job settle in town within "
       "~10 years (the urban share of resident workers then rises 1.1-1.3 points a year "
       "under 2024 policies; calibrated to R15 by experiments/calibrate_2025.toml)",
       "Yearly rate at which rural workers holding an urban job move to town with their "
       "household.", prior=(0.03, 0.12)),
    _p("settler_service_jobs", "behaviour", 0.2, "jobs/settler", (0.0, 2.0),
       _A + "a settling household's everyday spending moves to town with it: consumption "
       "~70 % of income and local services ~45 % of consumption (B8: services are 54.8 % "
       "of output) buy ~0.3 service jobs at the settler's own wage; a commuter already "
       "bought part of it in town, hence ~0.2 (0.1-0.4). Moretti (2010, AER P&P) finds 1.6 "
       "local jobs per new tradable job, an upper end for a worker whose job is not new",
       "Urban labour demand created by each rural worker settling in town (local services "
       "the household now buys in town).", prior=(0.1, 0.4)),
    _p("farmer_search", "behaviour", 0.05, "1", (0.0, 1.0),
       _A + "farmers look for urban work while farming, far less intensively than the "
       "unemployed (on-the-job search, Pissarides 2000)",
       "Search intensity of rural farmers for urban jobs relative to a seeker's.",
       prior=(0.02, 0.15)),
    _p("farm_return_rate", "behaviour", 0.05, "1/month", (0.0, 1.0),
       _A + "young rural people look for non-farm work and seldom take up farming again; "
       "the farm labour force is ageing and shrinking (B15's rural decline)",
       "Monthly rate at which rural seekers give up and go (back) to farming.",
       prior=(0.02, 0.1)),
    _p("land_elasticity", "behaviour", 0.3, "1", (0.0, 1.0),
       _A + "land's output elasticity in Chinese farm production functions, ~0.2-0.5 (e.g. "
       "Lin 1992, AER)",
       "Elasticity of farm income per farmer with respect to the village's land per farmer "
       "(fewer farmers farm more land each).", prior=(0.2, 0.5)),
]

PARAMETERS: dict[str, Parameter] = {p.name: p for p in _PARAMETERS}


def defaults() -> dict[str, Any]:
    """Return a fresh mapping of every parameter name to its default value."""
    return {name: p.default for name, p in PARAMETERS.items()}


def by_section(section: str) -> list[Parameter]:
    """Return the parameters of one section, in registry order."""
    if section not in SECTIONS:
        raise KeyError(f"unknown section {section!r}; allowed: {', '.join(SECTIONS)}")
    return [p for p in _PARAMETERS if p.section == section]
