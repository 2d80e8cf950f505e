#!/usr/bin/python3
"""End-to-end test of the review page in headless Chromium (Debian's chromium + chromium-driver + Selenium).

    /usr/bin/python3 Tests/Browser/review_e2e.py --bin .build/debug/anki-submit --out OUTDIR

Scenario "review" (Tests/Fixtures/generated/berlin-latest.apkg): exclude a flagged note, remove a tag,
confirm the special-category notice, answer the survey, create the submission; then the token shown
equals the token file, `anki-submit audit --source` is clean, the excluded note's text and the removed
tag are absent from the submission, and the browser asked nothing of any other address.

Scenario "hostile" (Tests/Fixtures/review/hostile-html.apkg): fields, template and CSS carrying
scripts, event handlers, javascript: links and remote images/styles/fonts. Nothing runs
(window.__pwned stays unset), nothing reaches the canary listener on 127.0.0.1:47999, and "Quit without
submitting" leaves the output folder empty (exit 45).

Scenario "send" (berlin-latest.apkg with a study profile, against `research serve`): the page names the
study and its contact and shows its texts in the chosen language; "Send to the study" after Create
uploads the file, shows the receipt and saves it beside the submission; with the study unreachable the
page says where the file is and whom to contact, and prepare exits 48.

Screenshots of every step go to OUTDIR/screenshots (desktop 1280x900 and phone 390x844). Exit 0 when all
checks pass; each failed check is printed.
"""
from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
CANARY_PORT = 47999
failures: list[str] = []


def check(condition: bool, message: str) -> None:
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


class Canary(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        Canary.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass


def start_canary():
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", CANARY_PORT), Canary)
    except OSError:
        print(f"note: port {CANARY_PORT} is busy; the canary check relies on the browser log only")
        return None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_prepare(binary: str, deck: Path, work: Path, extra: list[str]) -> tuple[subprocess.Popen, str]:
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TMPDIR=str(work / "tmp"))
    (work / "tmp").mkdir(exist_ok=True)
    proc = subprocess.Popen([binary, "prepare", str(deck), "--no-browser", "--out", str(work / "out"), *extra],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"prepare exited with {proc.returncode}: {proc.stderr.read()}")
            continue
        if line.startswith("Review page: http://127.0.0.1:"):
            return proc, line.split("Review page: ", 1)[1].strip()
    proc.kill()
    raise RuntimeError("prepare printed no review address within 120 s")


def exit_code(proc: subprocess.Popen):
    """prepare's exit status once the page is done with it (it stops its server by itself)."""
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return "still running"


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                "--no-first-run", "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps", "--metrics-recording-only"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


class Shots:
    def __init__(self, driver, folder: Path, prefix: str):
        self.driver, self.folder, self.n, self.prefix = driver, folder, 0, prefix
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, name: str, element_id: str | None = None, phone: bool = True) -> None:
        self.n += 1
        if element_id:
            self.driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start'});"
                                       "window.scrollBy(0, -70);", element_id)
            time.sleep(0.2)
        self.driver.save_screenshot(str(self.folder / f"{self.prefix}-{self.n:02d}-{name}-desktop.png"))
        if phone:
            self.driver.set_window_size(390, 844)
            time.sleep(0.3)
            if element_id:
                self.driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start'});"
                                           "window.scrollBy(0, -90);", element_id)
                time.sleep(0.2)
            self.driver.save_screenshot(str(self.folder / f"{self.prefix}-{self.n:02d}-{name}-phone.png"))
            wide = self.driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            check(wide <= 0, f"{name}: nothing is wider than a phone screen ({wide} px too wide)")
            self.driver.set_window_size(1280, 900)
            time.sleep(0.2)


