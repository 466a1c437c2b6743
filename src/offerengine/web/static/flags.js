// The feature flag editor (flag_form.html): values typed by the flag's type, the variants
// table with its percentages, targeting rules with a condition builder, the rollout slider,
// and the "who gets what" preview, which the server computes with the engine's own code.
// Uses admin.js's helpers (api, el, showProblem, clearErrors, status, flashNext, fill, debounce)
// and editors.js's (typedText, conditionEditor, conditionValue, errorSlot, sliderPair).
"use strict";

(() => {
  const form = document.getElementById("flag-form");
  if (!form) return;
  const data = (id) => JSON.parse(document.getElementById(id).textContent);
  const doc = data("flag-document");
  const OPS = data("flag-operators");
  const RULE_TYPES = data("flag-rule-types");
  const EXPERIMENTS = data("flag-experiments");
  const DEFAULTS = { BOOLEAN: false, STRING: "", NUMBER: 0, PERCENTAGE: 0, JSON: {} };
  const typeSelect = form.querySelector('[name="type"]');

  // ---- state: the document being edited; inputs write into it as they change ----
  const rowsOf = data("flag-rule-rows");
  const state = {
    type: doc.type,
    value: doc.value,
    default_value: doc.default_value,
    variants: (doc.variants || []).map((v) => ({ ...v })),
    rules: (doc.rules || []).map((r, i) => ({ ...r, rows: rowsOf[i] ? rowsOf[i].map((x) => ({ ...x })) : null })),
    defaultVariant: "",
    problems: {}, // path -> message, for a value box that does not read as its type
  };
  const weights = state.variants.map((v) => Number(v.weight ?? 1));
  const weightTotal = weights.reduce((a, b) => a + b, 0) || 1;
  let given = 0;
  state.variants.forEach((v, i) => {
    v.percent = i === state.variants.length - 1 ? Math.round((100 - given) * 100) / 100 : Math.round(weights[i] / weightTotal * 10000) / 100;
    given += v.percent;
  });
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  state.defaultVariant = state.variants.find((v) => same(v.value, doc.default_value))?.key || "";

  // ---- typed values ----
  function coerce(value, type) {
    if (type === "BOOLEAN") return typeof value === "boolean" ? value : DEFAULTS.BOOLEAN;
    if (type === "STRING") return typeof value === "string" ? value : DEFAULTS.STRING;
    if (type === "NUMBER") return typeof value === "number" ? value : DEFAULTS.NUMBER;
    if (type === "PERCENTAGE") return typeof value === "number" && value >= 0 && value <= 100 ? value : DEFAULTS.PERCENTAGE;
    return value;
  }

  // An input for a value of the flag's type; `write` gets each value it reads.
  function valueInput(path, value, label, write) {
    const id = `f-${path.replaceAll(".", "-")}`;
    const common = { id, name: path, "aria-describedby": `e-${path.replaceAll(".", "-")}` };
    const labelled = label.startsWith("#") ? { "aria-labelledby": label.slice(1) } : { "aria-label": label };
    const type = state.type;
    let input;
    if (type === "BOOLEAN") {
      input = el("input", { ...common, ...labelled, type: "checkbox", checked: value === true });
      input.addEventListener("change", () => write(input.checked));
      const box = el("span", { class: "check-value" }, input, el("span", { class: "muted", "aria-hidden": "true" }, "true when ticked"));
      return box;
    }
    if (type === "NUMBER" || type === "PERCENTAGE") {
      input = el("input", { ...common, ...labelled, type: "number", step: "any", value: String(value ?? 0), min: type === "PERCENTAGE" ? "0" : null, max: type === "PERCENTAGE" ? "100" : null });
      input.addEventListener("input", () => {
        if (input.value.trim() === "" || Number.isNaN(Number(input.value))) { state.problems[path] = "enter a number"; return; }
        delete state.problems[path];
        write(Number(input.value));
      });
      return input;
    }
    if (type === "STRING") {
      input = el("input", { ...common, ...labelled, value: value ?? "" });
      input.addEventListener("input", () => write(input.value));
      return input;
    }
    input = el("textarea", { ...common, ...labelled, rows: "2", class: "code", spellcheck: "false" });
    input.value = JSON.stringify(value ?? {}, null, 0);
    input.addEventListener("input", () => {
      try { write(JSON.parse(input.value)); delete state.problems[path]; } catch (exc) { state.problems[path] = `not valid JSON: ${exc.message}`; }
    });
    return input;
  }

  // ---- the two values ----
  function drawValues() {
    for (const slot of form.querySelectorAll("[data-value-slot]")) {
      const name = slot.dataset.valueSlot;
      const fromVariant = name === "default_value" && state.defaultVariant;
      const input = valueInput(name, state[name], `#${slot.dataset.labelled}`, (v) => { state[name] = v; changed(); });
      if (fromVariant) input.querySelectorAll?.("input, textarea").forEach((i) => { i.disabled = true; });
      if (fromVariant && input.matches?.("input, textarea")) input.disabled = true;
      slot.replaceChildren(input);
    }
  }

  // ---- variants ----
  const variantBody = document.getElementById("variant-rows");
  function drawVariants() {
    variantBody.replaceChildren(...state.variants.map((v, i) => {
      const key = el("input", { id: `f-variants-${i}-key`, name: `variants.${i}.key`, value: v.key || "", "aria-label": `Key of variant ${i + 1}`, "aria-describedby": `e-variants-${i}-key`, placeholder: "e.g. control", autocomplete: "off" });
      key.addEventListener("input", () => { const was = v.key; v.key = key.value; if (state.defaultVariant === was) state.defaultVariant = v.key; drawDefaultVariant(); changed(); });
      const remove = el("button", { type: "button", class: "link danger", "aria-label": `Remove variant ${i + 1}` }, "Remove");
      remove.addEventListener("click", () => {
        if (state.defaultVariant === v.key) state.defaultVariant = "";
        state.variants.splice(i, 1); drawVariants(); drawDefaultVariant(); changed();
        (variantBody.querySelector("tr:last-child input") || document.getElementById("add-variant")).focus();
      });
      return el("tr", {},
        el("td", {}, key, errorSlot(`variants.${i}.key`)),
        el("td", {}, valueInput(`variants.${i}.value`, v.value, `Value of variant ${i + 1}`, (x) => { v.value = x; if (state.defaultVariant === v.key) state.default_value = x; changed(); }), errorSlot(`variants.${i}.value`)),
        el("td", {}, sliderPair(`variants.${i}.weight`, v.percent, `Share of variant ${i + 1} (%)`, (x) => { v.percent = x; drawTotal(); changed(); }), errorSlot(`variants.${i}.weight`)),
        el("td", {}, remove));
    }));
    drawTotal();
    focusableScrolls();
  }

  function variantTotal() { return state.variants.reduce((sum, v) => sum + (Number(v.percent) || 0), 0); }

  function drawTotal() {
    const total = Math.round(variantTotal() * 100) / 100;
    const node = document.getElementById("variant-total");
    node.textContent = state.variants.length ? `Together ${total} %${Math.abs(total - 100) > 0.01 ? ": the shares must add up to 100" : ""}` : "No variant: the flag serves its two values.";
    node.className = state.variants.length && Math.abs(total - 100) > 0.01 ? "error" : "muted";
  }

  const defaultSelect = document.getElementById("f-default-variant");
  function drawDefaultVariant() {
    defaultSelect.replaceChildren(el("option", { value: "" }, "none: the default value above"),
      ...state.variants.filter((v) => v.key).map((v) => el("option", { value: v.key, selected: v.key === state.defaultVariant }, v.key)));
    defaultSelect.closest(".field").hidden = state.variants.length === 0;
  }
  defaultSelect.addEventListener("change", () => {
    state.defaultVariant = defaultSelect.value;
    const chosen = state.variants.find((v) => v.key === state.defaultVariant);
    if (chosen) state.default_value = chosen.value;
    drawValues(); changed();
  });

  document.getElementById("add-variant").addEventListener("click", () => {
    const n = state.variants.length;
    const keys = ["control", "treatment", "b", "c", "d", "e"];
    const key = keys.find((k) => !state.variants.some((v) => v.key === k)) || `variant-${n + 1}`;
    const percent = n === 0 ? 100 : 0;
    state.variants.push({ key, value: state.type === "BOOLEAN" ? n === 0 : DEFAULTS[state.type], percent });
    drawVariants(); drawDefaultVariant(); changed();
    variantBody.querySelector("tr:last-child input").focus();
  });

  // ---- rules ----
  const rulesHost = document.getElementById("rules");
  const ruleTypeLabel = Object.fromEntries(RULE_TYPES);

  function drawRules() {
    rulesHost.replaceChildren(...state.rules.map((rule, i) => {
      const p = `rules.${i}`;
      const id = el("input", { id: `f-rules-${i}-id`, name: `${p}.id`, value: rule.id || "", "aria-describedby": `e-rules-${i}-id`, autocomplete: "off" });
      id.addEventListener("input", () => { rule.id = id.value; changed(); });
      const type = el("select", { id: `f-rules-${i}-type`, name: `${p}.type`, "aria-describedby": `e-rules-${i}-type` },
        RULE_TYPES.map(([t, label]) => el("option", { value: t, selected: t === rule.type }, label)));
      type.addEventListener("change", () => { rule.type = type.value; drawRules(); changed(); });
      const description = el("input", { id: `f-rules-${i}-description`, name: `${p}.description`, value: rule.description || "" });
      description.addEventListener("input", () => { rule.description = description.value; changed(); });
      const serves = [];
      if (rule.type === "force" || rule.type === "rollout") {
        rule.value = coerce(rule.value, state.type);
        serves.push(el("div", { class: "field" }, el("span", { class: "label", id: `l-${p}-value` }, "Serves"),
          valueInput(`${p}.value`, rule.value, `#l-${p}-value`, (x) => { rule.value = x; changed(); }), errorSlot(`${p}.value`)));
      }
      if (rule.type === "rollout") {
        rule.percentage ??= 100;
        serves.push(el("div", { class: "field" }, el("label", { for: `f-rules-${i}-percentage` }, "To this share of the users who match"),
          sliderPair(`${p}.percentage`, rule.percentage, `Share of rule ${i + 1} (%)`, (x) => { rule.percentage = x; changed(); }), errorSlot(`${p}.percentage`)));
      }
      if (rule.type === "split") {
        const coverage = Math.round((rule.coverage ?? 1) * 10000) / 100;
        serves.push(el("div", { class: "field" }, el("label", { for: `f-rules-${i}-coverage` }, "Share of the users who match that enter the split"),
          sliderPair(`${p}.coverage`, coverage, `Coverage of rule ${i + 1} (%)`, (x) => { rule.coverage = x / 100; changed(); }), errorSlot(`${p}.coverage`)));
      }
      if (rule.type === "experiment") {
        const pick = el("select", { id: `f-rules-${i}-experiment_key`, name: `${p}.experiment_key`, "aria-describedby": `e-rules-${i}-experiment_key` },
          el("option", { value: "" }, "choose an experiment…"),
          [...new Set([...EXPERIMENTS, rule.experiment_key].filter(Boolean))].map((k) => el("option", { value: k, selected: k === rule.experiment_key }, k)));
        pick.addEventListener("change", () => { rule.experiment_key = pick.value; changed(); });
        serves.push(el("div", { class: "field" }, el("label", { for: `f-rules-${i}-experiment_key` }, "Experiment (its variants need flag variants of the same keys)"), pick, errorSlot(`${p}.experiment_key`)));
      }
      const move = (to) => { const [r] = state.rules.splice(i, 1); state.rules.splice(to, 0, r); drawRules(); changed(); };
      const up = el("button", { type: "button", class: "link", "aria-label": `Move rule ${i + 1} up`, disabled: i === 0 }, "Up");
      const down = el("button", { type: "button", class: "link", "aria-label": `Move rule ${i + 1} down`, disabled: i === state.rules.length - 1 }, "Down");
      const remove = el("button", { type: "button", class: "link danger", "aria-label": `Remove rule ${i + 1}` }, "Remove");
      up.addEventListener("click", () => move(i - 1));
      down.addEventListener("click", () => move(i + 1));
      remove.addEventListener("click", () => { state.rules.splice(i, 1); drawRules(); changed(); document.getElementById("add-rule").focus(); });
      return el("fieldset", { class: "rule", "data-rule": String(i) },
        el("legend", {}, `Rule ${i + 1}: ${ruleTypeLabel[rule.type] || rule.type}`),
        el("div", { class: "grid" },
          el("div", { class: "field" }, el("label", { for: `f-rules-${i}-id` }, "Rule id"), id, errorSlot(`${p}.id`)),
          el("div", { class: "field" }, el("label", { for: `f-rules-${i}-type` }, "What it does"), type, errorSlot(`${p}.type`)),
          el("div", { class: "field" }, el("label", { for: `f-rules-${i}-description` }, "Description"), description, errorSlot(`${p}.description`))),
        el("h3", {}, "When"),
        conditionEditor({ holder: rule, where: `rules.${i}.condition`, label: `rule ${i + 1}`, ops: OPS, problems: state.problems, onChange: changed }),
        ...serves,
        el("div", { class: "actions" }, up, down, remove));
    }));
  }

  document.getElementById("add-rule").addEventListener("click", () => {
    const ids = new Set(state.rules.map((r) => r.id));
    let n = state.rules.length + 1;
    while (ids.has(`rule-${n}`)) n += 1;
    state.rules.push({ id: `rule-${n}`, type: "force", condition: null, value: coerce(state.value, state.type), rows: [] });
    drawRules(); changed();
    rulesHost.querySelector(".rule:last-child input").focus();
  });

  // ---- rollout ----
  const rolloutOn = document.getElementById("f-rollout-on");
  rolloutOn.addEventListener("change", () => { document.getElementById("rollout-fields").hidden = !rolloutOn.checked; changed(); });
  form.querySelectorAll("input[type=range][data-pair]").forEach((slider) => {
    const number = document.getElementById(slider.dataset.pair);
    slider.addEventListener("input", () => { number.value = slider.value; changed(); });
    number.addEventListener("input", () => { slider.value = number.value; });
  });

  // ---- the type: every value box follows it ----
  typeSelect.addEventListener("change", () => {
    state.type = typeSelect.value;
    state.value = coerce(state.value, state.type);
    state.default_value = coerce(state.default_value, state.type);
    state.variants.forEach((v) => { v.value = coerce(v.value, state.type); });
    state.rules.forEach((r) => { if ("value" in r) r.value = coerce(r.value, state.type); });
    state.problems = {};
    drawValues(); drawVariants(); drawRules(); changed();
  });

  // ---- the document ----
  const text = (name) => form.querySelector(`[name="${name}"]`).value;
  const list = (name) => text(name).split(",").map((s) => s.trim()).filter(Boolean);

  function documentOf() {
    const rules = state.rules.map((rule) => {
      const out = { type: rule.type, id: rule.id, condition: conditionValue(rule, OPS) };
      if (rule.description) out.description = rule.description;
      if (rule.type === "force" || rule.type === "rollout") out.value = rule.value;
      if (rule.type === "rollout") out.percentage = Number(rule.percentage);
      if (rule.type === "split") out.coverage = Number(rule.coverage ?? 1);
      if (rule.type === "experiment") out.experiment_key = rule.experiment_key || "";
      for (const kept of ["hash_attribute", "seed", "hash_version"]) {
        if (rule.type !== "force" && rule.type !== "experiment" && rule[kept] !== undefined && rule[kept] !== null) out[kept] = rule[kept];
      }
      return out;
    });
    let rollout = null;
    if (rolloutOn.checked) {
      rollout = { ...(doc.rollout || {}), percentage: Number(text("rollout.percentage")), user_segments: list("rollout.user_segments"), regions: list("rollout.regions") };
      rollout.start = text("rollout.start").trim() || null;
      rollout.end = text("rollout.end").trim() || null;
    }
    const chosen = state.variants.find((v) => v.key === state.defaultVariant);
    return {
      key: text("key").trim(),
      name: text("name"),
      description: text("description").trim() || null,
      type: state.type,
      value: state.value,
      default_value: chosen ? chosen.value : state.default_value,
      is_enabled: form.querySelector('[name="is_enabled"]').checked,
      rollout,
      rules,
      variants: state.variants.map((v) => ({ key: v.key, value: v.value, weight: Number(v.percent) })),
      tags: list("tags"),
    };
  }

  // Problems the browser sees before asking: a value box that does not read, shares not 100.
  function localProblems() {
    const errors = Object.entries(state.problems).map(([path, msg]) => ({ loc: path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)), msg }));
    const total = variantTotal();
    if (state.variants.length && Math.abs(total - 100) > 0.01) errors.push({ loc: ["variants"], msg: `the shares add up to ${Math.round(total * 100) / 100} %, not 100` });
    return errors;
  }

  // An answer's errors about the flag at its fields: the preview names them under "flag", and
  // the schema names a rule's field after its type (rules.0.force.id: the field is rules.0.id).
  const RULE_TAGS = new Set(RULE_TYPES.map(([t]) => t));
  function flagProblem(problem) {
    const errors = (problem?.errors || []).map((e) => {
      let loc = (e.loc || []).filter((p) => p !== "body");
      if (loc[0] === "flag") loc = loc.slice(1);
      if (loc[0] === "rules" && RULE_TAGS.has(loc[2])) loc = [...loc.slice(0, 2), ...loc.slice(3)];
      return { ...e, loc };
    });
    return { ...problem, errors };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const local = localProblems();
    if (local.length) { showProblem(form, { detail: "Fix the fields marked below.", errors: local }, 422); return; }
    const body = documentOf();
    const version = document.getElementById("f-version");
    if (version) body.version = Number(version.value);
    const result = await api(form.dataset.method, form.dataset.flagApi, body);
    if (!result.ok) { showProblem(form, flagProblem(result.data), result.status); return; }
    flashNext(`Saved: ${result.data.key}, version ${result.data.version}.`);
    window.location.assign(fill(form.dataset.next, result.data));
  });

  // ---- who gets what ----
  const previewForm = document.getElementById("preview-form");
  const out = document.getElementById("preview-result");

  function sample() {
    const size = Number(previewForm.querySelector('[name="size"]').value || "1000");
    const attributes = {};
    const lines = previewForm.querySelector('[name="attributes"]').value.split("\n");
    lines.forEach((line, n) => {
      if (!line.trim()) return;
      const at = line.indexOf("=");
      if (at < 1) throw new FieldProblem("sample.attributes", `line ${n + 1}: write name = value`);
      attributes[line.slice(0, at).trim()] = typedText(line.slice(at + 1));
    });
    const given = previewForm.querySelector('[name="contexts"]').value.split("\n").filter((l) => l.trim());
    const contexts = given.map((line, n) => {
      try { return JSON.parse(line); } catch (exc) { throw new FieldProblem("sample.contexts", `line ${n + 1}: not valid JSON: ${exc.message}`); }
    });
    const out_ = { size, id_prefix: previewForm.querySelector('[name="id_prefix"]').value, attributes };
    if (contexts.length) out_.contexts = contexts;
    return out_;
  }

  let asked = 0;
  async function preview() {
    const mine = ++asked;
    clearErrors(previewForm);
    let body;
    try { body = { flag: documentOf(), sample: sample() }; } catch (exc) {
      if (!(exc instanceof FieldProblem)) throw exc;
      showProblem(previewForm, { detail: "Fix the sample.", errors: [{ loc: exc.field.split("."), msg: exc.message }] }, 422);
      return;
    }
    if (Object.keys(state.problems).length) {
      status(previewForm, "Fix the flag's marked fields to preview it.", "error");
      return;
    }
    status(previewForm, "Evaluating…", "busy");
    const result = await api("POST", form.dataset.preview, body);
    if (mine !== asked) return; // a newer preview is on its way
    if (!result.ok) {
      const problem = flagProblem(result.data);
      const aboutFlag = problem.errors.filter((e) => !["sample"].includes(e.loc[0]));
      if (aboutFlag.length) { clearErrors(form); showProblem(form, { ...problem, errors: aboutFlag }, result.status); }
      showProblem(previewForm, { ...problem, detail: aboutFlag.length ? "The flag has a problem (marked in the form): fix it to preview." : problem.detail, errors: problem.errors.filter((e) => e.loc[0] === "sample") }, result.status);
      out.replaceChildren();
      return;
    }
    status(previewForm, "", "");
    clearErrors(form);
    drawPreview(result.data);
  }

  function drawPreview(found) {
    const rows = found.served.map((s) => el("tr", { "data-served": s.label },
      el("th", { scope: "row" }, s.label, el("br"), el("code", {}, JSON.stringify(s.value))),
      el("td", { class: "num", "data-count": String(s.count) }, s.count.toLocaleString("en-US")),
      el("td", { class: "share" }, el("span", { class: "bar", style: `width: ${Math.round(s.share * 100)}%` }), ` ${(s.share * 100).toFixed(1)} %`),
      el("td", { class: "small" }, Object.entries(s.reasons).map(([why, n]) => `${why}: ${n}`).join("; "))));
    out.replaceChildren(
      el("div", { class: "table-scroll" }, el("table", { id: "preview-table" },
        el("caption", {}, `${found.total.toLocaleString("en-US")} users`),
        el("thead", {}, el("tr", {}, ["Served", "Users", "Share", "Why"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows))));
    focusableScrolls(); // a frame that scrolls takes the keyboard's focus (admin.js)
  }

  const later = debounce(preview, 400);
  function changed() { later(); }
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  previewForm.addEventListener("input", later);
  previewForm.addEventListener("submit", (event) => { event.preventDefault(); preview(); });

  drawValues();
  drawVariants();
  drawDefaultVariant();
  drawRules();
  preview();
})();
