#!/usr/bin/env python3
"""Chooses which fuzz inputs join the committed regression corpus (Tests/Fuzz/run.sh).

libFuzzer's `-merge=1` keeps every input that adds a feature, smallest first, but the committed
corpus has a byte budget (< 1 MB, each input < 64 KiB), and plain "smallest first" then drops whole
areas whose inputs are a little larger (bare collection databases are 20-30 KB). This reads the merge
control file (`-merge_control_file`, which lists every input's features) and greedily picks the input
with the most not-yet-covered features per byte until the budget is used or nothing adds a feature.
Inputs already committed are always kept and their features count as covered.

With --rebuild the committed inputs compete like the others: only the pinned ones (findings:
finding-*, crash-*, timeout-*, oom-*) are kept for sure, the rest of the corpus is chosen afresh and
committed inputs that are no longer chosen are deleted (use it when the budget is exhausted).

Usage: select_corpus.py --control merge.ctl --corpus Tests/Fixtures/fuzz-corpus [--budget 1000000]
                        [--max-input 65536] [--rebuild] [--dry-run]
Copies the chosen inputs into the corpus folder and prints a one-line summary.
"""
PINNED = ("finding-", "crash-", "timeout-", "oom-")
import argparse
import hashlib
import shutil
from pathlib import Path


def parse(control: Path):
    lines = control.read_text(errors="replace").splitlines()
    n, n_first = int(lines[0]), int(lines[1])
    files = lines[2:2 + n]
    sizes, features = {}, {}
    for line in lines[2 + n:]:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "STARTED":
            sizes[int(parts[1])] = int(parts[2])
        elif parts[0] == "FT":
            features[int(parts[1])] = set(map(int, parts[2:]))
    return files, n_first, sizes, features


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--budget", type=int, default=1_000_000)
    ap.add_argument("--max-input", type=int, default=65536)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    files, n_first, sizes, features = parse(args.control)

    present = [p for p in args.corpus.iterdir() if p.is_file()] if args.corpus.exists() else []
    kept_files = [p for p in present if not args.rebuild or p.name.startswith(PINNED)]
    committed = {p.name for p in kept_files}
    committed_bytes = sum(p.stat().st_size for p in kept_files)
    covered = set()
    committed_hashes = {hashlib.sha1(p.read_bytes()).hexdigest() for p in kept_files}
    candidates = []
    for i, path in enumerate(files):
        if i not in features:           # crashed or timed out during the merge: not a corpus input
            continue
        p = Path(path)
        if p.name in committed or (not args.rebuild and i < n_first):
            covered |= features[i]
            continue
        size = p.stat().st_size if p.exists() else sizes.get(i, 0)
        if 0 < size < args.max_input:
            candidates.append((i, p, size))
    universe = set().union(*features.values()) if features else set()

    total, chosen, seen = committed_bytes, [], set(committed_hashes)
    remaining = {i: features[i] - covered for i, _, _ in candidates}
    info = {i: (p, size) for i, p, size in candidates}
    while remaining:
        best, best_score = None, 0.0
        for i, feats in remaining.items():
            if not feats or total + info[i][1] >= args.budget:
                continue
            score = len(feats) / info[i][1]
            if score > best_score:
                best, best_score = i, score
        if best is None:
            break
        path, size = info[best]
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        gained = remaining.pop(best)
        if digest in seen or path.name in seen:   # same content, or a second file of the same name
            continue
        seen.update((digest, path.name))
        covered |= gained
        total += size
        chosen.append(path)
        for i in remaining:
            remaining[i] = remaining[i] - gained
        remaining = {i: f for i, f in remaining.items() if f}

    removed = []
    if not args.dry_run:
        args.corpus.mkdir(parents=True, exist_ok=True)
        chosen_names = {p.name for p in chosen}
        if args.rebuild:
            for p in present:
                if p.name not in committed and p.name not in chosen_names:
                    removed.append(p.name)
        staged = [(p, p.read_bytes()) for p in chosen]   # a chosen input may be a committed file
        for name in removed:
            (args.corpus / name).unlink()
        for path, data in staged:
            (args.corpus / path.name).write_bytes(data)
    print(f"corpus: kept {len(committed)} {'pinned' if args.rebuild else 'committed'}, added {len(chosen)}"
          f"{f', removed {len(removed)}' if args.rebuild else ''}; {total} bytes of {args.budget}; "
          f"features {len(covered)} of {len(universe)} seen in the merge "
          f"({100 * len(covered) / max(len(universe), 1):.1f} %)")


if __name__ == "__main__":
    main()
