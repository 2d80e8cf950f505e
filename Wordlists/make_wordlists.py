#!/usr/bin/env python3
"""Regenerates the name lists and the name stop lists of the scanner.

Names (Wordlists/names/<lang>/given.txt, surnames.txt) come from Faker's person providers
(PyPI `faker`, MIT licence); see Wordlists/SOURCES.md. Japanese, Chinese and Korean lists are
completed by Wordlists/names/<lang>/*.extra.txt, compiled by the project.

Stop lists (Wordlists/stop/<lang>.txt) are the names that are also ordinary words: a name is kept
when its lowercase form is a word of the language's spelling dictionary (Debian word lists, used
only as a filter: nothing but the names themselves is written), or, for German, when the capitalized
form is a noun there (the dictionary also has an inflected form of it). Hand-written additions
(months, weekdays, the examples of issue 4) are in Wordlists/stop/<lang>.extra.txt and merged.

    apt-get install wngerman wspanish wfrench witalian wportuguese wdutch wpolish wswedish \
        wamerican wbritish hunspell-tr hunspell-ru
    python3 -m pip install faker==40.54.0
    python3 Wordlists/make_wordlists.py
"""
import importlib
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

LOCALES = {
    "de": ["de_DE", "de_AT", "de_CH"],
    "en": ["en_US", "en_GB", "en_IE"],
    "es": ["es_ES", "es_MX", "es_AR", "es_CO"],
    "fr": ["fr_FR", "fr_CH", "fr_QC"],
    "it": ["it_IT"],
    "pt": ["pt_PT", "pt_BR"],
    "nl": ["nl_NL", "nl_BE"],
    "pl": ["pl_PL"],
    "sv": ["sv_SE"],
    "tr": ["tr_TR"],
    "ru": ["ru_RU"],
    "ja": ["ja_JP"],
    "zh": ["zh_CN", "zh_TW"],
    "ko": ["ko_KR"],
}

DICTIONARIES = {
    "de": ["/usr/share/dict/ngerman"],
    "en": ["/usr/share/dict/american-english", "/usr/share/dict/british-english"],
    "es": ["/usr/share/dict/spanish"],
    "fr": ["/usr/share/dict/french"],
    "it": ["/usr/share/dict/italian"],
    "pt": ["/usr/share/dict/portuguese"],
    "nl": ["/usr/share/dict/dutch"],
    "pl": ["/usr/share/dict/polish"],
    "sv": ["/usr/share/dict/swedish"],
    "tr": ["/usr/share/hunspell/tr_TR.dic"],
    "ru": ["/usr/share/hunspell/ru_RU.dic"],
}


def values(attr):
    if isinstance(attr, dict):
        return list(attr.keys())
    if isinstance(attr, (list, tuple)):
        out = []
        for v in attr:
            if isinstance(v, str):
                out.append(v)
        return out
    return []


def tidy(name, lang):
    name = unicodedata.normalize("NFC", name.strip())
    if lang in ("zh",) and name.isascii() and name.isupper():
        name = "-".join(p.capitalize() for p in name.split("-"))
    return name


def split_tokens(name):
    # "Anthony Gabriel" -> two names; "'s Gravensande" -> "Gravensande"; keep hyphenated parts too.
    parts = []
    for word in name.replace("'s ", " ").split():
        word = word.strip("'’.")
        if not word:
            continue
        parts.append(word)
        if "-" in word:
            parts.extend(p for p in word.split("-") if p)
    return parts


def is_cjk(s):
    return any(ord(c) >= 0x2E80 for c in s)


