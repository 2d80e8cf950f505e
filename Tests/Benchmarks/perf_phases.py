#!/usr/bin/env python3
"""Where does anki-submit spend its CPU time? Records a command with `perf` (Debian: linux-perf) and
attributes every sample to a phase of inspect/prepare by the functions on its call stack.

    python3 Tests/Benchmarks/perf_phases.py [--seconds N] -- anki-submit prepare FILE --review none ...
    python3 Tests/Benchmarks/perf_phases.py --data perf.data      # re-read an earlier recording

Each sample goes to the first phase (in the order below) whose pattern matches anywhere in its stack,
so nested work is charged to the most specific phase. Stacks come from DWARF unwinding (Swift frames
are inlined heavily; frame pointers alone lose most of them). With --seconds the command gets SIGINT
after N seconds (prepare then cleans up), which is enough to profile the stages before a slow one.
"""
import argparse
import collections
import re
import subprocess
import sys

PHASES = [
    ("audit: string checks (ids, guids, names, CSS in text)",
     r"checkStrings|containsWindow|longNumbers|containsBytes|ByteSearch"),
    ("audit: substring search (Foundation String.contains)", r"(SourceRules|SubmissionAudit)[\s\S]*(CFStringFind|range2of)"),
    ("audit: source rules (SQL against the attached source)", r"SourceRules"),
    ("audit: structure rules", r"StructureRules|SchemaRule|ManifestRule|DenseIDRule|ReferenceRule|DeckNameRule"
                               r"|CardDataRule|MediaNameRule"),
    ("audit: other", r"SubmissionAudit|PendingAudit|ShiftedMemberFunction"),
    ("scan (personal-data scanner)", r"AnkiScanner|CollectionScan|Scanner"),
    ("write: notes (Swift SQL functions: media placeholders, tags, sort field)",
     r"(NeutralizeMedia|ApplyDecisions|MediaNeutraliz|MediaReferences)[\s\S]*WriteSubmission"),
    ("write: revlog day function (Swift, per review)", r"ReviewDayCalendar[\s\S]*WriteSubmission"),
    ("write: cards.data JSON filter", r"WriteSubmission[\s\S]*json|json[\s\S]*WriteSubmission"),
    ("write: SQL (INSERT ... SELECT, indexes, page I/O)", r"WriteSubmission"),
    ("unpack: zip CRC-32 (zlib; ZIPFoundation's Swift one before)", r"builtInCRC32|crc32|EntryChecksum"),
    ("unpack: zstd + temp file", r"ZSTD_|AnkiZstd|extractCollection|PackageArchive"),
    ("validate: PRAGMA quick_check", r"validate[\s\S]*fetchAll|fetchAll[\s\S]*validate|IntegrityCheck"),
    ("validate: UTF-8 scan, id ranges", r"validate|invalid_utf8|TextValidator"),
    ("compute-review-days", r"ComputeReviewDays|ReviewDayCalendar"),
    ("remap-ids", r"RemapIDs"),
    ("other stages", r"ResolveDecisions|CheckSource|DropExcludedFields|NeutralizeDecks|ReduceNoteTypes|ApplyDecisions"),
    ("schema load", r"SchemaLoader|LegacySchema"),
    ("counts", r"counts"),
    ("start-up (dynamic loader)", r"_dl_start|_dl_relocate|dl_main"),
]



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="perf.phases.data")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--frequency", type=int, default=499)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if command:
        if args.seconds:
            command = ["timeout", "-s", "INT", str(args.seconds)] + command
        subprocess.run(["perf", "record", "-q", "-F", str(args.frequency), "--call-graph", "dwarf,32768",
                        "-o", args.data, "--"] + command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
    script = subprocess.run(["perf", "script", "-i", args.data, "-F", "comm,tid,ip,sym"],
                            capture_output=True, text=True, check=True).stdout
    phases = [(name, re.compile(rx)) for name, rx in PHASES]
    counts, total = collections.Counter(), 0
    for block in script.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if len(lines) < 2:
            continue
        total += 1
        stack = "\n".join(lines[1:])
        for name, rx in phases:
            if rx.search(stack):
                counts[name] += 1
                break
        else:
            counts["other: " + lines[1].split(" ", 1)[-1][:50]] += 1
    if not total:
        sys.exit("no samples (is perf allowed? try: sysctl kernel.perf_event_paranoid=1)")
    # Samples no phase claims (mostly Swift runtime frames whose callers DWARF unwinding lost) are
    # listed by their own symbol only when they matter; the rest are summed.
    unattributed = sum(n for name, n in counts.items() if name.startswith("other: ") and (n / total < 0.02 or "[unknown]" in name))
    counts = collections.Counter({k: v for k, v in counts.items()
                                  if not (k.startswith("other: ") and (v / total < 0.02 or "[unknown]" in k))})
    if unattributed:
        counts["unattributed (call stack not resolved)"] = unattributed
    rows = [(name, n) for name, n in counts.most_common() if n / total >= 0.005]
    rest = total - sum(n for _, n in rows)
    if args.markdown:
        print(f"| phase | CPU share | CPU time |\n|---|---|---|")
        for name, n in rows:
            print(f"| {name} | {100 * n / total:.1f} % | {n / args.frequency:.2f} s |")
        print(f"| (smaller items) | {100 * rest / total:.1f} % | {rest / args.frequency:.2f} s |")
        print(f"| **total** ({total} samples at {args.frequency} Hz) | 100 % | {total / args.frequency:.2f} s |")
        return
    print(f"{total} samples at {args.frequency} Hz = about {total / args.frequency:.1f} s of CPU")
    for name, n in rows:
        print(f"{100 * n / total:6.1f} %  {n / args.frequency:7.2f} s  {name}")
    print(f"{100 * rest / total:6.1f} %  (smaller items)")


if __name__ == "__main__":
    main()
