"""Throughput of follow-up validation + assessment in one process.

Generates 100,000 plausible follow-up records as JSON-style dicts (seeded, so every run sees the same data),
then for each: validate and load (parse_*), then assess with the patient's previous visit passed in.
Prints the median of 5 runs in visits/s (wall clock, and per CPU second since other work may share the
machine), the CPU count and load, and the two-step path (validate_* then from_dict) for comparison.
Prints figures; asserts nothing.

    .venv/bin/python bench/bench_rules.py [--visits N] [--runs R]

Target: >= 20,000 visits/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _smoke  # noqa: E402  (bench/ is on the path when a script runs)

from gpcore.followup import (  # noqa: E402
    DiabetesVisit,
    HypertensionVisit,
    assess_diabetes_visit,
    assess_hypertension_visit,
    parse_diabetes_visit,
    parse_hypertension_visit,
    validate_diabetes_visit,
    validate_hypertension_visit,
)

SEED = 20261122
TODAY = date(2026, 11, 22)
DRUGS = {
    "hypertension": ["氨氯地平", "缬沙坦", "硝苯地平缓释片", "美托洛尔"],
    "diabetes": ["二甲双胍", "格列美脲", "阿卡波糖"],
}


def plausible_record(rng: random.Random, condition: str) -> dict:
    """One follow-up record as the tablet would send it."""
    mode = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
    visit_date = TODAY - timedelta(days=rng.randrange(0, 700))
    record = {
        "visit_date": visit_date.isoformat(),
        "visit_mode": mode,
        "symptoms": [1] if rng.random() < 0.6 else rng.sample(range(2, 10), rng.randint(1, 3)),
        "cigarettes_per_day": rng.choice([0, 0, 0, 5, 10, 20]),
        "cigarettes_per_day_target": 0,
        "liquor_liang_per_day": rng.choice([0, 0, 0.5, 1, 2]),
        "liquor_liang_per_day_target": 0,
        "exercise_times_per_week": rng.randint(0, 7),
        "exercise_minutes_per_time": rng.choice([0, 20, 30, 60]),
        "salt_intake": rng.randint(1, 3),
        "salt_intake_target": 1,
        "psychological_adjustment": rng.randint(1, 3),
        "compliance": rng.randint(1, 3),
        "medication_adherence": rng.choices([1, 2, 3], weights=[80, 15, 5])[0],
        "adverse_reaction": 1,
        "medications": [
            {"name": name, "times_per_day": rng.randint(1, 3), "mg_per_time": rng.choice([5, 10, 80, 500])}
            for name in rng.sample(DRUGS[condition], rng.randint(0, 3))
        ],
        "next_visit_date": (visit_date + timedelta(days=rng.choice([14, 90]))).isoformat(),
        "doctor": "王医生",
    }
    if rng.random() < 0.05:
        record.update(
            adverse_reaction=2,
            adverse_reaction_text="干咳",
            adverse_reaction_hard_to_control=rng.random() < 0.3,
        )
    if rng.random() < 0.03:
        record["new_or_worse_complication"] = True
    if mode != 3:
        sbp = int(rng.gauss(138, 18))
        sbp = min(max(sbp, 85), 240)
        record.update(
            sbp=sbp,
            dbp=min(max(int(rng.gauss(84, 10)), 50), sbp - 20),
            weight_kg=round(rng.uniform(45, 100), 1),
            weight_target_kg=65.0,
            height_cm=round(rng.uniform(145, 185), 1),
            heart_rate=rng.randint(55, 110),
        )
        if condition == "diabetes":
            record.update(fpg_mmol=round(rng.uniform(3.5, 18.0), 1), dorsalis_pedis=1, hypoglycaemia=1)
    if condition == "diabetes":
        record.update(staple_food_g_per_day=rng.choice([200, 300, 400]), staple_food_g_per_day_target=250)
    return record


def generate(count: int) -> list[tuple[str, dict, int, int]]:
    """(condition, record, patient age, earlier visits this year) for `count` visits, seeded."""
    rng = random.Random(SEED)
    return [
        (condition, plausible_record(rng, condition), rng.randint(35, 90), rng.randint(0, 4))
        for condition in (
            rng.choices(["hypertension", "diabetes"], weights=[60, 40])[0] for _ in range(count)
        )
    ]


def run(batch: list[tuple[str, dict, int, int]]) -> tuple[float, float, int, int]:
    """Validate + load (one pass) and assess every record: wall s, CPU s, assessed, rejected."""
    parse = {"hypertension": parse_hypertension_visit, "diabetes": parse_diabetes_visit}
    previous = {"hypertension": None, "diabetes": None}
    assessed = rejected = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for condition, record, age, earlier in batch:
        visit, problems = parse[condition](record, today=TODAY)
        if problems:
            rejected += 1
            continue
        if condition == "hypertension":
            assess_hypertension_visit(
                visit, patient_age=age, previous=previous[condition], earlier_visits_this_year=earlier
            )
        else:
            assess_diabetes_visit(visit, previous=previous[condition], earlier_visits_this_year=earlier)
        previous[condition] = visit
        assessed += 1
    return time.perf_counter() - started, time.process_time() - cpu_started, assessed, rejected


def run_two_step(batch: list[tuple[str, dict, int, int]]) -> float:
    """The same work the way a view may write it: validate_*() for the errors dict, then from_dict()."""
    previous = {"hypertension": None, "diabetes": None}
    started = time.perf_counter()
    for condition, record, age, earlier in batch:
        if condition == "hypertension":
            if validate_hypertension_visit(record, today=TODAY):
                continue
            visit = HypertensionVisit.from_dict(record)
            assess_hypertension_visit(
                visit, patient_age=age, previous=previous[condition], earlier_visits_this_year=earlier
            )
        else:
            if validate_diabetes_visit(record, today=TODAY):
                continue
            visit = DiabetesVisit.from_dict(record)
            assess_diabetes_visit(visit, previous=previous[condition], earlier_visits_this_year=earlier)
        previous[condition] = visit
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = _smoke.parse(parser, visits=2_000, runs=1)
    batch = generate(args.visits)
    walls, cpus = [], []
    for _ in range(args.runs):
        wall, cpu, assessed, rejected = run(batch)
        walls.append(wall)
        cpus.append(cpu)
    two_step = statistics.median(run_two_step(batch) for _ in range(args.runs))
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"python {platform.python_version()} on {platform.machine()}, nproc {os.cpu_count()}, "
        f"usable cpus {usable}, load average {load}"
    )
    print(f"visits {args.visits}, assessed {assessed}, rejected by validation {rejected}, runs {args.runs}")
    print("wall per run (s): " + ", ".join(f"{t:.3f}" for t in walls))
    print(
        f"parse_*() + assess_*():          median {args.visits / wall:,.0f} visits/s wall "
        f"({wall / args.visits * 1e6:.1f} us/visit), {args.visits / cpu:,.0f} visits/s of CPU time"
    )
    print(f"validate_*() + from_dict() + assess_*(): median {args.visits / two_step:,.0f} visits/s wall")


if __name__ == "__main__":
    main()
