#!/usr/bin/python3
"""A card's CSS cannot take over the review page (headless Chromium, Selenium).

    /usr/bin/python3 Tests/Browser/card_containment.py --bin .build/debug/anki-submit --out OUTDIR

Builds packages from Tests/Fixtures/generated/berlin-legacy1.apkg whose note types carry hostile CSS
(`:host` with position fixed/sticky/absolute and !important, inset 0, the highest z-index, huge sizes,
negative margins, transforms, `::before` content covering the screen), opens each in the review page and
checks that every card stays inside its box: the page's own controls (the counts bar, the toolbar, the
findings, the tag list, the survey, the buttons) are what the browser finds at their own positions,
and no card paints outside its box. Exit 0 when all checks pass; each failed check is printed.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from review_e2e import browser, check, exit_code, failures, start_prepare  # noqa: E402

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "Tests/Fixtures/generated/berlin-legacy1.apkg"

COVER = "position:fixed!important;inset:0!important;top:0!important;left:0!important;width:100vw!important;" \
        "height:100vh!important;z-index:2147483647!important;background:red!important;"
HOSTILE = [
    ":host{" + COVER + "}",
    ":host{all:initial!important;" + COVER + "display:block!important}",
    ".card{" + COVER + "}",
    ".card::before{content:'FAKE BUTTON';" + COVER + "font-size:300px}",
    ":host{position:absolute!important;top:-3000px!important;left:-3000px!important;width:20000px!important;"
    "height:20000px!important;z-index:2147483647!important;background:red!important}",
    ":host{position:sticky!important;top:0!important;z-index:2147483647!important;background:red!important;"
    "display:block!important;height:100vh!important}",
    ".card{margin:-2000px 0 0 -2000px!important;width:10000px!important;height:10000px!important;background:red!important}",
    ":host{transform:scale(60)!important;background:red!important;z-index:2147483647!important;position:relative!important}",
    ":host{box-shadow:0 0 0 5000px red!important;outline:5000px solid red!important}",
]

# The page's own elements that no card may cover (each is checked where it is on screen).
PROTECTED = ["counts", "search", "bulk-flagged", "tag-list", "domain", "submit", "quit", "save", "match-count"]


def hostile_package(work: Path, styles: list[str]) -> Path:
    """berlin-legacy1.apkg with the note types' CSS replaced by `styles` (in turn)."""
    folder = Path(tempfile.mkdtemp(dir=work))
    with zipfile.ZipFile(SOURCE) as source:
        source.extractall(folder)
        names = source.namelist()
    db = sqlite3.connect(folder / "collection.anki2")
    models = json.loads(db.execute("SELECT models FROM col").fetchone()[0])
    for index, model in enumerate(models.values()):
        model["css"] = styles[index % len(styles)]
    db.execute("UPDATE col SET models = ?", (json.dumps(models),))
    db.commit()
    db.close()
    package = work / f"hostile-css-{len(list(work.glob('*.apkg')))}.apkg"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as out:
        for name in names:
            out.write(folder / name, name)
    shutil.rmtree(folder)
    return package


TOP_ELEMENT = """
const el = document.getElementById(arguments[0]);
if (!el || el.offsetParent === null) return "hidden";
el.scrollIntoView({block: "center"});
const r = el.getBoundingClientRect();
const points = [[r.left + r.width / 2, r.top + r.height / 2], [r.left + 3, r.top + 3], [r.right - 3, r.bottom - 3]];
for (const [x, y] of points) {
  if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
  const hit = document.elementFromPoint(x, y);
  if (!hit) return "nothing at " + x + "," + y;
  if (hit.closest(".card-host") || hit.classList.contains("card-host")) return "a card at " + x + "," + y;
  if (!(el === hit || el.contains(hit) || hit.contains(el))) return "other: " + hit.tagName + "." + hit.className;
}
return "ok";
"""

# Every card host's painted area (its own box, shadows and overflow) must stay inside its container.
CONTAINED = """
const bad = [];
for (const host of document.querySelectorAll(".card-host")) {
  const box = host.parentElement.getBoundingClientRect();
  // Sample points just outside the container: what is there must not be this card.
  const probes = [[box.left - 4, box.top + 4], [box.right + 4, box.top + 4], [box.left + 4, box.top - 4],
                  [box.left + 4, box.bottom + 4], [box.left + box.width / 2, box.bottom + 12]];
  for (const [x, y] of probes) {
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    const hit = document.elementFromPoint(x, y);
    if (hit && (hit === host || host.contains(hit))) bad.push(Math.round(x) + "," + Math.round(y));
  }
}
return bad;
"""


def run(driver, binary: str, package: Path, work: Path, label: str, shots: Path) -> None:
    proc, address = start_prepare(binary, package, work, ["--timezone", "UTC"])
    try:
        driver.get(address)
        wait = WebDriverWait(driver, 30)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".card-host")))
        hosts = driver.find_elements(By.CSS_SELECTOR, ".card-host")
        check(len(hosts) > 0, f"{label}: cards are shown")
        driver.save_screenshot(str(shots / f"{label}.png"))
        for ident in PROTECTED:
            result = driver.execute_script(TOP_ELEMENT, ident)
            check(result in ("ok", "hidden"), f"{label}: #{ident} is not covered ({result})")
        for index in range(min(len(hosts), 12)):
            driver.execute_script("document.querySelectorAll('.card-host')[arguments[0]].scrollIntoView({block:'center'})", index)
            leaks = driver.execute_script(CONTAINED)
            check(not leaks, f"{label}: cards stay inside their boxes (card {index}; leaks at {leaks[:3]})")
        # The page still works: a click on a button reaches it.
        button = driver.find_element(By.ID, "quit")
        driver.execute_script("arguments[0].scrollIntoView({block:'center'})", button)
        try:
            button.click()
            clicked = True
        except WebDriverException as error:
            clicked = False
            print(f"     {error.msg.splitlines()[0] if error.msg else error}")
        check(clicked and exit_code(proc) == 45, f"{label}: the quit button received the click")
    finally:
        if proc.poll() is None:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    shots = out / "screenshots"
    shots.mkdir(parents=True)
    driver = browser()
    try:
        # One hostile style at a time, given to every note type, so every card on the page carries it.
        for index, style in enumerate(HOSTILE):
            package = hostile_package(out, [style])
            run(driver, str(Path(args.bin).resolve()), package, out / f"run-{index}", f"css-{index}", shots)
    finally:
        driver.quit()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