def names_for(lang):
    given, surnames = set(), set()
    for locale in LOCALES[lang]:
        try:
            module = importlib.import_module("faker.providers.person." + locale)
        except ImportError:
            continue
        provider = module.Provider
        for attr_name in dir(provider):
            if attr_name.startswith("_") or "kana" in attr_name or "pairs" in attr_name or "format" in attr_name:
                continue
            attr = getattr(provider, attr_name)
            if callable(attr):
                continue
            target = None
            if attr_name.startswith("first_name") or attr_name.endswith("first_names"):
                target = given
            elif attr_name.startswith("last_name") or attr_name.endswith("last_names"):
                target = surnames
            if target is None:
                continue
            for v in values(attr):
                v = tidy(v, lang)
                for token in ([v] if is_cjk(v) else split_tokens(v)):
                    if len(token) >= (1 if is_cjk(token) else 2) and not any(ch.isdigit() for ch in token):
                        target.add(token)
    for kind, target in (("given", given), ("surnames", surnames)):
        extra = os.path.join(HERE, "names", lang, kind + ".extra.txt")
        if os.path.exists(extra):
            for line in open(extra, encoding="utf-8"):
                line = line.split("#", 1)[0].strip()
                if line:
                    target.add(unicodedata.normalize("NFC", line))
    if lang == "pl":
        # Faker lists Polish surnames in their masculine form; the feminine -ska/-cka/-dzka forms are
        # what half of the people carry.
        for s in list(surnames):
            for m, f in (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")):
                if s.endswith(m):
                    surnames.add(s[: -len(m)] + f)
    return given, surnames


def dictionary(lang):
    words = set()
    for path in DICTIONARIES.get(lang, []):
        if not os.path.exists(path):
            sys.exit("missing %s: install the Debian word lists named in this script's docstring" % path)
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, line in enumerate(f):
                if path.endswith(".dic") and i == 0:
                    continue
                word = line.strip().split("/", 1)[0]
                if word:
                    words.add(unicodedata.normalize("NFC", word))
    return words


UMLAUT = str.maketrans({"a": "ä", "o": "ö", "u": "ü", "A": "Ä", "O": "Ö", "U": "Ü"})


def german_noun(name, words):
    if name not in words:
        return False
    forms = [name + "n", name + "en", name + "e", name + "er", name + "es"]
    # plural with umlaut on the last vowel: Wolf -> Wölfe, Koch -> Köche, Fuchs -> Füchse
    for i in range(len(name) - 1, 0, -1):
        if name[i] in "aouAOU":
            u = name[:i] + name[i].translate(UMLAUT) + name[i + 1:]
            forms += [u + "e", u + "er"]
            break
    return any(f in words for f in forms)


def write_list(path, header, items):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for line in header:
            f.write("# " + line + "\n")
        for item in sorted(items):
            f.write(item + "\n")


def main():
    import faker
    all_names = {}
    for lang in LOCALES:
        given, surnames = names_for(lang)
        locales = ", ".join(LOCALES[lang])
        src = "Faker %s person providers (%s), MIT licence; see Wordlists/SOURCES.md" % (faker.VERSION, locales)
        write_list(os.path.join(HERE, "names", lang, "given.txt"), ["given names, " + lang, src], given)
        write_list(os.path.join(HERE, "names", lang, "surnames.txt"), ["surnames, " + lang, src], surnames)
        all_names[lang] = given | surnames
        print(lang, len(given), len(surnames), file=sys.stderr)
    union = set().union(*all_names.values())
    latin_or_cyrillic = {n for n in union if not is_cjk(n)}
    for lang in DICTIONARIES:
        words = dictionary(lang)
        lower_words = {w for w in words if w == w.lower()}
        has_capitals = any(w[:1].isupper() for w in words)
        own_given = {n.lower() for n in set().union(*names_for(lang))}
        stop = set()
        for name in latin_or_cyrillic:
            lower = name.lower()
            if len(name) < 2:
                continue
            if lang == "de" and german_noun(name, words):
                stop.add(name)
            elif lower in lower_words:
                if lang == "en":
                    stop.add(lower)            # English lists both "Rose" and "rose" when both exist
                elif has_capitals and name in words:
                    continue                   # the dictionary knows it as a proper name too
                elif not has_capitals and lower in own_given:
                    continue                   # dictionaries without capitals also list names
                else:
                    stop.add(lower)
        extra = os.path.join(HERE, "stop", lang + ".extra.txt")
        if os.path.exists(extra):
            for line in open(extra, encoding="utf-8"):
                line = line.split("#", 1)[0].strip()
                if line:
                    stop.add(unicodedata.normalize("NFC", line))
        keep = os.path.join(HERE, "stop", lang + ".names.txt")
        if os.path.exists(keep):
            for line in open(keep, encoding="utf-8"):
                line = line.split("#", 1)[0].strip()
                stop.discard(line)
                stop.discard(line.lower())
        write_list(os.path.join(HERE, "stop", lang + ".txt"), [
            "names that are also ordinary words in " + lang + " (lowercase line: a word written in lowercase;",
            "capitalized line: a capitalized common noun, month or weekday). Generated by make_wordlists.py;",
            "edit stop/" + lang + ".extra.txt (additions) or stop/" + lang + ".names.txt (removals) instead."],
            stop)
        print("stop", lang, len(stop), file=sys.stderr)


if __name__ == "__main__":
    main()
