#!/usr/bin/env python3
"""Reference 1 of the `prepare` benchmark: Anki's own importer (PyPI `anki`, the real Rust backend)
importing a package into a fresh, empty collection, with scheduling and deck presets, as the fixture
script's re-import check does.

Usage: reference_anki_import.py PACKAGE WORK_DIR   (WORK_DIR must be empty or absent; it is filled)
"""
import os
import sys

from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest


def main() -> None:
    package, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    col = Collection(os.path.join(work, "collection.anki2"))
    try:
        col.import_anki_package(ImportAnkiPackageRequest(
            package_path=os.path.abspath(package),
            options=ImportAnkiPackageOptions(with_scheduling=True, with_deck_configs=True)))
        print(f"notes {col.db.scalar('select count() from notes')}, "
              f"revlog {col.db.scalar('select count() from revlog')}", file=sys.stderr)
    finally:
        col.close()


if __name__ == "__main__":
    main()
