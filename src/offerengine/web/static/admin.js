// OfferEngine admin UI: forms write through the JSON API with the session cookie and its CSRF
// token; the API's problem+json errors are shown next to the fields they name. No build step.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, url, body) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrf() };
  const init = { method, headers, credentials: "same-origin" };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  return { ok: response.ok, status: response.status, data };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  keys.slice(0, -1).forEach((key) => { node = node[key] ??= {}; });
  node[keys[keys.length - 1]] = value;
}

class FieldProblem extends Error {
  constructor(field, message) { super(message); this.field = field; }
}

// The JSON body of a form: names with dots nest; data-type says how a value reads.
function formBody(form) {
  const body = {};
  for (const input of form.querySelectorAll("[name]")) {
    if (input.disabled || input.type === "file" || input.name === "csrf_token") continue;
    if (input.closest(".schema-form")) continue;  // the form editor's own inputs: its value is the document
    const type = input.dataset.type || "";
    const raw = input.value;
    let value = raw;
    if (type === "json-body") {
      let parsed;
      try { parsed = JSON.parse(raw); } catch (exc) {
        throw new FieldProblem("*", `not valid JSON: ${exc.message}`);
      }
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new FieldProblem("*", "the document must be a JSON object");
      }
      Object.assign(body, parsed);
      continue;
    }
    if (type === "bool") value = input.checked;
    else if (type === "bool-value") value = raw === "true";
    else if (type === "checked-list") {
      if (!Array.isArray(body[input.name])) body[input.name] = [];
      if (input.checked) body[input.name].push(raw);
      continue;
    } else if (type === "int") {
      if (raw.trim() === "") continue;
      value = Number.parseInt(raw, 10);
    } else if (type === "json") {
      if (raw.trim() === "") continue;
      try { value = JSON.parse(raw); } catch (exc) {
        throw new FieldProblem(input.name, `not valid JSON: ${exc.message}`);
      }
    } else if (type === "list") {
      value = raw.split(",").map((s) => s.trim()).filter(Boolean);
    } else if (type === "optional") {
      if (raw.trim() === "") continue;
    }
    setPath(body, input.name, value);
  }
  return body;
}

