#!/usr/bin/env python3
"""Writes mixed-language card-like text for the scanner's throughput benchmark: one JSON string per
line (a note field), Anki-style HTML (<div>, <br>, &nbsp;, bold, cloze), vocabulary items and example
sentences in 11 languages from Faker's lorem and person providers, and about one field in 40 with
personal data (names, e-mail addresses, phone numbers, dates). Deterministic (seeded).

    python3 Tests/Benchmarks/scanner/make_corpus.py --megabytes 12 --out bench-data/scanner-corpus.jsonl
"""
import argparse
import json
import random

LOCALES = ["de_DE", "en_US", "es_ES", "fr_FR", "it_IT", "pt_BR", "nl_NL", "pl_PL", "ru_RU", "ja_JP", "zh_CN"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--megabytes", type=float, default=12)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    from faker import Faker
    rng = random.Random(args.seed)
    fakers = {}
    for loc in LOCALES:
        f = Faker(loc)
        f.seed_instance(args.seed)
        fakers[loc] = f
    target = int(args.megabytes * 1_000_000)
    size = 0
    count = 0
    with open(args.out, "w", encoding="utf-8") as out:
        while size < target:
            loc = rng.choice(LOCALES)
            f = fakers[loc]
            kind = rng.random()
            if kind < 0.45:
                words = f.words(nb=rng.randint(1, 3))
                text = " ".join(words)
                if rng.random() < 0.5:
                    other = fakers[rng.choice(LOCALES)]
                    text = text + "<br>" + " ".join(other.words(nb=rng.randint(1, 2)))
            elif kind < 0.85:
                text = f.sentence(nb_words=rng.randint(5, 14))
                if rng.random() < 0.3:
                    words = text.split(" ")
                    i = rng.randrange(len(words))
                    words[i] = "{{c%d::%s}}" % (rng.randint(1, 3), words[i])
                    text = " ".join(words)
            else:
                text = "<div>" + "</div><div>".join(f.sentence(nb_words=rng.randint(4, 10)) for _ in range(rng.randint(2, 5))) + "</div>"
            if rng.random() < 0.15:
                text = "<b>" + text + "</b>&nbsp;"
            if rng.random() < 0.025:
                pii = rng.choice([
                    lambda: f.name(), lambda: f.email(), lambda: f.phone_number(),
                    lambda: f.date_of_birth().strftime("%d.%m.%Y"), lambda: f.iban() if hasattr(f, "iban") else f.email(),
                ])()
                text = text + " " + pii
            line = json.dumps(text) + "\n"
            out.write(line)
            size += len(text.encode("utf-8"))
            count += 1
    print("wrote %d fields, %.1f MB of field text to %s" % (count, size / 1e6, args.out))


if __name__ == "__main__":
    main()
