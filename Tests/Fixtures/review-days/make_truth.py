#!/usr/bin/env python3
"""Review days next to every clock change, computed with Python's zoneinfo on the wall clock.

Anki's rule (rslib/src/scheduler/timing.rs, sched_timing_today_v2_new): take the review's local
wall-clock time in the learner's zone; at or past the rollover hour the day is that local date,
otherwise the date before. This script applies the rule with zoneinfo alone, independently of
anki-submit, and writes instants around each transition (every 20 minutes from 26 hours before to
26 hours after) with their expected day for rollover hours 0-23.

    python3 Tests/Fixtures/review-days/make_truth.py > truth.json

ReviewDayTests runs it at test time (the output is 3 MB, so it is not committed).
"""
import datetime as dt
import json
import sys
from zoneinfo import ZoneInfo

ZONES = ["Europe/Paris", "America/Chicago", "America/Los_Angeles", "Australia/Lord_Howe",
         "Pacific/Auckland", "America/Santiago", "America/Sao_Paulo", "Asia/Kolkata",
         "Europe/London", "Asia/Tehran", "Pacific/Chatham", "UTC"]
YEARS = range(2019, 2027)
EPOCH = dt.date(1970, 1, 1)


def transitions(zone):
    """UTC instants (seconds) where the zone's UTC offset changes, found hour by hour then bisected."""
    tz = ZoneInfo(zone)
    out = []
    start = int(dt.datetime(YEARS[0], 1, 1, tzinfo=dt.timezone.utc).timestamp())
    end = int(dt.datetime(YEARS[-1] + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    off = lambda s: dt.datetime.fromtimestamp(s, tz).utcoffset()
    t = start
    while t < end:
        if off(t) != off(t + 3600):
            lo, hi = t, t + 3600
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if off(mid) == off(t) else (lo, mid)
            out.append(hi)
        t += 3600
    return out


def review_day(seconds, tz, rollover):
    local = dt.datetime.fromtimestamp(seconds, tz)
    date = local.date()
    if local.hour < rollover:
        date -= dt.timedelta(days=1)
    return (date - EPOCH).days


def main():
    cases = []
    for zone in ZONES:
        tz = ZoneInfo(zone)
        marks = transitions(zone)
        if not marks:   # a zone without changes: a few ordinary days
            marks = [int(dt.datetime(2024, 3, 31, tzinfo=dt.timezone.utc).timestamp())]
        instants = sorted({m + k * 600 for m in marks for k in range(-78, 79)})
        days = [[review_day(s, tz, r) for s in instants] for r in range(24)]
        cases.append({"zone": zone, "transitions": len(marks), "seconds": instants, "days_by_rollover": days})
    json.dump({"rule": "zoneinfo wall clock; hour < rollover -> previous date; days since 1970-01-01",
               "cases": cases}, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