def click(driver, element) -> None:
    """Scrolls the element to the middle of the window (clear of the sticky header), then clicks it."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    time.sleep(0.1)
    element.click()


def wait(driver, seconds=60):
    # Lists are redrawn after each answer from the program, so an element can go stale mid-check.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def notes_loaded(driver):
    return driver.find_elements(By.CSS_SELECTOR, '[data-testid="note"]')


def scan_findings(binary: str, deck: Path) -> dict[str, list[dict]]:
    out = subprocess.run([binary, "scan", str(deck), "--json"], capture_output=True, text=True, check=True).stdout
    return {str(n["note_id"]): n["findings"] for n in json.loads(out)["notes"]}


def scenario_review(binary: str, out: Path, shots_dir: Path) -> None:
    deck = ROOT / "Tests/Fixtures/generated/berlin-latest.apkg"
    work = out / "review"
    shutil.rmtree(work, ignore_errors=True)
    findings = scan_findings(binary, deck)
    proc, url = start_prepare(binary, deck, work, ["--timezone", "Europe/Berlin"])
    port = url.split(":")[2].split("/")[0]
    driver = browser()
    shots = Shots(driver, shots_dir, "review")
    try:
        driver.get(url)
        wait(driver).until(lambda d: len(notes_loaded(d)) > 0)
        time.sleep(0.5)
        shots.take("policy")
        check("What never leaves this computer" in driver.page_source, "the policy in plain words is shown first")

        # Cards are rendered through their templates inside shadow roots, with the note type's CSS.
        sides = driver.execute_script(
            "return Array.from(document.querySelectorAll('.card-host')).filter(h => h.shadowRoot).length")
        check(sides > 0, f"card sides rendered in shadow roots ({sides})")
        styled = driver.execute_script(
            "const h = Array.from(document.querySelectorAll('.card-host')).find(h => h.shadowRoot.querySelector('.word'));"
            "if (!h) return null; return getComputedStyle(h.shadowRoot.querySelector('.word')).fontSize;")
        check(styled == "34px", f"the custom note type's CSS applies to its cards (.word font-size {styled})")
        page_font = driver.execute_script("return getComputedStyle(document.querySelector('h1')).fontSize")
        check(page_font != "34px", "card CSS does not leak into the page")

        # 1. Exclude a flagged note (one with a planted e-mail address or phone number).
        Select(driver.find_element(By.CSS_SELECTOR, '[data-testid="filter"]')).select_by_value("flagged")
        wait(driver).until(lambda d: all(n.get_attribute("data-flagged") == "true" for n in notes_loaded(d)) and notes_loaded(d))
        shots.take("flagged-filter", "notes")
        target = None
        for note in notes_loaded(driver):
            nid = note.get_attribute("data-note-id")
            kinds = {f["kind"] for f in findings.get(nid, [])}
            if kinds & {"email", "phone"}:
                target = note
                break
        check(target is not None, "a note flagged for an e-mail address or phone number is listed")
        excluded_id = target.get_attribute("data-note-id")
        excluded_texts = [f["text"] for f in findings[excluded_id] if f["kind"] in ("email", "phone")]
        marks = driver.execute_script(
            "const n = arguments[0]; let c = 0; n.querySelectorAll('.card-host').forEach(h => {"
            "c += h.shadowRoot.querySelectorAll('mark.finding[title]').length}); return c;", target)
        check(marks > 0, f"findings are highlighted in the card with a tooltip ({marks} marks)")
        title = driver.execute_script(
            "const n = arguments[0]; for (const h of n.querySelectorAll('.card-host')) {"
            "const m = h.shadowRoot.querySelector('mark.finding'); if (m) return m.title; } return '';", target)
        check("detector" in title, f"the tooltip names the detector ({title!r})")
        toggle = target.find_element(By.CSS_SELECTOR, '[data-testid="note-toggle"]')
        click(driver, toggle)
        wait(driver).until(lambda d: toggle.get_attribute("aria-pressed") == "true")
        counts = driver.find_element(By.CSS_SELECTOR, '[data-testid="counts"]').text
        check("1 excluded" in counts, f"counts show the exclusion ({counts!r})")
        shots.take("note-excluded", "notes")

        # Pagination and the excluded-only filter.
        Select(driver.find_element(By.CSS_SELECTOR, '[data-testid="filter"]')).select_by_value("excluded")
        wait(driver).until(lambda d: [n.get_attribute("data-note-id") for n in notes_loaded(d)] == [excluded_id])
        check(True, "the excluded-only filter shows exactly the excluded note")
        Select(driver.find_element(By.CSS_SELECTOR, '[data-testid="filter"]')).select_by_value("all")
        wait(driver).until(lambda d: "Page 1 of" in d.find_element(By.CSS_SELECTOR, '[data-testid="page-label"]').text)
        label = driver.find_element(By.CSS_SELECTOR, '[data-testid="page-label"]').text
        click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="page-next"]'))
        wait(driver).until(lambda d: "Page 2 of" in d.find_element(By.CSS_SELECTOR, '[data-testid="page-label"]').text)
        check(True, f"pagination moves on ({label} -> page 2)")

        # 2. Remove a tag.
        tags = driver.find_elements(By.CSS_SELECTOR, '[data-testid="tag-toggle"]')
        check(len(tags) > 0, f"tags are listed with counts ({len(tags)})")
        tag_button = tags[0]
        removed_tag = tag_button.get_attribute("data-tag")
        click(driver, tag_button)
        wait(driver).until(lambda d: d.find_element(
            By.CSS_SELECTOR, f'[data-testid="tag-toggle"][data-tag="{removed_tag}"]').get_attribute("aria-pressed") == "true")
        shots.take("tag-removed", "tags")

        # 3. The special-category notice must be confirmed.
        notice = driver.find_element(By.CSS_SELECTOR, '[data-testid="special-notice"]')
        check(notice.is_displayed(), "the special-category notice is shown (more such notes than the threshold)")
        submit = driver.find_element(By.CSS_SELECTOR, '[data-testid="submit"]')
        check(not submit.is_enabled(), "Create submission is disabled before the notice and consent are answered")
        box = driver.find_element(By.CSS_SELECTOR, '[data-testid="confirm-special"]')
        click(driver, box)
        shots.take("special-confirmed", "special")

        # 4. Survey: a language by search, the domain, consent.
        search = driver.find_element(By.CSS_SELECTOR, '[data-testid="language-search"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", search)
        # A language is found first by its own name, without accents too.
        for typed, code in (("Deutsch", "de"), ("日本語", "ja"), ("portugues", "pt"), ("Español", "es")):
            search.send_keys(typed)
            wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="language-option"]'))
            first = driver.find_elements(By.CSS_SELECTOR, '[data-testid="language-option"]')[0].get_attribute("data-code")
            check(first == code, f"typing {typed!r} offers {code} first (got {first})")
            search.clear()
        search.send_keys("Germ")
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="language-option"][data-code="de"]'))
        shots.take("language-search", "survey")
        click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="language-option"][data-code="de"]'))
        search.send_keys("jap")
        wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="language-option"][data-code="ja"]'))
        click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="language-option"][data-code="ja"]'))
        wait(driver).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-testid="language-chip"]')) == 2)
        domain = driver.find_element(By.CSS_SELECTOR, '[data-testid="domain"]')
        domain.send_keys("Call me at +49 30 12345678")
        wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="domain-warning"]').is_displayed())
        check(True, "personal data typed into the domain answer is flagged")
        domain.clear()
        domain.send_keys("languages, travel")
        wait(driver).until(lambda d: not d.find_element(By.CSS_SELECTOR, '[data-testid="domain-warning"]').is_displayed())
        # The page's own example names a deck of this collection ("Japanese"): the word is shown with
        # why, Create waits until the participant changes it or keeps the answer as written.
        domain.clear()
        domain.send_keys("Japanese for travel")
        wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="domain-warning"]').is_displayed())
        concerns = driver.find_element(By.CSS_SELECTOR, '[data-testid="domain-concerns"]').text
        check("\u201cJapanese\u201d" in concerns and "deck" in concerns, f"the deck word is named ({concerns!r})")
        click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="consent-yes"]'))
        check(not driver.find_element(By.CSS_SELECTOR, '[data-testid="submit"]').is_enabled(),
              "Create waits for the marked word to be changed or kept")
        shots.take("domain-deck-word", "survey")
        click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="domain-keep"]'))
        wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="submit"]').is_enabled())
        shots.take("survey-answered", "survey")
        shots.take("summary", "finish")
        summary = driver.find_element(By.CSS_SELECTOR, '[data-testid="summary"]').text
        check("Notes" in summary and "Reviews" in summary, "the final summary lists notes, cards, reviews, tags")

        # 5. Create the submission.
        submit = driver.find_element(By.CSS_SELECTOR, '[data-testid="submit"]')
        click(driver, submit)
        wait(driver, 120).until(EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="done"]')))
        token = driver.find_element(By.CSS_SELECTOR, '[data-testid="token"]').text.strip()
        submission = driver.find_element(By.CSS_SELECTOR, '[data-testid="submission-path"]').text.strip()
        token_path = driver.find_element(By.CSS_SELECTOR, '[data-testid="token-path"]').text.strip()
        shots.take("done", "done")
        urls = requested_urls(driver)
    finally:
        driver.quit()
    code = exit_code(proc)
    check(code == 0, f"prepare exits 0 after the page's submission (got {code})")
    check(len(token) >= 30, "the page shows the withdrawal token")
    check(token in Path(token_path).read_text().splitlines(), "the token file holds the token the page showed")
    check(Path(submission).is_file(), "the submission file exists where the page said")
    own = f"http://127.0.0.1:{port}/"
    foreign = [u for u in urls if not (u.startswith(own) or u.startswith("data:") or u.startswith("blob:"))]
    check(not foreign, f"the browser requested nothing but the local page ({len(urls)} requests; foreign: {foreign[:3]})")

    audit = subprocess.run([binary, "audit", submission, "--source", str(deck), "--timezone", "Europe/Berlin"],
                           capture_output=True, text=True)
    check(audit.returncode == 0, f"`anki-submit audit --source` is clean (exit {audit.returncode}) {audit.stdout[-300:]}")
    db = sqlite3.connect(f"file:{submission}?mode=ro", uri=True)
    texts = [r[0] + "\x1f" + r[1] for r in db.execute("SELECT flds, tags FROM notes")]
    blob = "\n".join(texts)
    for text in excluded_texts:
        check(text not in blob, "the excluded note's flagged text is absent from the submission")
    tags_in_submission = {t.lower() for r in db.execute("SELECT tags FROM notes") for t in r[0].split()}
    check(removed_tag.lower() not in tags_in_submission, "the removed tag is absent from every note")
    manifest = dict(db.execute("SELECT key, value FROM manifest"))
    check(json.loads(manifest["languages"]) == ["de", "ja"], f"languages stored ({manifest['languages']})")
    check(manifest["consent_public"] in ("1", "true", "yes"), f"consent stored ({manifest['consent_public']})")
    check(manifest["domain"] == "Japanese for travel", "the kept domain answer is stored as written")
    truth = json.loads((ROOT / "Tests/Fixtures/generated/berlin-truth.json").read_text())
    (count,) = db.execute("SELECT count(*) FROM notes").fetchone()
    check(count == truth["note_count"] - 1, f"exactly one note left out ({count} of {truth['note_count']})")
    db.close()


def scenario_hostile(binary: str, out: Path, shots_dir: Path) -> None:
    deck = ROOT / "Tests/Fixtures/review/hostile-html.apkg"
    work = out / "hostile"
    shutil.rmtree(work, ignore_errors=True)
    Canary.hits.clear()
    canary = start_canary()
    proc, url = start_prepare(binary, deck, work, ["--timezone", "UTC"])
    port = url.split(":")[2].split("/")[0]
    driver = browser()
    shots = Shots(driver, shots_dir, "hostile")
    try:
        driver.get(url)
        wait(driver).until(lambda d: len(notes_loaded(d)) == 5)
        time.sleep(2)  # time for anything that would load or run
        shots.take("hostile-cards", "notes")
        pwned = driver.execute_script("return window.__pwned === undefined ? null : String(window.__pwned)")
        check(pwned is None, f"no script, handler or javascript: link in card HTML ran (window.__pwned = {pwned})")
        # Click the link that carried javascript: (it must be plain text now).
        link = driver.execute_script(
            "for (const h of document.querySelectorAll('.card-host')) { const a = h.shadowRoot.querySelector('[data-link]');"
            " if (a) return a; } return null;")
        check(link is not None, "the link is shown as text")
        if link is not None:
            driver.execute_script("arguments[0].click()", link)
            time.sleep(0.3)
        pwned = driver.execute_script("return window.__pwned === undefined ? null : String(window.__pwned)")
        check(pwned is None, "clicking the former javascript: link runs nothing")
        dangerous = driver.execute_script(
            "let n = 0; for (const h of document.querySelectorAll('.card-host')) {"
            " n += h.shadowRoot.querySelectorAll('script, img, iframe, object, embed, svg, form, a[href], [onerror], [onload], [onclick]').length; }"
            " return n;")
        check(dangerous == 0, f"no script, image, frame, object, form, link or handler element survives ({dangerous})")
        placeholders = driver.execute_script(
            "let n = 0; for (const h of document.querySelectorAll('.card-host')) {"
            " n += h.shadowRoot.querySelectorAll('.media-placeholder').length; } return n;")
        check(placeholders > 0, f"media show as placeholders ({placeholders})")
        urls = requested_urls(driver)
        own = f"http://127.0.0.1:{port}/"
        foreign = [u for u in urls if not (u.startswith(own) or u.startswith("data:") or u.startswith("blob:"))]
        check(not foreign, f"no remote image, style, font or frame was requested ({foreign[:5]})")
        check(not Canary.hits, f"nothing reached the canary listener ({Canary.hits[:5]})")
        logs = [e["message"] for e in driver.get_log("browser")]
        print("  browser console:", len(logs), "messages")
        click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="quit"]'))
        wait(driver).until(EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="quit-done"]')))
        shots.take("quit", "quit-done", phone=False)
    finally:
        driver.quit()
        if canary:
            canary.shutdown()
    code = exit_code(proc)
    check(code == 45, f"quitting on the page exits 45 (got {code})")
    written = list((work / "out").glob("*")) if (work / "out").exists() else []
    check(not written, f"quitting writes nothing ({[p.name for p in written]})")
    check(not list((work / "tmp").iterdir()), "the temporary copy of the collection is gone")


def start_study_server(binary: str, work: Path, profile: Path) -> tuple[subprocess.Popen, int]:
    """`research serve` with a spool in `work`, on a free port (it prints the address)."""
    proc = subprocess.Popen([binary, "research", "serve", "--spool", str(work / "spool"), "--journal",
                             str(work / "withdrawals.journal"), "--port", "0", "--study", str(profile)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if "http://127.0.0.1:" not in line:
        proc.kill()
        raise RuntimeError(f"research serve did not start: {line} {proc.stderr.read()}")
    return proc, int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])


def scenario_send(binary: str, out: Path, shots_dir: Path) -> None:
    """The study's profile on the page, "Send to the study" with its receipt, and the fallback when the study
    cannot be reached."""
    deck = ROOT / "Tests/Fixtures/generated/berlin-latest.apkg"
    work = out / "send"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    example = json.loads((ROOT / "Config/study.example.json").read_text())
    server_profile = work / "server-study.json"
    server_profile.write_text(json.dumps(example))
    server, server_port = start_study_server(binary, work, server_profile)
    decisions = work / "decisions.json"
    decisions.write_text(json.dumps({"languages": ["de"], "domain": "medicine", "consent_public": True}))
    try:
        for case, intake in (("sent", f"http://127.0.0.1:{server_port}/submissions"),
                             ("fallback", "http://127.0.0.1:9/submissions")):
            profile = work / f"study-{case}.json"
            profile.write_text(json.dumps(dict(example, intake_url=intake)))
            proc, url = start_prepare(binary, deck, work / case, [
                "--timezone", "Europe/Berlin", "--study", str(profile), "--decisions", str(decisions),
                "--confirm-special-categories"])
            port = url.split(":")[2].split("/")[0]
            driver = browser()
            shots = Shots(driver, shots_dir, f"send-{case}")
            try:
                driver.get(url)
                wait(driver).until(lambda d: len(notes_loaded(d)) > 0)
                wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="study"]').is_displayed())
                name = driver.find_element(By.CSS_SELECTOR, '[data-testid="study-name"]').text
                contact = driver.find_element(By.CSS_SELECTOR, '[data-testid="study-contact"]').text
                check(name == example["name"], f"the page names the study ({name!r})")
                check(contact == example["contact"], f"the page names the study's contact ({contact!r})")
                info = driver.find_element(By.CSS_SELECTOR, '[data-testid="study-information"]').text
                check(info in (example["texts"]["en"]["information"], example["texts"]["de"]["information"]),
                      "the study's information text is shown in one of its languages")
                Select(driver.find_element(By.CSS_SELECTOR, '[data-testid="study-language"]')).select_by_value("de")
                info = driver.find_element(By.CSS_SELECTOR, '[data-testid="study-information"]').text
                check(info == example["texts"]["de"]["information"], "the language selector switches the study's texts")
                consent = driver.find_element(By.CSS_SELECTOR, '[data-testid="study-consent"]').text
                check(consent == example["texts"]["de"]["consent"], "the study's consent text is next to the question")
                shots.take("study", "policy")
                wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="submit"]').is_enabled())
                click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="submit"]'))
                wait(driver, 120).until(EC.visibility_of_element_located((By.CSS_SELECTOR, '[data-testid="send-box"]')))
                submission = driver.find_element(By.CSS_SELECTOR, '[data-testid="submission-path"]').text.strip()
                shots.take("send-offered", "done")
                click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="send"]'))
                if case == "sent":
                    wait(driver, 60).until(lambda d: "Received by the study" in
                                           d.find_element(By.CSS_SELECTOR, '[data-testid="send-status"]').text)
                    status = driver.find_element(By.CSS_SELECTOR, '[data-testid="send-status"]').text
                    shots.take("sent", "done")
                    receipt_file = Path(submission).with_suffix(".receipt.json")
                    check(receipt_file.is_file(), "the receipt is saved beside the submission")
                    if receipt_file.is_file():
                        receipt = json.loads(receipt_file.read_text())
                        check(receipt["receipt"] in status, f"the page shows the receipt ({status!r})")
                        spooled = list((work / "spool").glob("*.sqlite"))
                        check([p.name for p in spooled] == [receipt["sha256"] + ".sqlite"],
                              f"the study's spool holds exactly the sent file ({[p.name for p in spooled]})")
                else:
                    wait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="send-error"]').is_displayed())
                    error = driver.find_element(By.CSS_SELECTOR, '[data-testid="send-error"]').text
                    shots.take("send-failed", "done")
                    check(submission in error, f"the fallback says where the file is ({error[:200]!r})")
                    check(example["contact"] in error, "the fallback names the study's contact")
                    check(driver.find_element(By.CSS_SELECTOR, '[data-testid="send"]').is_enabled(), "sending can be tried again")
                    click(driver, driver.find_element(By.CSS_SELECTOR, '[data-testid="finish-page"]'))
                urls = requested_urls(driver)
            finally:
                driver.quit()
            code = exit_code(proc)
            check(code == (0 if case == "sent" else 48), f"{case}: prepare exits {0 if case == 'sent' else 48} (got {code})")
            check(Path(submission).is_file(), f"{case}: the submission stays on this computer")
            own = f"http://127.0.0.1:{port}/"
            foreign = [u for u in urls if not (u.startswith(own) or u.startswith("data:") or u.startswith("blob:"))]
            check(not foreign, f"{case}: the browser itself requested nothing but the local page ({foreign[:3]})")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--only", choices=["review", "hostile", "send"])
    args = ap.parse_args()
    args.bin = str(Path(args.bin).resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    shots_dir = args.out / "screenshots"
    shutil.rmtree(shots_dir, ignore_errors=True)
    if args.only in (None, "review"):
        scenario_review(args.bin, args.out, shots_dir)
    if args.only in (None, "hostile"):
        scenario_hostile(args.bin, args.out, shots_dir)
    if args.only in (None, "send"):
        scenario_send(args.bin, args.out, shots_dir)
    print(f"screenshots: {shots_dir}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all browser checks passed")


if __name__ == "__main__":
    main()
