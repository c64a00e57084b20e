"""What the strict JSON parser (server/limits.py: depth, number size, NUL and lone surrogates, 64-bit
integers) costs over plain json.loads, on the API's largest ordinary body: a tablet's sync push.

    .venv/bin/python bench/bench_limits.py            # a push of 500 follow-up records (the tablet's batch)
    .venv/bin/python bench/bench_limits.py --records 2000
    .venv/bin/python bench/bench_limits.py --smoke    # a few records, a few repeats: checks it runs
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.limits import loads_strict  # noqa: E402


def push_body(records: int) -> bytes:
    """A sync push like the tablet's: follow-up visits with about 40 fields each, Chinese text included."""
    fields = {"visit_date": "2026-03-14", "way": "home", "symptoms": ["headache", "dizziness"], "sbp": 148,
              "dbp": 92, "weight_kg": 68.5, "height_cm": 165, "bmi": 25.2, "heart_rate": 76,
              "other_signs": "双下肢无水肿", "smoking_per_day": 0, "drinking_ml_per_day": 50,
              "exercise_times_per_week": 3, "exercise_minutes": 30, "salt": "moderate", "mental": "good",
              "compliance": "good", "adherence": "regular", "adverse_reaction": False,
              "classification": "controlled", "medicines": [{"name": "氨氯地平片", "dose": "5 mg", "times": 1},
                                                           {"name": "缬沙坦胶囊", "dose": "80 mg", "times": 1}],
              "referral": None, "next_visit": "2026-06-14", "doctor": "t1-doctor", "note": "血压控制尚可，继续服药"}
    fields.update({f"extra_{i}": i * 1.5 for i in range(15)})
    body = {"batch_id": str(uuid.uuid4()), "device_id": "tablet-01", "records": [
        {"change_id": str(uuid.uuid4()), "entity": "followup", "entity_id": str(uuid.uuid4()), "op": "create",
         "base": {}, "fields": fields, "device_time": "2026-03-14T10:22:00+08:00"} for _ in range(records)]}
    return json.dumps(body, ensure_ascii=False).encode()


def interleaved(fns, raw: bytes, repeats: int) -> list[list[float]]:
    """CPU seconds of each function per repeat, run in turns (a busy machine slows both alike)."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.process_time()
            fn(raw)
            times[i].append(time.process_time() - t)
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--records", type=int, default=500)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args()
    if args.smoke:
        args.records, args.repeats = 5, 3
    raw = push_body(args.records)
    assert loads_strict(raw) == json.loads(raw)
    plain, strict = interleaved([json.loads, loads_strict], raw, args.repeats)
    print(f"push of {args.records} records, {len(raw) / 1024:.0f} KiB, "
          f"CPU ms, best and median of {args.repeats}:")
    for name, times in (("json.loads", plain), ("limits.loads_strict", strict)):
        print(f"  {name:20} {min(times) * 1000:7.2f} {statistics.median(times) * 1000:7.2f}")
    print(f"  the checks cost {(min(strict) - min(plain)) * 1000:.2f} ms at best, "
          f"{(statistics.median(strict) - statistics.median(plain)) * 1000:.2f} ms at the median")

if __name__ == "__main__":
    main()
