// anki-submit review page. Talks only to the local anki-submit process that served it.
// Card HTML arrives sanitized by the server and is shown inside shadow roots, so a card's own styles
// apply to that card only; everything else on this page is built with textContent, never innerHTML.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const styleNonce = document.querySelector('meta[name="style-nonce"]').content;
  const base = location.pathname.endsWith("/") ? location.pathname : location.pathname + "/";
  const PAGE_SIZE = 25;

  const state = {
    page: 0, total: 0, filter: "all", q: "", deck: "", tag: "",
    summary: null, tags: [], decks: [], survey: { languages: [], domain: "", consent_public: null, special_confirmed: false },
    languages: [], finished: false, study: null, studyLanguage: null, sending: null,
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props, children) => {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === "text") node.textContent = value;
        else if (key === "class") node.className = value;
        else if (key.startsWith("data-") || key.startsWith("aria-") || key === "type" || key === "title" || key === "role")
          node.setAttribute(key, value);
        else node[key] = value;
      }
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  };
  const number = (n) => Number(n).toLocaleString();

  async function api(path, body) {
    const options = body === undefined ? { method: "GET", credentials: "same-origin" } : {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: typeof body === "string" ? body : JSON.stringify(body),
    };
    const response = await fetch(base + path, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) throw new Error(data.error || ("The local anki-submit program answered " + response.status + "."));
    return data;
  }

  // ---- counts, summary, blockers -------------------------------------------------------------------

  function renderCounts() {
    const s = state.summary;
    if (!s) return;
    const counts = $("counts");
    counts.replaceChildren(
      el("span", null, [el("b", { text: number(s.notes_kept) }), " notes kept"]),
      el("span", null, [el("b", { text: number(s.notes_excluded) }), " excluded"]),
      el("span", null, [el("b", { text: number(s.cards_kept) }), " cards"]),
      el("span", null, [el("b", { text: number(s.reviews_kept) }), " reviews"]),
      el("span", null, [el("b", { text: number(s.tags_removed) }), " tags removed"]),
      el("span", { "data-testid": "flagged-kept" }, [el("b", { text: number(s.flagged_kept) }), " flagged notes kept"]),
    );
    const summary = $("summary");
    const item = (label, kept, excluded) => el("div", null, [
      el("dt", { text: label }),
      el("dd", null, [number(kept), excluded === undefined ? "" : el("small", { text: " kept · " + number(excluded) + " excluded" })]),
    ]);
    summary.replaceChildren(
      item("Notes", s.notes_kept, s.notes_excluded),
      item("Cards", s.cards_kept, s.cards_excluded),
      item("Reviews", s.reviews_kept, s.reviews_excluded),
      item("Tags removed", s.tags_removed),
    );
    const special = $("special");
    special.hidden = !s.needs_special_notice;
    $("special-count").textContent = number(s.special_kept);
    $("survey-step").textContent = s.needs_special_notice ? "4" : "3";
    $("finish-step").textContent = s.needs_special_notice ? "5" : "4";
    renderBlockers();
  }

  function blockers() {
    const list = [];
    const s = state.summary;
    if (s && s.needs_special_notice && !$("confirm-special").checked) list.push("tick the box about health, religion and politics");
    if (state.survey.consent_public === null) list.push("answer the question about the public release");
    if (s && s.notes_kept === 0) list.push("keep at least one note");
    if (!$("domain-warning").hidden && !$("domain-keep").checked) list.push("change the marked words of your interests answer, or keep it as written");
    return list;
  }

  function renderBlockers() {
    const list = blockers();
    $("submit").disabled = list.length > 0;
    $("blockers").textContent = list.length ? "Before you can create the submission: " + list.join("; ") + "." : "";
  }

  // ---- notes ------------------------------------------------------------------------------------------

  function query() {
    const params = new URLSearchParams({ filter: state.filter, q: state.q, deck: state.deck, tag: state.tag,
      page: String(state.page), size: String(PAGE_SIZE) });
    return params.toString();
  }

  let loadSerial = 0;
  async function loadNotes() {
    const serial = ++loadSerial;
    const data = await api("api/notes?" + query());
    if (serial !== loadSerial) return;
    state.total = data.total;
    const list = $("note-list");
    list.replaceChildren();
    if (data.notes.length === 0) list.append(el("p", { class: "empty", text: "No notes match." }));
    for (const note of data.notes) list.append(noteView(note, data.css[note.note_type] || ""));
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    $("page-label").textContent = "Page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page + 1 >= pages;
    $("match-count").textContent = number(data.total) + (data.total === 1 ? " note matches" : " notes match");
  }

  function noteView(note, css) {
    const toggle = el("button", { type: "button", class: "btn toggle", "data-testid": "note-toggle",
      "aria-pressed": String(note.excluded), text: note.excluded ? "Excluded · include again" : "Included · exclude" });
    const article = el("article", { class: "note" + (note.excluded ? " excluded" : ""), "data-testid": "note",
      "data-note-id": note.id, "data-flagged": String(note.findings.length > 0) });
    toggle.addEventListener("click", async () => {
      const excluded = toggle.getAttribute("aria-pressed") !== "true";
      toggle.disabled = true;
      try {
        const result = await api("api/notes/exclude", { ids: [note.id], excluded });
        state.summary = result.summary;
        toggle.setAttribute("aria-pressed", String(excluded));
        toggle.textContent = excluded ? "Excluded · include again" : "Included · exclude";
        article.classList.toggle("excluded", excluded);
        renderCounts();
      } catch (error) { showError(error); }
      toggle.disabled = false;
    });
    const meta = el("div", { class: "meta" }, [
      el("span", { text: note.note_type_name }),
      note.deck ? el("span", { text: "Deck: " + note.deck }) : null,
      el("span", { text: number(note.reviews) + (note.reviews === 1 ? " review" : " reviews") }),
      note.tags.length ? el("span", { text: "Tags: " + note.tags.join(", ") }) : null,
    ]);
    article.append(el("div", { class: "note-head" }, [meta, toggle]));
    if (note.findings.length) {
      const chips = el("ul", { class: "findings", "data-testid": "findings" });
      for (const finding of note.findings) {
        chips.append(el("li", { class: "chip " + finding.category, "data-kind": finding.kind,
          title: "Found by " + finding.detector + " in " + finding.where,
          text: finding.label + ": " + finding.text }));
      }
      article.append(chips);
    }
    const cards = el("div", { class: "cards" });
    for (const card of note.cards) {
      cards.append(el("div", { class: "card-name", text: card.name }));
      cards.append(el("div", { class: "card-row" }, [side("Front", card.question, css), side("Back", card.answer, css)]));
    }
    if (!note.cards.length) cards.append(el("p", { class: "muted", text: "This note has no cards." }));
    article.append(cards);
    return article;
  }

  const baseCardStyle = ".card{font-family:arial,sans-serif;font-size:20px;text-align:center;color:#111;" +
    "background:#fff;padding:12px 14px;min-height:3rem}" +
    "mark.finding{background:#ffe3a3;color:inherit;border-bottom:2px solid #c77700;border-radius:2px;padding:0 1px}" +
    "mark.special{background:#eadcfb;border-bottom-color:#6b3fa0}" +
    ".media-placeholder{display:inline-block;font:13px system-ui,sans-serif;color:#5f6b7a;background:#f0f2f5;" +
    "border:1px dashed #b9c2cc;border-radius:6px;padding:2px 6px;margin:2px}" +
    "[data-link]{text-decoration:underline;color:#2f5f9e}" +
    "img,video,audio,iframe,object,embed{display:none!important}";

  function side(label, html, css) {
    const host = el("div", { class: "card-host" });
    const root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.nonce = styleNonce;
    style.textContent = baseCardStyle + "\n" + css;
    root.append(style);
    const card = document.createElement("div");
    card.className = "card";
    card.setAttribute("data-testid", "card-side");
    card.innerHTML = html; // sanitized by the server; the page's CSP forbids inline script anyway
    root.append(card);
    // The card's CSS can style its own host (`:host`, whose !important beats the page's): the box around
    // the host is what keeps the card inside (see .card-box in app.css).
    return el("div", { class: "side" }, [el("div", { class: "side-label", text: label }),
      el("div", { class: "card-box" }, [host])]);
  }

  // ---- tags, decks -------------------------------------------------------------------------------------

  function renderTags() {
    const list = $("tag-list");
    list.replaceChildren();
    if (!state.tags.length) list.append(el("li", { class: "muted", text: "Your notes have no tags." }));
    for (const tag of state.tags) {
      const button = el("button", { type: "button", class: "btn", "data-testid": "tag-toggle", "data-tag": tag.name,
        "aria-pressed": String(tag.removed), title: tag.removed ? "Removed: click to keep" : "Kept: click to remove" },
        [tag.name + " ", el("span", { class: "tag-count", text: "(" + number(tag.notes) + ")" })]);
      button.addEventListener("click", async () => {
        try { applyState(await api("api/tags", { name: tag.name, removed: !tag.removed })); await loadNotes(); }
        catch (error) { showError(error); }
      });
      list.append(el("li", null, [button]));
    }
    const tagSelect = $("tag");
    const current = tagSelect.value;
    tagSelect.replaceChildren(el("option", { value: "", text: "All tags" }));
    for (const tag of state.tags) tagSelect.append(el("option", { value: tag.name, text: tag.name + " (" + tag.notes + ")" }));
    tagSelect.value = current;
  }

  function renderDecks() {
    const select = $("deck");
    const current = select.value;
    select.replaceChildren(el("option", { value: "", text: "All decks" }));
    for (const deck of state.decks) select.append(el("option", { value: deck.id, text: deck.name + " (" + deck.notes + ")" }));
    select.value = current;
  }

  // ---- survey ------------------------------------------------------------------------------------------

  function languageName(code) {
    const found = state.languages.find((l) => l.code === code);
    return found ? found.name : code;
  }

  function renderLanguageChips() {
    const chips = $("language-chips");
    chips.replaceChildren();
    for (const code of state.survey.languages) {
      const button = el("button", { type: "button", class: "btn", "data-testid": "language-chip", "data-code": code,
        title: "Remove", text: languageName(code) + " ✕" });
      button.addEventListener("click", () => {
        state.survey.languages = state.survey.languages.filter((c) => c !== code);
        renderLanguageChips();
        saveSurvey();
      });
      chips.append(button);
    }
  }

  // Folded for searching: lower case without accents ("portugues" finds "português").
  function fold(text) { return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase(); }

  // A language is found by its code, its English name or its own name ("Deutsch", "日本語"); exact
  // matches first, then names that start with the text, then names that contain it; within each, the
  // most spoken languages first.
  function renderLanguageOptions() {
    const text = fold($("language-search").value.trim());
    const list = $("language-options");
    list.replaceChildren();
    if (!text) return;
    const scored = [];
    for (const language of state.languages) {
      const names = [fold(language.name)].concat(language.own ? [fold(language.own)] : []);
      let score = -1;
      if (language.code === text) score = 0;
      else if (names.includes(text)) score = 1;
      else if (names.some((name) => name.startsWith(text))) score = 2;
      else if (names.some((name) => name.includes(text))) score = 4;
      if (score > 1 && language.code.length !== 2) score += 1;
      if (score >= 0) scored.push([score, language]);
    }
    const rank = (language) => language.rank > 0 ? language.rank : 100000;
    scored.sort((a, b) => a[0] - b[0] || rank(a[1]) - rank(b[1]) || a[1].name.localeCompare(b[1].name));
    for (const [, language] of scored.slice(0, 12)) {
      const chosen = state.survey.languages.includes(language.code);
      const button = el("button", { type: "button", class: "btn", "data-testid": "language-option",
        "data-code": language.code, "aria-pressed": String(chosen) },
        [el("span", { text: (chosen ? "✓ " : "") + language.name + (language.own && language.own !== language.name ? " \u00b7 " + language.own : "") }),
         el("span", { class: "code", text: language.code })]);
      button.addEventListener("click", () => {
        if (!state.survey.languages.includes(language.code)) state.survey.languages.push(language.code);
        $("language-search").value = "";
        list.replaceChildren();
        renderLanguageChips();
        saveSurvey();
        $("language-search").focus();
      });
      list.append(el("li", null, [button]));
    }
    if (!scored.length) list.append(el("li", { class: "muted", text: "No language matches." }));
  }

  let surveyTimer = null;
  let surveySaving = Promise.resolve();
  function saveSurvey() {
    clearTimeout(surveyTimer);
    surveyTimer = setTimeout(() => { surveyTimer = null; surveySaving = postSurvey(); }, 250);
  }

  // Sends the answers now (used before "Create submission", so a pending change is never lost).
  async function flushSurvey() {
    if (surveyTimer !== null) {
      clearTimeout(surveyTimer);
      surveyTimer = null;
      surveySaving = postSurvey();
    }
    await surveySaving;
  }

  async function postSurvey() {
    try {
      const result = await api("api/survey", {
        languages: state.survey.languages, domain: $("domain").value, domain_confirmed: $("domain-keep").checked,
        consent_public: state.survey.consent_public, special_confirmed: $("confirm-special").checked,
      });
      applyState(result);
      renderDomainConcerns(result.domain_concerns || []);
      renderBlockers();
    } catch (error) { showError(error); }
  }

  // Each word of the interests answer that looks like personal data or names a deck, tag or note type,
  // with why: the participant changes it or keeps the answer as written.
  function renderDomainConcerns(concerns) {
    const warning = $("domain-warning");
    warning.hidden = concerns.length === 0;
    $("domain-warning-text").textContent = concerns.length
      ? "Please look at these words before they are shared. Change them, or keep your answer as written." : "";
    const list = $("domain-concerns");
    list.replaceChildren();
    for (const concern of concerns) {
      const item = document.createElement("li");
      const word = document.createElement("strong");
      word.textContent = "\u201c" + concern.word + "\u201d";
      item.append(word, " " + concern.explanation);
      list.append(item);
    }
    if (concerns.length === 0) $("domain-keep").checked = false;
  }

  // ---- state -------------------------------------------------------------------------------------------

  // The survey's answers live in the page once loaded; the server's copy is applied only at start and
  // when a saved decisions file is loaded, so a slow answer never overwrites what was just typed.
  // ---- the study (its profile, when the researcher gave one) ----------------------------------------

  function renderStudy() {
    const study = state.study;
    if (!study) return;
    $("study").hidden = false;
    $("study-name").textContent = study.name;
    $("study-contact").textContent = study.contact;
    const preferred = (navigator.languages || [navigator.language || "en"]).map((l) => String(l).toLowerCase().split("-")[0]);
    const chosen = state.studyLanguage || preferred.find((l) => study.languages.includes(l)) || study.languages[0];
    state.studyLanguage = chosen;
    const select = $("study-language");
    if (study.languages.length > 1 && !select.options.length) {
      for (const code of study.languages) select.append(el("option", { value: code, text: code }));
      select.addEventListener("change", () => { state.studyLanguage = select.value; renderStudy(); });
      $("study-language-field").hidden = false;
    }
    select.value = chosen;
    const texts = study.texts[chosen];
    $("study-information").textContent = texts.information;
    $("study-information").lang = chosen;
    $("study-consent").textContent = texts.consent;
    $("study-consent").lang = chosen;
    $("study-consent").hidden = false;
  }

  function applyState(data, withSurvey) {
    if (data.study !== undefined && data.study !== null && !state.study) { state.study = data.study; renderStudy(); }
    if (data.sending !== undefined && data.sending !== null) state.sending = data.sending;
    if (data.summary) state.summary = data.summary;
    if (data.tags) { state.tags = data.tags; renderTags(); }
    if (data.decks) { state.decks = data.decks; renderDecks(); }
    if (data.survey && withSurvey) {
      state.survey.languages = data.survey.languages.slice();
      state.survey.consent_public = data.survey.consent_public;
      state.survey.special_confirmed = data.survey.special_confirmed;
      if (document.activeElement !== $("domain")) $("domain").value = data.survey.domain;
      $("domain-keep").checked = !!data.survey.domain_confirmed;
      $("confirm-special").checked = data.survey.special_confirmed;
      for (const radio of document.querySelectorAll('input[name="consent"]')) {
        radio.checked = data.survey.consent_public !== null && radio.value === (data.survey.consent_public ? "yes" : "no");
      }
      renderLanguageChips();
    }
    renderCounts();
  }

  function showError(error) {
    const box = $("submit-error");
    box.hidden = false;
    box.textContent = error.message || String(error);
  }

  async function bulk(body) {
    try {
      const result = await api("api/bulk", body);
      state.summary = result.summary;
      renderCounts();
      await loadNotes();
    } catch (error) { showError(error); }
  }

  function download(name, text, type) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function submit() {
    $("submit-error").hidden = true;
    const button = $("submit");
    button.disabled = true;
    button.textContent = "Creating your submission…";
    try {
      await flushSurvey();
      if (blockers().length) throw new Error("Before you can create the submission: " + blockers().join("; ") + ".");
      const result = await api("api/submit", {});
      state.finished = true;
      for (const section of document.querySelectorAll("main > section")) section.hidden = true;
      $("done").hidden = false;
      $("token").textContent = result.token;
      $("submission-path").textContent = result.submission;
      $("token-path").textContent = result.token_file;
      $("counts").textContent = "Submission created";
      $("copy-token").addEventListener("click", async () => {
        try { await navigator.clipboard.writeText(result.token); $("copy-status").textContent = "Copied."; }
        catch (e) {
          const range = document.createRange(); range.selectNodeContents($("token"));
          const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);
          $("copy-status").textContent = "Selected: press Ctrl+C (⌘C) to copy.";
        }
      });
      $("download-token").addEventListener("click", () => download("anki-submit-withdrawal-token.txt",
        "anki-submit withdrawal token\n\n" + result.token + "\n\nKeep it private. Send it to the study's withdrawal " +
        "address only if you want your data removed.\n" +
        (state.study ? "\nStudy: " + state.study.name + "\nContact: " + state.study.contact +
          (state.study.withdrawal_url ? "\nWithdrawal address: " + state.study.withdrawal_url : "") + "\n" : ""),
        "text/plain"));
      if (state.sending) offerSending(result.submission);
      window.scrollTo(0, 0);
    } catch (error) {
      showError(error);
      button.textContent = "Create submission";
      renderBlockers();
    }
  }

  // ---- "Send to the study" ---------------------------------------------------------------------------

  function offerSending(submissionPath) {
    $("send-box").hidden = false;
    $("send-manually").hidden = true;
    $("close-note").hidden = true;
    $("send-study").textContent = state.study ? state.study.name : "the study";
    $("send-address").textContent = state.sending.address;
    $("send").addEventListener("click", () => sendToStudy().catch(sendFailed));
    $("finish-page").addEventListener("click", async () => {
      try { await api("api/close", {}); } catch (e) { /* the program may already be gone */ }
      $("send-box").hidden = true;
      $("send-manually").hidden = false;
      $("close-note").hidden = false;
      $("counts").textContent = "Not sent";
    });
  }

  function sendFailed(error) {
    $("send-progress").hidden = true;
    $("send-status").textContent = "";
    $("send-error").hidden = false;
    $("send-error").textContent = error.message || String(error);
    $("send").disabled = false;
    $("send").textContent = "Try again";
    $("finish-page").disabled = false;
  }

  async function sendToStudy() {
    $("send-error").hidden = true;
    $("send").disabled = true;
    $("finish-page").disabled = true;
    $("send").textContent = "Sending…";
    $("send-progress").hidden = false;
    $("send-progress").value = 0;
    await api("api/send", {});
    for (;;) {
      const status = await api("api/send");
      if (status.total > 0) {
        $("send-progress").value = Math.floor(100 * status.sent / status.total);
        $("send-status").textContent = "Sent " + number(Math.floor(status.sent / 1024)) + " of " +
          number(Math.floor(status.total / 1024)) + " KiB";
      }
      if (status.state === "sent") {
        $("send-progress").value = 100;
        $("send-status").textContent = "Received by the study. Your receipt: " + status.receipt +
          (status.receipt_file ? " (saved as " + status.receipt_file + ")" : "") + ". You can close this page now.";
        $("send").hidden = true;
        $("finish-page").hidden = true;
        $("counts").textContent = "Received by the study";
        return;
      }
      if (status.state === "failed") throw new Error(status.error);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  function wire() {
    let searchTimer = null;
    $("search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { state.q = $("search").value; state.page = 0; loadNotes().catch(showError); }, 200);
    });
    for (const [id, key] of [["filter", "filter"], ["deck", "deck"], ["tag", "tag"]]) {
      $(id).addEventListener("change", () => { state[key] = $(id).value; state.page = 0; loadNotes().catch(showError); });
    }
    $("prev").addEventListener("click", () => { if (state.page > 0) { state.page--; loadNotes().then(() => $("notes").scrollIntoView()).catch(showError); } });
    $("next").addEventListener("click", () => { state.page++; loadNotes().then(() => $("notes").scrollIntoView()).catch(showError); });
    $("bulk-flagged").addEventListener("click", () => bulk({ filter: "flagged", exclude: true }));
    const matching = () => ({ filter: state.filter, q: state.q, deck: state.deck, tag: state.tag });
    $("bulk-exclude").addEventListener("click", () => bulk(Object.assign(matching(), { exclude: true })));
    $("bulk-include").addEventListener("click", () => bulk(Object.assign(matching(), { exclude: false })));
    $("language-search").addEventListener("input", renderLanguageOptions);
    // A changed answer is confirmed again.
    $("domain").addEventListener("input", () => { $("domain-keep").checked = false; saveSurvey(); });
    $("domain-keep").addEventListener("change", () => { saveSurvey(); renderBlockers(); });
    $("confirm-special").addEventListener("change", saveSurvey);
    for (const radio of document.querySelectorAll('input[name="consent"]')) {
      radio.addEventListener("change", () => { state.survey.consent_public = radio.value === "yes"; saveSurvey(); renderBlockers(); });
    }
    $("submit").addEventListener("click", submit);
    $("show-special").addEventListener("click", () => {
      $("filter").value = "special"; state.filter = "special"; state.page = 0;
      loadNotes().then(() => $("notes").scrollIntoView()).catch(showError);
    });
    $("save").addEventListener("click", async () => {
      try {
        const response = await fetch(base + "api/decisions", { credentials: "same-origin" });
        download("anki-submit-decisions.json", await response.text(), "application/json");
      } catch (error) { showError(error); }
    });
    $("load").addEventListener("change", async () => {
      const file = $("load").files[0];
      if (!file) return;
      try { applyState(await api("api/decisions", await file.text()), true); await loadNotes(); $("submit-error").hidden = true; }
      catch (error) { showError(error); }
      $("load").value = "";
    });
    $("quit").addEventListener("click", async () => {
      try { await api("api/quit", {}); } catch (e) { /* the program may already be gone */ }
      for (const section of document.querySelectorAll("main > section")) section.hidden = true;
      $("quit-done").hidden = false;
      $("counts").textContent = "Stopped";
    });
  }

  async function start() {
    wire();
    try {
      applyState(await api("api/state"), true);
      await loadNotes();
      const languages = await api("api/languages");
      state.languages = languages.languages;
      renderLanguageChips();
    } catch (error) { showError(error); }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
