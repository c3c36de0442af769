// edgeops review: browse a dataset, label and relabel images. Every change is written by the
// server at once to the dataset's labels file (or its labels overrides file, where "-" removes
// an image from the dataset); the undo stack lives in this page only.
"use strict";
(() => {
  const S = {
    state: null, filter: "all", view: [], focus: 0, undo: [], extra: [],
    queue: Promise.resolve(), pending: 0, sugg: null,
  };
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid != null) e.append(kid);
    return e;
  };
  const images = () => (S.state ? S.state.images : []);
  const byPath = (p) => images().find((im) => im.path === p);
  const labels = () => [...new Set([...(S.state ? S.state.labels : []), ...S.extra])].sort();
  const sameLabels = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  function status(text, error = false) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", error);
  }

  // --- filters ------------------------------------------------------------------------------
  const FILTERS = {
    all: ["All images", () => true],
    unlabelled: ["Unlabelled", (im) => im.labels.length === 0],
    removed: ["Removed from the dataset", (im) => im.excluded],
    overridden: ["Overridden labels", (im) => im.overridden],
    dup: ["Duplicates", (im) => im.duplicate],
    conflict: ["Conflicting labels", (im) => im.conflict],
    under_min: ["Labels under 10 images", (im) => im.labels.some((l) => S.state.under_min.includes(l))],
    under_rec: ["Labels under 100 images",
      (im) => im.labels.some((l) => S.state.under_recommended.includes(l))],
  };
  const suggestedBy = () => {
    if (!S.sugg || !S.sugg.available) return "";
    const m = S.sugg.model;
    if (m) return `${m.address} v${m.version} judges ${m.judges}`;
    return S.sugg.model_why
      || "a probe on backbone features judges every image (no trained version yet)";
  };
  const suggestion = (im) => {
    if (!S.sugg || !S.sugg.available) return null;
    const m = S.sugg.mislabelled.find((x) => x.sha256 === im.sha256);
    if (m) return { label: m.suggested, score: m.score, p: (S.sugg.predicted[im.sha256] || {}).confidence };
    const p = S.sugg.predicted[im.sha256];
    return p && !im.labels.includes(p.label) ? { label: p.label, p: p.confidence } : null;
  };
  function filterOf(key) {
    if (key === "mislabelled") {
      return ["Likely mislabelled (most suspicious first)", (im) => S.sugg && S.sugg.available
        && S.sugg.mislabelled.some((x) => x.sha256 === im.sha256)];
    }
    if (key.startsWith("label:")) {
      const l = key.slice(6);
      return [`Label ${l}`, (im) => im.labels.includes(l)];
    }
    if (key.startsWith("split:")) {
      const s = key.slice(6);
      return [`Split ${s}`, (im) => im.split === s];
    }
    return FILTERS[key] || FILTERS.all;
  }
  const isList = (key) => key === "rejected" || key === "problems";

  function setFilter(key) {
    S.filter = key;
    S.focus = 0;
    S.view = isList(key) ? [] : images().filter(filterOf(key)[1]).map((im) => im.path);
    if (key === "mislabelled") {
      const rank = new Map(S.sugg.mislabelled.map((x, i) => [x.sha256, i]));
      S.view.sort((a, b) => rank.get(byPath(a).sha256) - rank.get(byPath(b).sha256));
    }
    renderSidebar();
    renderView();
  }

  function navButton(key, name, n, extraClass = "", sub = null) {
    return el("button", {
      class: (S.filter === key ? "active " : "") + extraClass, "data-filter": key,
      onclick: () => setFilter(key),
    }, el("span", {}, name, sub), el("span", { class: "n", text: String(n) }));
  }

  function renderSidebar() {
    const st = S.state, nav = $("sidebar"), ims = images();
    const count = (f) => ims.filter(f).length;
    nav.replaceChildren(
      el("h2", { text: "Images" }),
      navButton("all", "All images", ims.length),
      navButton("unlabelled", "Unlabelled", count(FILTERS.unlabelled[1]),
        count(FILTERS.unlabelled[1]) ? "warn" : ""),
      ...(st.overrides ? [
        navButton("overridden", "Overridden", count(FILTERS.overridden[1])),
        navButton("removed", "Removed", count(FILTERS.removed[1])),
      ] : []),
      el("h2", { text: "Labels" }),
      ...labels().map((l) => {
        const c = st.counts[l] || { train: 0, validation: 0, test: 0 };
        const total = c.train + c.validation + c.test;
        const cls = total < st.min_images ? "bad" : total < st.recommended_images ? "warn" : "";
        const sub = el("span", { class: "splits",
          text: `train ${c.train} · validation ${c.validation} · test ${c.test}` });
        return navButton(`label:${l}`, l, total, cls, sub);
      }),
      el("h2", { text: "Splits" }),
      ...["train", "validation", "test"].map((s) =>
        navButton(`split:${s}`, s, count((im) => im.split === s))),
      el("h2", { text: "Model" }),
      S.sugg && S.sugg.available
        ? navButton("mislabelled", "Likely mislabelled", S.sugg.mislabelled.length,
          S.sugg.mislabelled.length ? "warn" : "")
        : el("div", { class: "splits", text: S.sugg ? S.sugg.why : "computing suggestions…" }),
      el("div", { class: "splits", text: suggestedBy() }),
      el("h2", { text: "Problems" }),
      navButton("dup", "Duplicates", count(FILTERS.dup[1]), count(FILTERS.dup[1]) ? "warn" : ""),
      navButton("conflict", "Conflicting labels", count(FILTERS.conflict[1]),
        count(FILTERS.conflict[1]) ? "bad" : ""),
      navButton("under_min", `Labels under ${st.min_images}`, st.under_min.length,
        st.under_min.length ? "bad" : ""),
      navButton("under_rec", `Labels under ${st.recommended_images}`,
        st.under_recommended.length, st.under_recommended.length ? "warn" : ""),
      navButton("rejected", "Rejected files", st.rejected.length, st.rejected.length ? "bad" : ""),
      navButton("problems", "All problems & warnings", st.problems.length + st.warnings.length,
        st.problems.length ? "bad" : st.warnings.length ? "warn" : ""),
    );
  }

  // --- the grid -----------------------------------------------------------------------------
  function renderView() {
    const grid = $("grid"), list = $("list");
    grid.replaceChildren();
    list.replaceChildren();
    if (S.filter === "rejected") {
      $("view-title").textContent = "Rejected files (not imported)";
      list.append(table(["File", "Reason"], S.state.rejected.map((r) => [r.path, r.reason])));
      return;
    }
    if (S.filter === "problems") {
      $("view-title").textContent = "Problems the import finds, then warnings";
      list.append(table(["Where", "What"], [
        ...S.state.problems.map((p) => [p.where, p.what]),
        ...S.state.rejected.map((r) => [r.path, r.reason]),
        ...S.state.warnings.map((w) => ["warning", w]),
      ]));
      return;
    }
    const [title] = filterOf(S.filter);
    $("view-title").textContent = `${title}: ${S.view.length} image${S.view.length === 1 ? "" : "s"}`;
    if (!S.view.length) {
      grid.append(el("div", { class: "empty", text: "Nothing here." }));
      return;
    }
    S.view.forEach((path, i) => {
      const im = byPath(path);
      const card = el("div", { class: "card", "data-path": path, onclick: () => setFocus(i) },
        el("div", { class: "img" },
          el("img", { src: `/thumb/${im.sha256}`, alt: path, loading: "lazy",
            width: "256", height: "256", style: "object-fit: contain; width: 100%; height: 100%" })),
        el("div", { class: "meta" },
          el("div", { class: "name", title: path, text: path }),
          el("div", { class: "flags" }),
          el("div", { class: "labels" })));
      grid.append(card);
      updateCard(card, im);
    });
    setFocus(Math.min(S.focus, S.view.length - 1));
  }

  function table(head, rows) {
    if (!rows.length) return el("div", { class: "empty", text: "None." });
    return el("table", {},
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: c }))))));
  }

  function updateCard(card, im) {
    const flags = card.querySelector(".flags");
    flags.replaceChildren(...[
      im.split ? el("span", { class: "flag split", text: im.split }) : null,
      im.duplicate ? el("span", { class: "flag dup", text: "duplicate" }) : null,
      im.conflict ? el("span", { class: "flag conflict", text: "conflict" }) : null,
      im.overridden ? el("span", { class: "flag override", text: "override",
        title: `source: ${im.source_labels.join(", ") || "unlabelled"}` }) : null,
    ].filter(Boolean));
    const s = suggestion(im);
    if (s) {
      flags.append(el("span", { class: "flag suggest", "data-suggest": s.label,
        text: `→ ${s.label}${s.p != null ? ` ${Math.round(s.p * 100)}%` : ""} (a)` }));
    }
    const chips = isRemoved(im) ? [el("span", { class: "chip none", text: "removed" })]
      : im.labels.length ? im.labels.map((l) => el("span", { class: "chip", text: l }))
        : [el("span", { class: "chip none", text: "unlabelled" })];
    card.querySelector(".labels").replaceChildren(...chips);
  }

  function isRemoved(im) { return im.labels.length === 1 && im.labels[0] === "-"; }

  function cards() { return [...$("grid").querySelectorAll(".card")]; }

  function setFocus(i) {
    const cs = cards();
    if (!cs.length) return;
    S.focus = Math.max(0, Math.min(i, cs.length - 1));
    cs.forEach((c, j) => c.classList.toggle("focus", j === S.focus));
    cs[S.focus].scrollIntoView({ block: "nearest" });
    renderLabelbar();
  }

  function focused() { return S.view.length ? byPath(S.view[S.focus]) : null; }

  function renderLabelbar() {
    const im = focused();
    $("labelbar").replaceChildren(...labels().map((l, i) => el("button", {
      type: "button", "data-label": l, class: im && im.labels.includes(l) ? "on" : "",
      onclick: (e) => { e.currentTarget.blur(); pick(l); },
    }, i < 9 ? el("kbd", { text: String(i + 1) }) : null, l)));
  }

  // --- changes ------------------------------------------------------------------------------
  function pick(label) {
    const im = focused();
    if (!im) return;
    let next;
    const have = im.labels.filter((l) => l !== "-");
    if (S.state.multi_label) {
      next = have.includes(label) ? have.filter((l) => l !== label) : [...have, label];
    } else {
      next = [label];
    }
    change(im, next.sort(), true);
    if (!S.state.multi_label) setFocus(S.focus + 1);
  }

  function change(im, next, record) {
    const before = im.labels.slice();
    if (sameLabels(before, next)) return;
    if (record) S.undo.push({ path: im.path, before, after: next });
    im.labels = next;  // shown at once; the server's answer replaces it
    refreshCard(im.path);
    send({ path: im.path, labels: next, before });
  }

  function undo() {
    const u = S.undo.pop();
    if (!u) { status("Nothing to undo."); return; }
    const im = byPath(u.path);
    if (!im) return;
    const i = S.view.indexOf(u.path);
    if (i >= 0) setFocus(i);
    change(im, u.before, false);
  }

  function send(body) {
    S.pending += 1;
    S.queue = S.queue.then(async () => {
      let res, data;
      try {
        res = await fetch("/api/labels", {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
        });
        data = await res.json();
      } catch (err) {
        data = { ok: false, error: `not saved: the review server is not reachable (${err})` };
      }
      S.pending -= 1;
      if (data.ok) {
        const what = body.labels[0] === "-" ? "removed from the dataset"
          : body.labels.length ? body.labels.join(", ") : "unlabelled";
        status(`Saved ${body.path}: ${what} → ${data.state.labels_file}`);
        if (!S.pending) { onState(data.state); loadSuggestions(); }
      } else {
        status(data.error || `not saved (HTTP ${res && res.status})`, true);
        if (data.state) onState(data.state);
      }
    });
  }

  function refreshCard(path) {
    const card = cards().find((c) => c.dataset.path === path);
    if (card) updateCard(card, byPath(path));
    renderLabelbar();
  }

  function onState(state) {
    S.state = state;
    const known = new Set(state.images.map((im) => im.path));
    const before = S.view.length;
    S.view = S.view.filter((p) => known.has(p));
    $("dataset").textContent = state.dataset + (state.multi_label ? " (multi-label)" : "");
    $("file").textContent = !state.editable
      ? `${state.source_kind} source ${state.images_folder} (read only: declare labels_override to relabel)`
      : state.overrides ? `overrides: ${state.labels_file} · ${state.source_kind}: ${state.images_folder}`
        : `labels: ${state.labels_file} · images: ${state.images_folder}/`;
    renderSidebar();
    if (S.view.length !== before) renderView();
    else for (const c of cards()) updateCard(c, byPath(c.dataset.path));
    renderLabelbar();
  }

  function loadSuggestions() {
    fetch("/api/suggestions").then((r) => r.json()).then((sugg) => {
      S.sugg = sugg;
      renderSidebar();
      for (const c of cards()) updateCard(c, byPath(c.dataset.path));
    }).catch(() => {});
  }

  // --- input --------------------------------------------------------------------------------
  function columns() {
    const cols = getComputedStyle($("grid")).gridTemplateColumns.split(" ").filter(Boolean);
    return Math.max(1, cols.length);
  }

  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || !S.state) return;
    const k = e.key;
    let handled = true;
    if ((e.ctrlKey || e.metaKey) && k.toLowerCase() === "z") undo();
    else if (e.ctrlKey || e.metaKey || e.altKey) handled = false;
    else if (k >= "1" && k <= "9") {
      const l = labels()[Number(k) - 1];
      if (l) pick(l);
    } else if (k === "0" || k === "Backspace" || k === "Delete") {
      const im = focused();
      if (im) change(im, [], true);
    } else if (k === "ArrowRight") setFocus(S.focus + 1);
    else if (k === "ArrowLeft") setFocus(S.focus - 1);
    else if (k === "ArrowDown") setFocus(S.focus + columns());
    else if (k === "ArrowUp") setFocus(S.focus - columns());
    else if (k === "u") undo();
    else if (k === "a") {
      const im = focused(), s = im && suggestion(im);
      if (s) pick(s.label); else status("No suggestion for this image.");
    }
    else if (k === "x" && S.state.overrides) {
      const im = focused();
      if (im) change(im, isRemoved(im) ? im.source_labels.slice() : ["-"], true);
    }
    else handled = false;
    if (handled) e.preventDefault();
  });

  $("undo").addEventListener("click", (e) => { e.currentTarget.blur(); undo(); });
  $("newlabel").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("newlabel-name"), name = input.value.trim();
    if (!/^[A-Za-z0-9_]{1,32}$/.test(name)) {
      status("Labels are 1-32 ASCII letters, digits or underscores.", true);
      return;
    }
    if (!labels().includes(name)) S.extra.push(name);
    input.value = "";
    input.blur();
    renderLabelbar();
    renderSidebar();
    status(`Label ${name} added: pick it for an image to write it to the labels file.`);
  });

  fetch("/api/state").then((r) => r.json()).then((state) => {
    onState(state);
    setFilter("all");
    loadSuggestions();
    status(state.editable
      ? `${state.images.length} images; changes are saved to ${state.labels_file} at once.`
      : `${state.images.length} images; read only: this ${state.source_kind} source has no labels_override file.`);
  }).catch((err) => status(`cannot load the dataset: ${err}`, true));
})();
