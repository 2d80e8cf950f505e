#!/usr/bin/env python3
"""Decks with many media files, made the way real tools make them (issue 15).

    .build/venv/bin/python3 Tests/Fixtures/genanki/make_genanki.py --out Tests/Fixtures/genanki
        genanki-media.apkg   genanki 0.13.1 (a Legacy 1 package, like every genanki deck): 12,000+ media
                             files with genanki-style names (audio_000123_haus.mp3, image_000123_haus.jpg),
                             referenced from notes, plus a few notes with odd names (regex metacharacters,
                             spaces, NFD, HTML entities, percent-encoding) and plain-text mentions;
        anki-paste.apkg      the real Anki backend (anki 26.9.3, Latest format): images pasted the way
                             Anki names them, paste-<sha1 of the content>.jpg;
        *-truth.json         what each note must look like after prepare, computed here from how the
                             notes were built (never by calling anki-submit).
    ... --bench --out bench-data/media [--notes 25000]
        bench-media.apkg (2 media files per note: 50,000 names by default) and bench-nomedia.apkg (the same
        notes without media references or files), for Tests/Benchmarks/media/run.sh; not committed.

Media files are a few bytes each so that the committed packages stay small.
"""

import argparse
import hashlib
import html
import json
import os
import tempfile
import unicodedata
import urllib.parse
import zipfile
from pathlib import Path

import genanki

WORDS = ["haus", "baum", "katze", "hund", "wasser", "brot", "schule", "zug", "stadt", "fenster", "tisch", "buch",
         "garten", "himmel", "straße", "käse", "müde", "früh", "apfel", "vogel"]
MEANINGS = ["house", "tree", "cat", "dog", "water", "bread", "school", "train", "town", "window", "table", "book",
            "garden", "sky", "street", "cheese", "tired", "early", "apple", "bird"]

MODEL = genanki.Model(
    1607392319, "Vocabulary with audio (genanki)",
    fields=[{"name": "Word"}, {"name": "Meaning"}, {"name": "Audio"}, {"name": "Sentence audio"}, {"name": "Picture"}],
    templates=[{"name": "Card 1", "qfmt": "{{Word}}<br>{{Audio}}",
                "afmt": "{{FrontSide}}<hr id=answer>{{Meaning}}<br>{{Sentence audio}}{{Picture}}"}],
    css=".card { font-family: arial; }")

PLACEHOLDER = {"image": "image", "audio": "audio", "video": "video", "other": "file"}
# The policy's extension lists (Config/policy.json), for the kinds the truth expects.
KIND = {"mp3": "audio", "ogg": "audio", "wav": "audio", "jpg": "image", "png": "image", "gif": "image",
        "mp4": "video", "webm": "video", "pdf": "other"}


def kind_of(name: str) -> str:
    return KIND[name.rsplit(".", 1)[1].lower()]


class Truth:
    """Per note (keyed by its Word field, unique): the placeholders its references must become, in order."""

    def __init__(self):
        self.notes: dict[str, list[str]] = {}
        self.expected_fields: dict[str, list[str]] = {}
        self.counts = {"image": 0, "audio": 0, "video": 0, "other": 0, "plain_mentions": 0}
        self.odd_names: list[str] = []

    def note(self, word: str, references: list[tuple[str, str]]):
        """references: (syntax, name) with syntax 'sound' or a tag name ('img', 'video')."""
        placeholders = []
        for syntax, name in references:
            kind = kind_of(name)
            if syntax == "sound":
                kind = "video" if kind == "video" else "audio"
            self.counts[kind] += 1
            placeholders.append(PLACEHOLDER[kind])
        self.notes[word] = placeholders

    def json(self, **extra) -> str:
        # One note a line: "word 000123": "audio audio image" (the placeholders of its references, in order).
        data = {"notes": len(self.notes), **extra, "references": self.counts, "odd_names": self.odd_names,
                "expected_fields": self.expected_fields,
                "placeholders": {word: " ".join(kinds) for word, kinds in self.notes.items()}}
        return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def tiny(name: str) -> bytes:
    return hashlib.sha1(name.encode()).digest()[:6]