function clearErrors(form) {
  form.querySelectorAll("[data-error-for]").forEach((node) => { node.replaceChildren(); });
  form.querySelectorAll(".inline-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  const status = form.querySelector(".form-status");
  if (status) { status.textContent = ""; status.className = "form-status"; }
}

function status(form, message, kind) {
  const node = form.querySelector(".form-status") || document.getElementById("history-status");
  if (!node) return;
  node.replaceChildren(...(Array.isArray(message) ? message : [message]));
  node.className = `form-status ${kind}`;
}

// Put each error of a problem document next to its field (loc without "body"), the rest on top.
function showProblem(form, problem, status_code) {
  const loose = [];
  for (const error of problem?.errors || []) {
    const loc = (error.loc || []).filter((part) => part !== "body");
    let slot = null;
    for (let n = loc.length; n > 0 && !slot; n -= 1) {
      const name = loc.slice(0, n).join(".");
      slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    }
    const whole = form.querySelector('[data-error-for="*"]');
    if (!slot && whole) {
      // A document editor: every error goes under it, with the path it names, and the form
      // editor's field at that path is marked too.
      whole.append(el("span", { class: "error-line" }, `${schemaLabel(form, loc) || loc.join(".") || "document"}: ${error.msg}`));
      const input = markSchemaField(form, loc);
      if (input) input.after(el("small", { class: "field-error inline-error" }, error.msg));
      else form.querySelector('[data-type="json-body"]')?.setAttribute("aria-invalid", "true");
      continue;
    }
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent}; ${error.msg}` : error.msg;
      const input = form.querySelector(`[name="${CSS.escape(slot.dataset.errorFor)}"]`);
      input?.setAttribute("aria-invalid", "true");
    } else {
      loose.push(el("li", {}, `${loc.join(".") || "request"}: ${error.msg}`));
    }
  }
  const title = problem?.detail || problem?.title || `The request failed (${status_code}).`;
  status(form, [el("strong", {}, title), loose.length ? el("ul", {}, loose) : ""], "error");
  form.querySelector('[aria-invalid="true"]')?.focus();
}

// ---- a confirmation that outlives the page change a save makes (a flash message) ----

const FLASH = "offerengine-flash";

function flashNext(message) {
  try { window.sessionStorage.setItem(FLASH, message); } catch { /* storage off: no flash */ }
}

function showFlash() {
  const node = document.getElementById("flash");
  let message = null;
  try {
    message = window.sessionStorage.getItem(FLASH);
    window.sessionStorage.removeItem(FLASH);
  } catch { return; }
  if (!node || !message) return;
  node.textContent = message;
  node.hidden = false;
}

// ---- times: ISO strings shown in the tenant's time zone, the zone named ----

function when(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  const zone = document.body.dataset.zone || "UTC";
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short",
  }).formatToParts(moment).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

function fill(template, data) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (data && data[key] !== undefined ? data[key] : ""));
}

async function submitApiForm(form) {
  clearErrors(form);
  const jsonView = form.querySelector(".json-view");
  if (form.schemaEditor && jsonView?.hidden) {
    const document_ = withoutBlanks(form.schemaEditor.getValue(), form.schemaEditor.schema);
    form.querySelector('[data-type="json-body"]').value = JSON.stringify(document_);
  }
  let body;
  try { body = formBody(form); } catch (exc) {
    if (exc instanceof FieldProblem) {
      const loc = exc.field === "*" ? [] : exc.field.split(".");
      showProblem(form, { detail: "Fix the field marked below.", errors: [{ loc, msg: exc.message }] });
      return null;
    }
    throw exc;
  }
  const result = await api(form.dataset.method || "POST", form.dataset.api, body);
  if (!result.ok) { showProblem(form, result.data, result.status); return null; }
  const done = fill(form.dataset.done || "Done.", result.data);
  if (form.dataset.next) {
    flashNext(done);
    window.location.assign(fill(form.dataset.next, result.data));
    return result;
  }
  status(form, done, "ok");
  if (form.dataset.reload !== undefined) flashNext(done);
  if (form.dataset.reload !== undefined) window.setTimeout(() => window.location.reload(), 600);
  return result;
}

// ---- confirmation of destructive actions (a <dialog>, keyboard-friendly) ----

function confirmAction(text) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(text));
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  });
}

async function runAction(button) {
  if (button.dataset.confirm && !(await confirmAction(button.dataset.confirm))) return;
  const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
  const result = await api(button.dataset.action, button.dataset.url, body);
  const host = button.closest("form") || document.body;
  if (!result.ok) { showProblem(host, result.data, result.status); return; }
  flashNext(fill(button.dataset.done || "Done.", result.data || {}));
  if (button.dataset.next) window.location.assign(fill(button.dataset.next, result.data || {}));
  else window.location.reload();
}

// ---- uploads: CSV as multipart, JSON files as the request body ----

async function upload(form) {
  clearErrors(form);
  const file = form.querySelector('input[type="file"]').files[0];
  if (!file) return;
  let result;
  if (form.dataset.uploadJson) {
    let body;
    try { body = JSON.parse(await file.text()); } catch (exc) {
      status(form, `The file is not JSON: ${exc.message}`, "error");
      return;
    }
    result = await api("POST", form.dataset.uploadJson, body);
  } else {
    const data = new FormData();
    data.append("file", file);
    result = await api("POST", form.dataset.upload, data);
  }
  if (!result.ok) {
    showProblem(form, result.data, result.status);
    return;
  }
  status(form, fill(form.dataset.done || "Imported.", result.data), "ok");
  if (form.dataset.reload !== undefined) window.setTimeout(() => window.location.reload(), 800);
}

// ---- a bulk import in the background: upload the file, then poll its job for progress ----

async function importJob(form) {
  clearErrors(form);
  const file = form.querySelector('input[type="file"]').files[0];
  if (!file) return;
  const kind = form.querySelector('select[name="kind"]').value;
  const bar = form.querySelector("progress");
  const data = new FormData();
  data.append("file", file);
  status(form, "Uploading …", "");
  const started = await api("POST", `${form.dataset.importJobs}/${kind}`, data);
  if (!started.ok) { showProblem(form, started.data, started.status); return; }
  let job = started.data;
  while (job.status === "running") {
    bar.max = Math.max(job.total, 1);
    bar.value = job.processed;
    status(form, `${job.phase}: ${job.processed.toLocaleString()} of ${job.total.toLocaleString()} rows`, "");
    await new Promise((resolve) => { window.setTimeout(resolve, 500); });
    const polled = await api("GET", `${form.dataset.importJobs}/${job.id}`);
    if (!polled.ok) { showProblem(form, polled.data, polled.status); return; }
    job = polled.data;
  }
  if (job.status === "failed") {
    bar.value = 0;
    showProblem(form, job.problem, 422);
    return;
  }
  bar.max = 1;
  bar.value = 1;
  status(form, `Imported ${job.total.toLocaleString()} rows: ${job.created.toLocaleString()} created, ${job.updated.toLocaleString()} updated, ${job.unchanged.toLocaleString()} unchanged.`, "ok");
}

// ---- live validation of formulas and conditions ----

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { window.clearTimeout(timer); timer = window.setTimeout(() => fn(...args), ms); };
}

function validationSlot(input) {
  return document.getElementById(`v-${input.id.replace(/^f-/, "")}`);
}

async function validateRule(input) {
  const slot = validationSlot(input);
  if (!slot) return;
  const text = input.value.trim();
  if (!text) { slot.textContent = ""; slot.className = "validation"; return; }
  const body = { use: input.dataset.validate || input.dataset.validateCondition };
  if (input.dataset.validateCondition) {
    try { body.condition = JSON.parse(text); } catch (exc) {
      slot.textContent = `Not valid JSON: ${exc.message}`; slot.className = "validation bad"; return;
    }
    body.expect = "boolean";
  } else {
    body.expression = text;
    body.expect = input.dataset.expect || "any";
  }
  const result = await api("POST", "/v1/admin/rules/validate", body);
  if (!result.ok) { slot.textContent = result.data?.detail || "Could not validate."; slot.className = "validation bad"; return; }
  if (result.data.ok) {
    const facts = result.data.facts.length ? ` · reads ${result.data.facts.join(", ")}` : "";
    slot.textContent = `✓ valid (${result.data.type})${facts}`;
    slot.className = "validation good";
  } else {
    slot.textContent = result.data.errors
      .map((e) => (e.position !== undefined && e.position !== null ? `at ${e.position + 1}: ${e.msg}` : e.msg))
      .join("; ");
    slot.className = "validation bad";
  }
}

// ---- the vocabulary: a list to insert from, and the condition builder ----

const vocabularies = new Map();
function vocabulary(url) {
  if (!vocabularies.has(url)) {
    vocabularies.set(url, api("GET", url).then((r) => (r.ok ? r.data : { facts: [], functions: [] })));
  }
  return vocabularies.get(url);
}

function insertAtCursor(input, text) {
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  input.focus();
  input.selectionStart = input.selectionEnd = start + text.length;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

async function vocabularyList(details) {
  const voc = await vocabulary(details.dataset.vocabularyList);
  const target = document.getElementById(details.dataset.insertInto);
  const button = (label, insert, title) => {
    const b = el("button", { type: "button", class: "chip", title }, label);
    b.addEventListener("click", () => insertAtCursor(target, insert));
    return b;
  };
  details.querySelector(".vocab-body").replaceChildren(
    el("h3", {}, "Facts"),
    el("div", { class: "chips" }, voc.facts.map((f) => button(f.name, f.name, `${f.type}: ${f.description}`))),
    el("h3", {}, "Functions"),
    el("div", { class: "chips" }, voc.functions.map((f) => button(f.signature, `${f.name}(`, f.description))),
  );
}

const OPERATORS = [
  ["eq", "="], ["ne", "≠"], ["in", "is one of"], ["not_in", "is none of"],
  ["gte", "≥"], ["lte", "≤"], ["gt", ">"], ["lt", "<"],
];

function typed(text) {
  const value = text.trim();
  if (value === "true" || value === "false") return value === "true";
  if (value !== "" && !Number.isNaN(Number(value))) return Number(value);
  return value;
}

// One row per fact test; the rows make {"all": [...]} (or a single test), written into the JSON
// field that the API reads. A condition the rows cannot show stays editable as JSON.
function rowsOf(condition) {
  if (!condition || typeof condition !== "object" || Array.isArray(condition)) return null;
  const parts = Object.keys(condition).length === 1 && Array.isArray(condition.all) ? condition.all : [condition];
  const rows = [];
  for (const part of parts) {
    if (!part || typeof part !== "object" || Array.isArray(part)) return null;
    for (const [fact, test] of Object.entries(part)) {
      if (["any", "all", "not", "expression", "date_range"].includes(fact)) return null;
      if (Array.isArray(test)) rows.push({ fact, op: "in", value: test.join(", ") });
      else if (test && typeof test === "object") {
        for (const [op, value] of Object.entries(test)) {
          const name = { min: "gte", max: "lte" }[op] || op;
          if (!OPERATORS.some(([o]) => o === name)) return null;
          rows.push({ fact, op: name, value: Array.isArray(value) ? value.join(", ") : String(value) });
        }
      } else rows.push({ fact, op: "eq", value: String(test) });
    }
  }
  return rows;
}

function conditionOf(rows) {
  const tests = rows.filter((r) => r.fact).map((r) => {
    if (r.op === "eq") return { [r.fact]: typed(r.value) };
    if (r.op === "in" || r.op === "not_in") {
      const values = r.value.split(",").map(typed).filter((v) => v !== "");
      return r.op === "in" ? { [r.fact]: values } : { [r.fact]: { not_in: values } };
    }
    return { [r.fact]: { [r.op]: typed(r.value) } };
  });
  if (tests.length === 0) return {};
  return tests.length === 1 ? tests[0] : { all: tests };
}

async function conditionBuilder(host) {
  const target = document.getElementById(host.dataset.conditionBuilder);
  const voc = await vocabulary(host.dataset.vocabulary);
  const facts = voc.facts.map((f) => f.name);
  let rows;
  try { rows = rowsOf(JSON.parse(target.value || "{}")); } catch { rows = null; }
  const list = el("div", { class: "builder-rows" });
  const note = el("p", { class: "muted small" });
  const write = () => {
    target.value = JSON.stringify(conditionOf(rows), null, 2);
    target.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const render = () => {
    list.replaceChildren(...rows.map((row, i) => {
      const fact = el("select", { "aria-label": `Fact of test ${i + 1}` },
        el("option", { value: "" }, "fact…"),
        [...new Set([...facts, row.fact].filter(Boolean))].map((f) => el("option", { value: f, selected: f === row.fact }, f)));
      const op = el("select", { "aria-label": `Operator of test ${i + 1}` },
        OPERATORS.map(([o, label]) => el("option", { value: o, selected: o === row.op }, label)));
      const value = el("input", { value: row.value, "aria-label": `Value of test ${i + 1}`, placeholder: "value (a list: a, b)" });
      const remove = el("button", { type: "button", class: "link danger", "aria-label": `Remove test ${i + 1}` }, "Remove");
      fact.addEventListener("change", () => { row.fact = fact.value; write(); });
      op.addEventListener("change", () => { row.op = op.value; write(); });
      value.addEventListener("input", () => { row.value = value.value; write(); });
      remove.addEventListener("click", () => { rows.splice(i, 1); render(); write(); });
      return el("div", { class: "builder-row" }, fact, op, value, remove);
    }));
  };
  const add = el("button", { type: "button", class: "secondary" }, "Add a test");
  add.addEventListener("click", () => {
    if (rows === null) return;
    rows.push({ fact: "", op: "eq", value: "" });
    render();
    list.querySelector(".builder-row:last-child select")?.focus();
  });
  if (rows === null) {
    note.textContent = "This condition uses forms the builder does not show (any, not, expressions, dates): edit it as JSON below.";
    add.disabled = true;
    rows = [];
  } else {
    note.textContent = "All tests must hold. Each row writes the JSON below; you may also edit the JSON directly.";
  }
  render();
  host.replaceChildren(note, list, add);
  target.addEventListener("change", () => {
    let parsed;
    try { parsed = rowsOf(JSON.parse(target.value || "{}")); } catch { return; }
    if (parsed !== null) { rows = parsed; add.disabled = false; render(); }
  });
}

// ---- the pricing Test panel ----

function table(headers, rows) {
  return el("div", { class: "table-scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))))));
}

// A table frame that scrolls can be scrolled from the keyboard: it takes the focus then.
function focusableScrolls() {
  document.querySelectorAll(".table-scroll").forEach((frame) => {
    if (frame.scrollWidth > frame.clientWidth + 1) frame.setAttribute("tabindex", "0");
    else frame.removeAttribute("tabindex");
  });
}

async function simulate(form) {
  clearErrors(form);
  let body;
  try { body = formBody(form); } catch (exc) {
    if (exc instanceof FieldProblem) { showProblem(form, { detail: "Fix the field marked below.", errors: [{ loc: [exc.field], msg: exc.message }] }); return; }
    throw exc;
  }
  const result = await api("POST", form.dataset.simulate, body);
  const out = document.getElementById("test-result");
  if (!result.ok) { showProblem(form, result.data, result.status); out.replaceChildren(); return; }
  const p = result.data;
  out.replaceChildren(
    el("p", { class: "price" }, `${p.product_code}: base ${p.base_price} ${p.currency} → `, el("strong", { "data-final-price": p.final_price }, `${p.final_price} ${p.currency}`)),
    el("h3", {}, "Adjustments, in order"),
    p.adjustments.length
      ? table(["Rule", "Version", "Type", "Multiplier", "Amount", "Before", "After"],
        p.adjustments.map((a) => [a.rule_name, `v${a.version}`, a.type, a.multiplier ?? "", a.amount, a.price_before, a.price_after]))
      : el("p", { class: "muted" }, "No rule changed the price."),
    p.guard_rails.length ? el("div", {}, el("h3", {}, "Guard rails"),
      table(["Guard rail", "Limit", "Before", "After"], p.guard_rails.map((g) => [g.name, g.limit, g.price_before, g.price_after]))) : "",
    p.skipped.length ? el("div", {}, el("h3", {}, "Rules in scope that did not apply"),
      table(["Rule", "Why not"], p.skipped.map((s) => [s.rule_name, s.reason]))) : "",
  );
}

// ---- playgrounds: shop and decide ----

function renderOffers(data) {
  const offers = data.offers || [];
  const parts = [el("h2", {}, `${offers.length} offer${offers.length === 1 ? "" : "s"}`, el("small", { class: "muted" }, ` · search ${data.search_id}`))];
  for (const w of data.warnings || []) parts.push(el("p", { class: "warning" }, w));
  offers.forEach((offer, i) => {
    const price = offer.price;
    const flight = offer.flight || {};
    const items = (offer.items || []).map((item) => [
      `${item.name} (${item.product_code})`,
      item.required ? "required" : "optional",
      (item.passengers || []).map((p) => `${p.count} ${p.type.toLowerCase()} × ${p.unit_price}`).join(", "),
      item.price.discount && Number(item.price.discount) !== 0 ? `${item.price.total} (discount ${item.price.discount})` : item.price.total,
      (item.pricing?.steps || []).map((s) => `${s.rule_name} v${s.version}${s.multiplier ? ` ×${s.multiplier}` : ""}: ${s.price_before} → ${s.price_after} ${item.pricing.currency}`).join("; ") || "no rule applied",
    ]);
    parts.push(el("article", { class: "card offer", "data-offer": offer.offer_id },
      el("h3", {}, `${i + 1}. ${offer.offer_type}`, offer.bundle?.bundle_name ? ` · ${offer.bundle.bundle_name}` : "",
        el("span", { class: "total" }, `${price.total} ${price.currency}`)),
      el("p", { class: "muted" }, `${offer.journey ? `${offer.journey.type.replace("_", " ")} · first flight ` : ""}${flight.carrier || ""}${flight.flight_number || ""} ${flight.origin || ""}→${flight.destination || ""} ${(flight.departure_local || "").slice(0, 16).replace("T", " ")} (local) · ${offer.cabin} · score ${offer.score.toFixed(3)} · expires ${when(offer.expires_at)}`),
      offer.slices ? el("ul", { class: "slices" }, ...sliceLines(offer)) : "",
      offer.low_stock?.length ? el("p", { class: "warning" }, `Low stock: ${offer.low_stock.join(", ")}`) : "",
      ...fareFamilyGrids(offer),
      table(["Price part", "Amount"], [["Base", price.base], ["Rule adjustments", price.adjustments], ["Bundle discount", price.discount], ["Taxes", price.tax_total], ["Total", price.total]]),
      items.length ? table(["Item", "", "Passengers × unit price", "Total", "Pricing rules applied"], items) : "",
      offer.omitted?.length ? el("p", { class: "muted" }, `Left out: ${offer.omitted.map((o) => `${o.product_type || o.type || "item"} (${o.reason})`).join("; ")}`) : "",
      el("details", {}, el("summary", {}, "Score and full offer (JSON)"), el("pre", { class: "code" }, JSON.stringify(offer, null, 2)))));
  });
  parts.push(...renderAlternatives(data.alternatives));
  return parts;
}

// An offer's fare families as comparison tables: a column per family (lowest first), a row per
// price and attribute, the family the offer sells marked; a journey has one table per slice.
// Each column's button shops again in that family (the form's fare family field).
function fareFamilyGrids(offer) {
  const grids = offer.fare_families;
  if (!grids?.length) return [];
  const perSlice = grids[0].families ? grids : [{ slice: null, families: grids }];
  return perSlice.map((g) => fareFamilyTable(g.families, g.slice, offer.currency));
}

const SEAT_CHOICE = { none: "assigned at check-in", paid: "for a fee", standard: "standard seats free", any: "any seat free" };

function feeRule(rule, fee, currency) {
  if (rule === "fee") return `for a fee (${fee} ${currency})`;
  return { not_allowed: "not allowed", free: "free", full: "full refund" }[rule] || rule;
}

function fareFamilyTable(families, slice, currency) {
  const yes = (v) => (v ? "yes" : "no");
  const others = [...new Set(families.flatMap((f) => Object.keys(f.attributes.other || {})))];
  const rows = [
    ["Total", (f) => `${f.total} ${currency}`],
    ["Difference", (f) => (f.selected ? "this offer" : `${Number(f.difference) > 0 ? "+" : ""}${f.difference} ${currency}`)],
    ["Seats", (f) => (f.available ? `${f.remaining} left` : "closed")],
    ["Checked bags", (f) => String(f.attributes.checked_bags)],
    ["Cabin bag", (f) => yes(f.attributes.carry_on)],
    ["Seat selection", (f) => SEAT_CHOICE[f.attributes.seat_selection] || f.attributes.seat_selection],
    ["Changes", (f) => feeRule(f.attributes.changes, f.attributes.change_fee, f.fee_currency)],
    ["Refunds", (f) => feeRule(f.attributes.refunds, f.attributes.refund_fee, f.fee_currency)],
    ["Priority boarding", (f) => yes(f.attributes.priority_boarding)],
    ["Lounge", (f) => yes(f.attributes.lounge)],
    ...others.map((name) => [name, (f) => (f.attributes.other || {})[name] || "—"]),
  ];
  const head = el("tr", {}, el("th", { scope: "col" }, "Fare family"), families.map((f) =>
    el("th", { scope: "col", class: f.selected ? "selected" : null, "aria-current": f.selected ? "true" : null },
      `${f.name} (${f.code})`, f.selected ? el("span", { class: "badge" }, " sold") : "")));
  const body = rows.map(([label, value]) => el("tr", {}, el("th", { scope: "row" }, label),
    families.map((f) => el("td", { class: f.selected ? "selected" : null }, value(f)))));
  const pick = el("tr", {}, el("th", { scope: "row" }, "Shop"), families.map((f) => el("td", {},
    f.selected ? "" : el("button", { type: "button", class: "link", "data-shop-family": f.code }, `Shop in ${f.name}`))));
  pick.querySelectorAll("[data-shop-family]").forEach((button) => button.addEventListener("click", () => {
    const form = document.getElementById("shop-form");
    const field = form?.querySelector("[name=fare_family]");
    if (!field) return;
    if (![...field.options].some((o) => o.value === button.dataset.shopFamily)) field.append(el("option", { value: button.dataset.shopFamily }, button.dataset.shopFamily));
    field.value = button.dataset.shopFamily;
    form.requestSubmit();
  }));
  return el("div", { class: "table-scroll fare-families" }, el("table", {},
    el("caption", {}, slice ? `Fare families, slice ${slice}` : "Fare families"),
    el("thead", {}, head), el("tbody", {}, ...body, pick)));
}

// The shop playground's trip: the one-way shape as the form has it, or a journey's slices.
function journeyBody(form, body) {
  const trip = form.querySelector("[data-journey-trip]").value;
  if (trip === "shape") return body;
  const days = Number.parseInt(form.querySelector("[data-journey-days]").value || "0", 10);
  const first = { origin: body.origin, destination: body.destination, date: body.date, days };
  const slices = [first];
  if (trip === "round_trip") {
    const back = form.querySelector("[data-journey-return]").value;
    if (!back) throw new FieldProblem("return date", "a round trip needs a return date");
    slices.push({ origin: body.destination, destination: body.origin, date: back, days });
  } else if (trip === "more") {
    let more;
    try { more = JSON.parse(form.querySelector("[data-journey-more]").value || "[]"); } catch (exc) {
      throw new FieldProblem("more slices", `not valid JSON: ${exc.message}`);
    }
    if (!Array.isArray(more)) throw new FieldProblem("more slices", "a JSON list of slices");
    slices.push(...more);
  }
  const out = { ...body, slices };
  for (const name of ["origin", "destination", "date"]) delete out[name];
  return out;
}

function sliceLines(offer) {
  return (offer.slices || []).map((s) => el("li", {},
    `Slice ${s.slice}: ${s.origin}→${s.destination} ${s.date}, ${s.stops ? `${s.stops} stop${s.stops > 1 ? "s" : ""} via ${s.via.join(", ")}` : "nonstop"}, ${Math.floor(s.duration_minutes / 60)}h ${s.duration_minutes % 60}m: `,
    s.segments.map((g) => `${g.marketing} ${g.origin}→${g.destination} ${(g.departure_local || "").slice(0, 16).replace("T", " ")}`).join(" · ")));
}

function renderAlternatives(found) {
  if (!found) return [];
  const parts = [];
  if (found.dates?.length) {
    parts.push(el("h3", {}, "Nearest dates with seats"),
      table(["Slice", "Date", "Days from asked", "Itineraries", "Earliest"], found.dates.map((d) => [
        String(d.slice), d.date, String(d.days_from_asked), String(d.itineraries),
        `${d.earliest.flights.join("+")} (${d.earliest.stops ? `${d.earliest.stops} stop(s)` : "nonstop"})`])));
  }
  if (found.connections?.length) {
    parts.push(el("h3", {}, "Connections with seats"),
      table(["Slice", "Flights", "Via", "Departs", "Arrives"], found.connections.map((c) => [
        String(c.slice), c.flights.join("+"), c.via.join(", "), when(c.departure_at), when(c.arrival_at)])));
  }
  if (!parts.length) parts.push(el("p", { class: "muted" }, "No other date or connection has seats either."));
  return parts;
}

function renderDecision(data) {
  const names = Object.fromEntries(JSON.parse(document.getElementById("activity-names")?.textContent || "[]").map((a) => [a.id, a.name]));
  const parts = [el("h2", {}, "Propositions", el("small", { class: "muted" }, data.dry_run ? " · dry run: nothing counted or recorded" : ""))];
  for (const prop of data.propositions || []) {
    const explained = data.explain?.activities?.[prop.activity_id];
    parts.push(el("article", { class: "card proposition", "data-activity": prop.activity_id },
      el("h3", {}, names[prop.activity_id] || prop.activity_id),
      prop.items.length
        ? table(["Offer", "Score", "Fallback", "Representation"], prop.items.map((item) => [
          item.name, item.score === null ? "" : String(item.score), item.fallback ? "yes" : "no", JSON.stringify(item.representation)]))
        : el("p", { class: "muted" }, "Nothing proposed."),
      explained?.fates?.length ? el("div", {}, el("h4", {}, "What became of every candidate"),
        table(["Candidate", "Stage", "Reason"], explained.fates.map((f) => [f.name, f.stage, f.reason]))) : ""));
  }
  if (data.experiments?.length) parts.push(el("p", { class: "muted" }, `Experiments: ${data.experiments.map((e) => `${e.key} → ${e.variant}`).join(", ")}`));
  parts.push(el("details", {}, el("summary", {}, "Full response (JSON)"), el("pre", { class: "code" }, JSON.stringify(data, null, 2))));
  return parts;
}

const RENDERERS = { offers: renderOffers, decision: renderDecision };

async function runPlayground(form) {
  clearErrors(form);
  let body;
  try { body = formBody(form); } catch (exc) {
    if (exc instanceof FieldProblem) {
      const loc = exc.field === "*" ? [] : exc.field.split(".");
      showProblem(form, { detail: "Fix the field marked below.", errors: [{ loc, msg: exc.message }] });
      return;
    }
    throw exc;
  }
  if (form.querySelector("[data-journey-trip]")) {
    try { body = journeyBody(form, body); } catch (exc) {
      if (!(exc instanceof FieldProblem)) throw exc;
      showProblem(form, { detail: "Fix the slices.", errors: [{ loc: [exc.field], msg: exc.message }] });
      return;
    }
  }
  if (form.dataset.wrap) body = { [form.dataset.wrap]: body };
  const out = form.parentElement.querySelector("#result") || document.getElementById("result");
  status(form, "Running…", "busy");
  const result = await api("POST", form.dataset.run, body);
  if (!result.ok) { showProblem(form, result.data, result.status); out.replaceChildren(); return; }
  status(form, "", "");
  out.replaceChildren(...RENDERERS[form.dataset.render](result.data));
}

// ---- form editors made from the API's JSON schema (json-editor, shipped with the package) ----

function schemaForms() {
  if (typeof window.JSONEditor === "undefined") return;
  document.querySelectorAll("[data-schema-form]").forEach((host) => {
    const target = document.getElementById(host.dataset.schemaForm);
    const form = target.form;
    const jsonView = form.querySelector(".json-view");
    const editor = new window.JSONEditor(host, {
      schema: JSON.parse(document.getElementById(host.dataset.schema).textContent),
      startval: JSON.parse(document.getElementById(host.dataset.start).textContent),
      theme: "html",
      iconlib: null,
      disable_edit_json: true,
      disable_properties: true,
      disable_collapse: true,
      disable_array_delete_all_rows: true,
      disable_array_delete_last_row: true,
      show_opt_in: true,
      no_additional_properties: true,
      required_by_default: false,
      prompt_before_delete: false,
      show_errors: "never",
    });
    form.schemaEditor = editor;
    const sync = () => { target.value = JSON.stringify(editor.getValue(), null, 2); };
    editor.on("ready", () => { sync(); editor.on("change", () => { if (jsonView.hidden) sync(); }); });
    const buttons = form.querySelectorAll("[data-view]");
    const show = (view) => {
      if (view === "form") {
        let parsed;
        try { parsed = JSON.parse(target.value); } catch (exc) {
          showProblem(form, { detail: "The JSON does not parse; fix it before going back to the form.", errors: [{ loc: [], msg: exc.message }] });
          return;
        }
        editor.setValue(parsed);
      } else {
        sync();
      }
      host.hidden = view !== "form";
      jsonView.hidden = view === "form";
      buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === view)));
    };
    buttons.forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
    jsonView.hidden = true;
  });
}

// A form editor's document without the text fields left empty that no value could be empty
// for (a key, a name: a pattern or a minimum length): left out, the API names them as
// required instead of refusing "" against a pattern.
function withoutBlanks(value, schema) {
  if (Array.isArray(value)) return value.map((item) => withoutBlanks(item, schema?.items));
  if (!value || typeof value !== "object" || !schema?.properties) return value;
  const kept = {};
  for (const [key, item] of Object.entries(value)) {
    const field = schema.properties[key] || {};
    if (item === "" && (field.pattern || field.minLength > 0)) continue;
    kept[key] = withoutBlanks(item, field);
  }
  return kept;
}

// The label a form editor shows for a field at an error's path.
function schemaLabel(form, loc) {
  if (!form.schemaEditor || loc.length === 0) return "";
  const title = form.schemaEditor.getEditor(["root", ...loc].join("."))?.schema?.title;
  if (!title) return "";
  return loc.length === 1 ? title : `${title} (${loc.join(".")})`;
}

// An error's field in a form editor: json-editor names its inputs root[a][0][b].
function markSchemaField(form, loc) {
  if (!form.schemaEditor || loc.length === 0) return;
  const input = form.querySelector(`[name="${CSS.escape(`root[${loc.join("][")}]`)}"]`);
  if (!input) return;
  input.setAttribute("aria-invalid", "true");
  return input;
}

// ---- charts (Chart.js, shipped with the package) ----

function drawCharts() {
  if (typeof window.Chart === "undefined") return;
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const config = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
    config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
    canvas.chart = new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
  });
}

// ---- wiring ----

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-api]").forEach((form) => form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitApiForm(form);
  }));
  document.querySelectorAll("form[data-import-jobs]").forEach((form) => {
    form.addEventListener("submit", (event) => { event.preventDefault(); importJob(form); });
  });
  document.querySelectorAll("form[data-upload], form[data-upload-json]").forEach((form) => {
    form.addEventListener("submit", (event) => { event.preventDefault(); upload(form); });
    form.querySelector("[data-autosubmit]")?.addEventListener("change", () => upload(form));
  });
  document.querySelectorAll("form[data-simulate]").forEach((form) => form.addEventListener("submit", (event) => {
    event.preventDefault();
    simulate(form);
  }));
  document.querySelectorAll("form[data-run]").forEach((form) => form.addEventListener("submit", (event) => {
    event.preventDefault();
    runPlayground(form);
  }));
  document.querySelectorAll("[data-action]").forEach((button) => button.addEventListener("click", () => runAction(button)));
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => select.addEventListener("change", () => select.form.submit()));
  document.querySelectorAll("[data-toggle]").forEach((box) => box.addEventListener("change", async () => {
    const result = await api("PATCH", box.dataset.toggle, { is_active: box.checked, version: Number(box.dataset.version) });
    if (result.ok) box.dataset.version = result.data.version;
    else { box.checked = !box.checked; window.alert(result.data?.detail || "The change failed."); }
  }));
  document.querySelectorAll("[data-validate], [data-validate-condition]").forEach((input) => {
    const check = debounce(() => validateRule(input), 300);
    input.addEventListener("input", check);
    if (input.value.trim()) check();
  });
  document.querySelectorAll("[data-vocabulary-list]").forEach((details) => vocabularyList(details));
  document.querySelectorAll("[data-condition-builder]").forEach((host) => conditionBuilder(host));
  document.querySelectorAll("[data-adjustment-type]").forEach((select) => {
    const form = select.form;
    const show = () => {
      const kind = select.value;
      const visible = {
        "adjustments.value": kind !== "FORMULA",
        "adjustments.formula": kind === "MULTIPLIER" || kind === "FORMULA",
        "adjustments.min_multiplier": kind === "MULTIPLIER",
        "adjustments.max_multiplier": kind === "MULTIPLIER",
      };
      for (const [name, on] of Object.entries(visible)) {
        const input = form.querySelector(`[name="${name}"]`);
        input.disabled = !on;
        input.closest(".field").hidden = !on;
      }
    };
    select.addEventListener("change", show);
    show();
  });
  document.querySelectorAll("[data-route-picker]").forEach((select) => select.addEventListener("change", () => {
    const [origin, destination, date] = select.value.split("|");
    if (!origin) return;
    select.form.querySelector('[name="origin"]').value = origin;
    select.form.querySelector('[name="destination"]').value = destination;
    select.form.querySelector('[name="date"]').value = date;
  }));
  document.querySelectorAll("[data-rollout-slider]").forEach((slider) => slider.addEventListener("input", () => {
    const target = document.getElementById(slider.dataset.rolloutSlider);
    let doc;
    try { doc = JSON.parse(target.value); } catch { return; }
    doc.rollout = { ...(doc.rollout || {}), percentage: Number(slider.value) };
    target.value = JSON.stringify(doc, null, 2);
    document.getElementById("rollout-value").textContent = slider.value;
  }));
  document.querySelectorAll("[data-copy]").forEach((button) => button.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(button.dataset.copy); button.title = "Copied"; } catch {
      window.getSelection()?.selectAllChildren(button.nextElementSibling);
    }
  }));
  const toggle = document.querySelector(".menu-toggle");
  toggle?.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    document.getElementById("nav").classList.toggle("open", open);
  });
  if (window.location.hash === "#test") document.getElementById("t-product")?.focus();
  showFlash();
  focusableScrolls();
  window.addEventListener("resize", debounce(focusableScrolls, 200));
  drawCharts();
  schemaForms();
  // The flag slider moves rollout.percentage in the form editor too.
  document.querySelectorAll("[data-rollout-slider]").forEach((slider) => slider.addEventListener("change", () => {
    const editor = slider.form?.schemaEditor;
    const field = editor?.getEditor("root.rollout.percentage");
    if (field) { editor.getEditor("root.rollout")?.activate?.(); field.activate?.(); field.setValue(Number(slider.value)); }
  }));
});
