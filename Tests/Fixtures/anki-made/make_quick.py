#!/usr/bin/env python3
"""A collection made the way a learner's Anki makes it: notes added quickly, ids from Anki's own clock.

Anki (26.9.3, the real backend from PyPI) gives every note and card the current time in ms as id,
the next free one when taken: notes added in quick succession get consecutive ids, and a note's id
is usually also the id of a card (its own or another note's). Nothing here rewrites an id. The
learner then answers cards with Anki's scheduler (review times are this run's wall clock) and the
collection is exported in every generation.

    .build/venv/bin/python3 Tests/Fixtures/anki-made/make_quick.py --out Tests/Fixtures/anki-made

Writes quick-latest.apkg, quick-legacy2.apkg, quick-latest.colpkg and quick-truth.json: per note its
id, card ids, tags, review count, and what the tests compute from it (expected counts after any
exclusion), computed here from the collection with SQL, never by anki-submit.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--notes", type=int, default=90)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    from anki.collection import AddNoteRequest, Collection
    import anki.collection as ac
    from anki.scheduler.v3 import CardAnswer

    with tempfile.TemporaryDirectory() as tmp:
        col = Collection(os.path.join(tmp, "collection.anki2"))
        col.set_config("rollover", 4)
        models = col.models
        basic_rev = models.by_name("Basic (and reversed card)")
        basic = models.by_name("Basic")
        cloze = models.by_name("Cloze")
        decks = [col.decks.id(name) for name in
                 ("Japanese", "Japanese::Kanji N5", "Spanish verbs", "Français::Vocabulaire")]
        with open(os.path.join(tmp, "hello.mp3"), "wb") as f:
            f.write(b"ID3\x03\x00\x00\x00\x00\x00\x00")
        sound = col.media.add_file(os.path.join(tmp, "hello.mp3"))
        words = [("猫", "cat"), ("犬", "dog"), ("comer", "to eat"), ("vivre", "to live"), ("水", "water"),
                 ("hablar", "to speak"), ("la maison", "the house"), ("学校", "school"), ("ir", "to go")]
        tag_pool = ["Japanese::N5", "verbs", "anna_private", "for_friday_test", "JLPT", "lesson-3", "leech"]
        # The notes arrive in one batch, as from an import or a shared deck: consecutive ids.
        batch = []
        for i in range(args.notes):
            kind = i % 3
            model = (basic_rev, cloze, basic)[kind]
            note = col.new_note(model)
            front, back = words[i % len(words)]
            if kind == 1:
                note["Text"] = f"{{{{c1::{front}}}}} means {{{{c2::{back}}}}} ({i})"
            else:
                note["Front"] = f"{front} {i}" + (f" [sound:{sound}]" if i % 10 == 0 else "")
                note["Back"] = back + (" — ask Anna Schmidt" if i % 17 == 5 else "")
            note.tags = rng.sample(tag_pool, rng.randint(0, 3))
            batch.append(AddNoteRequest(note=note, deck_id=decks[i % len(decks)]))
        col.add_notes(batch)
        # The learner studies: each deck's new cards answered by Anki's scheduler.
        for deck in decks:
            col.decks.select(deck)
            for _ in range(40):
                queued = col.sched.get_queued_cards(fetch_limit=1)
                if not queued.cards:
                    break
                top = queued.cards[0]
                states = top.states
                rating = rng.choice([CardAnswer.AGAIN, CardAnswer.GOOD, CardAnswer.GOOD, CardAnswer.EASY])
                card = col.get_card(top.card.id)
                card.start_timer()
                answer = col.sched.build_answer(card=card, states=states, rating=rating)
                col.sched.answer_card(answer)

        truth_notes = []
        for nid, tags in col.db.all("select id, tags from notes order by id"):
            cards = col.db.list("select id from cards where nid = ? order by id", nid)
            reviews = col.db.scalar(
                "select count() from revlog where cid in (select id from cards where nid = ?)", nid)
            truth_notes.append({"id": nid, "cards": cards, "reviews": reviews,
                                "tags": [t for t in tags.split(" ") if t]})
        collisions = col.db.scalar("select count() from notes n where exists (select 1 from cards c where c.id = n.id)")
        consecutive = col.db.scalar("select count() from notes n where exists (select 1 from notes m where m.id = n.id + 1)")
        truth = {
            "made_by": "anki 26.9.3 backend, ids from Anki's own clock (nothing rewritten)",
            "note_count": len(truth_notes),
            "card_count": col.db.scalar("select count() from cards"),
            "revlog_count": col.db.scalar("select count() from revlog"),
            "notes_whose_id_is_a_card_id": collisions,
            "notes_followed_by_the_next_ms": consecutive,
            "decks": sorted(n.name for n in col.decks.all_names_and_ids() if n.name != "Default"),
            "tags": sorted({t for n in truth_notes for t in n["tags"]}, key=str.lower),
            "notes": truth_notes,
        }
        options = lambda legacy: ac.ExportAnkiPackageOptions(  # noqa: E731
            with_scheduling=True, with_deck_configs=True, with_media=True, legacy=legacy)
        col.export_anki_package(out_path=str(out / "quick-latest.apkg"), options=options(False), limit=None)
        col.export_anki_package(out_path=str(out / "quick-legacy2.apkg"), options=options(True), limit=None)
        col.export_collection_package(str(out / "quick-latest.colpkg"), include_media=True, legacy=False)
        col.close()
    (out / "quick-truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{truth['note_count']} notes, {truth['card_count']} cards, {truth['revlog_count']} reviews; "
          f"{collisions} notes share their id with a card, {consecutive} are followed by the next ms")


if __name__ == "__main__":
    main()