def genanki_deck(out: Path, n_notes: int, media: bool, work: Path, name: str, special: bool) -> Truth:
    truth = Truth()
    deck = genanki.Deck(2059400110, "Deutsch::Wortschatz")
    files: list[str] = []
    media_dir = work / "media"
    media_dir.mkdir(exist_ok=True)

    def add_file(file_name: str):
        path = media_dir / file_name
        path.write_bytes(tiny(file_name))
        files.append(str(path))

    for i in range(n_notes):
        w = WORDS[i % len(WORDS)]
        word = f"{w} {i:06d}"
        if media:
            audio, sentence, image = f"audio_{i:06d}_{w}.mp3", f"audio_{i:06d}_{w}_satz.mp3", f"image_{i:06d}_{w}.jpg"
            names = [audio, sentence, image] if special else [audio, image]
            for file_name in names:
                add_file(file_name)
            fields = [word, MEANINGS[i % len(MEANINGS)], f"[sound:{audio}]",
                      f"[sound:{sentence}]" if special else "", f'<img src="{image}">']
            refs = [("sound", audio)] + ([("sound", sentence)] if special else []) + [("img", image)]
        else:
            fields = [word, MEANINGS[i % len(MEANINGS)], "", "", ""]
            refs = []
        deck.add_note(genanki.Note(model=MODEL, fields=fields, guid=genanki.guid_for(name, i)))
        truth.note(word, refs)

    if special:
        # Odd names, each written the way a tool or Anki writes it; the expected fields are exact.
        def odd(word: str, fields: list[str], expected: list[str], refs, mentions: int, names: list[str],
                stored: list[str] | None = None):
            for file_name in stored or names:
                add_file(file_name)
            truth.odd_names.extend(names)
            deck.add_note(genanki.Note(model=MODEL, fields=[word] + fields, guid=genanki.guid_for(name, word)))
            truth.note(word, refs)
            truth.counts["plain_mentions"] += mentions
            truth.expected_fields[word] = [word] + expected

        meta = "audio_(a+b)*^$.{2}|x?.mp3"
        odd("odd regex", [f"hear {meta} again", f"[sound:{meta}]", "", ""],
            ["hear audio again", "[sound:audio]", "", ""], [("sound", meta)], 1, [meta])
        spaced = "my photo 01.jpg"
        quoted = urllib.parse.quote(spaced)     # how Anki's editor writes an image name
        odd("odd spaces", [f"{spaced} and {quoted}", "", "", f'<img src="{quoted}"><img src="{spaced}">'],
            ["image and image", "", "", '<img src="image"><img src="image">'],
            [("img", spaced), ("img", spaced)], 2, [spaced, quoted], stored=[spaced])
        ampersand = "Tom & Jerry.mp3"
        escaped = html.escape(ampersand, quote=False)   # how Anki writes a sound name
        odd("odd entity", [f"listen: {escaped}", f"[sound:{escaped}]", "", ""],
            ["listen: audio", "[sound:audio]", "", ""], [("sound", ampersand)], 1, [ampersand, escaped],
            stored=[ampersand])
        nfc = unicodedata.normalize("NFC", "café_müsli_000001.ogg")
        nfd = unicodedata.normalize("NFD", nfc)
        # The file named in NFD (as a Mac names it), the note written in NFC (as Anki stores text).
        odd("odd unicode", [f"{nfc} / {nfd}", f"[sound:{nfc}]", "", ""],
            ["audio / audio", "[sound:audio]", "", ""], [("sound", nfc)], 2, [nfc, nfd], stored=[nfd])
        clip, movie = "video_000001_clip.mp4", "video_000002_film.webm"
        odd("odd video", ["", f"[sound:{clip}]", "", f'<video src="{movie}" controls></video>'],
            ["", "[sound:video]", "", '<video src="video" controls></video>'],
            [("sound", clip), ("video", movie)], 0, [clip, movie])
        document = "notes_000001_vokabeln.pdf"
        odd("odd other", [f"print {document} first", "", "", ""], ["print file first", "", "", ""], [], 1, [document])

    genanki.Package(deck, media_files=files).write_to_file(str(out), timestamp=1_700_000_000)
    return truth


def anki_paste_deck(out: Path, n_notes: int, work: Path) -> Truth:
    from anki.collection import Collection, ExportAnkiPackageOptions

    truth = Truth()
    col = Collection(str(work / "collection.anki2"))
    try:
        model = col.models.by_name("Basic")
        deck_id = col.decks.id("Bilder")
        for i in range(n_notes):
            names = []
            for j in range(2):
                data = f"tiny jpeg {i} {j}".encode()
                names.append(col.media.write_data(f"paste-{hashlib.sha1(data).hexdigest()}.jpg", data))
            note = col.new_note(model)
            word = f"{WORDS[i % len(WORDS)]} {i:05d}"
            note["Front"] = word
            note["Back"] = "".join(f'<img src="{n}">' for n in names)
            col.add_note(note, deck_id)
            truth.note(word, [("img", n) for n in names])
        col.export_anki_package(out_path=str(out), limit=None, options=ExportAnkiPackageOptions(
            with_scheduling=False, with_deck_configs=False, with_media=True, legacy=False))
    finally:
        col.close()
    os.chmod(out, 0o644)   # Anki writes exports as 0600
    return truth


def media_count(package: Path) -> int:
    with zipfile.ZipFile(package) as z:
        return sum(1 for n in z.namelist() if n.isdigit())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--bench", action="store_true", help="the benchmark pair instead of the fixtures")
    parser.add_argument("--notes", type=int, default=25_000, help="notes in the benchmark decks (2 media each)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="make-genanki-") as tmp:
        work = Path(tmp)
        if args.bench:
            for name, media in [("bench-media", True), ("bench-nomedia", False)]:
                (work / name).mkdir()
                genanki_deck(args.out / f"{name}.apkg", args.notes, media, work / name, name, special=False)
                print(f"{name}.apkg: {args.notes} notes, {media_count(args.out / f'{name}.apkg')} media files")
            return
        (work / "g").mkdir()
        (work / "a").mkdir()
        package = args.out / "genanki-media.apkg"
        truth = genanki_deck(package, 4_000, True, work / "g", "genanki-media", special=True)
        files = media_count(package)
        (args.out / "genanki-media-truth.json").write_text(truth.json(media_files=files, tool="genanki 0.13.1"))
        print(f"{package.name}: {len(truth.notes)} notes, {files} media files, {package.stat().st_size} bytes")
        package = args.out / "anki-paste.apkg"
        truth = anki_paste_deck(package, 1_000, work / "a")
        files = media_count(package)
        (args.out / "anki-paste-truth.json").write_text(truth.json(media_files=files, tool="anki 26.9.3"))
        print(f"{package.name}: {len(truth.notes)} notes, {files} media files, {package.stat().st_size} bytes")


if __name__ == "__main__":
    main()
