// The experiment editor (experiment_form.html): variants with their shares, the audience with
// the condition builder, primary and secondary metrics; and the sample-size calculator, whose
// figures the server computes (GET /admin/ab-tests/sample-size). Uses admin.js's helpers and
// editors.js's builder.
"use strict";

(() => {
  const form = document.getElementById("experiment-form");
  if (!form) return;
  const data = (id) => JSON.parse(document.getElementById(id).textContent);
  const doc = data("experiment-document");
  const OPS = data("experiment-operators");
  const KINDS = data("experiment-metric-kinds");
  const problems = {};
  const audience = { condition: doc.targeting, rows: data("experiment-audience-rows") };
  const weights = doc.variants.map((v) => Number(v.weight ?? 1));
  const weightTotal = weights.reduce((a, b) => a + b, 0) || 1;
  let given = 0;
  const variants = doc.variants.map((v, i) => {
    const percent = i === doc.variants.length - 1 ? Math.round((100 - given) * 100) / 100 : Math.round(weights[i] / weightTotal * 10000) / 100;
    given += percent;
    return { key: v.key, percent, config: v.config || {} };
  });
  const metrics = (doc.secondary_metrics || []).map((m) => ({ ...m }));
  const text = (name) => form.querySelector(`[name="${name}"]`).value;

  // ---- variants ----
  const variantHost = document.getElementById("experiment-variants");
  function total() { return variants.reduce((s, v) => s + (Number(v.percent) || 0), 0); }
  function drawTotal() {
    const sum = Math.round(total() * 100) / 100;
    const node = document.getElementById("variant-total");
    node.textContent = `Together ${sum} %${Math.abs(sum - 100) > 0.01 ? ": the shares must add up to 100" : ""}`;
    node.className = Math.abs(sum - 100) > 0.01 ? "error" : "muted";
  }
  function drawVariants() {
    variantHost.replaceChildren(...variants.map((v, i) => {
      const p = `variants.${i}`;
      const key = el("input", { id: `f-variants-${i}-key`, name: `${p}.key`, value: v.key, "aria-describedby": `e-variants-${i}-key`, autocomplete: "off" });
      key.addEventListener("input", () => { v.key = key.value; syncCalculator(); });
      const config = el("textarea", { id: `f-variants-${i}-config`, name: `${p}.config`, rows: "2", class: "code", spellcheck: "false", "aria-describedby": `e-variants-${i}-config` });
      config.value = JSON.stringify(v.config);
      config.addEventListener("input", () => {
        try { v.config = config.value.trim() ? JSON.parse(config.value) : {}; delete problems[`${p}.config`]; } catch (exc) { problems[`${p}.config`] = `not valid JSON: ${exc.message}`; }
      });
      const remove = el("button", { type: "button", class: "link danger", "aria-label": `Remove variant ${i + 1}`, disabled: variants.length <= 2 }, "Remove");
      remove.addEventListener("click", () => { variants.splice(i, 1); drawVariants(); syncCalculator(); document.getElementById("add-variant").focus(); });
      return el("div", { class: "variant-row" },
        el("div", { class: "field" }, el("label", { for: `f-variants-${i}-key` }, i === 0 ? "Control's key" : `Variant ${i + 1}'s key`), key, errorSlot(`${p}.key`)),
        el("div", { class: "field" }, el("label", { for: `f-variants-${i}-weight` }, "Share of the traffic"),
          sliderPair(`${p}.weight`, v.percent, `Share of variant ${i + 1} (%)`, (x) => { v.percent = x; drawTotal(); }), errorSlot(`${p}.weight`)),
        el("div", { class: "field" }, el("label", { for: `f-variants-${i}-config` }, "What it changes (JSON)"), config, errorSlot(`${p}.config`)),
        el("div", { class: "field" }, remove));
    }));
    drawTotal();
  }
  document.getElementById("add-variant").addEventListener("click", () => {
    const keys = ["control", "treatment", "b", "c", "d", "e", "f"];
    variants.push({ key: keys.find((k) => !variants.some((v) => v.key === k)) || `variant-${variants.length + 1}`, percent: 0, config: {} });
    drawVariants(); syncCalculator();
    variantHost.querySelector(".variant-row:last-child input").focus();
  });

  // ---- audience ----
  document.getElementById("audience").replaceChildren(conditionEditor({ holder: audience, where: "targeting", label: "the audience", ops: OPS, problems, onChange: () => {} }));

  // ---- secondary metrics ----
  const metricHost = document.getElementById("secondary-metrics");
  function drawMetrics() {
    metricHost.replaceChildren(...metrics.map((m, i) => {
      const p = `secondary_metrics.${i}`;
      const kind = el("select", { id: `f-${pathId(p)}-kind`, name: `${p}.kind`, "aria-label": `Kind of secondary metric ${i + 1}`, "aria-describedby": `e-${pathId(p)}-kind` },
        KINDS.map(([k, label]) => el("option", { value: k, selected: k === m.kind }, label)));
      const event = el("input", { id: `f-${pathId(p)}-event`, name: `${p}.event`, value: m.event || "", "aria-label": `Event of secondary metric ${i + 1}`, placeholder: "event, e.g. click", "aria-describedby": `e-${pathId(p)}-event` });
      const key = el("input", { id: `f-${pathId(p)}-key`, name: `${p}.key`, value: m.key || "", "aria-label": `Name of secondary metric ${i + 1} (optional)`, placeholder: "name (optional)", "aria-describedby": `e-${pathId(p)}-key` });
      const remove = el("button", { type: "button", class: "link danger", "aria-label": `Remove secondary metric ${i + 1}` }, "Remove");
      kind.addEventListener("change", () => { m.kind = kind.value; });
      event.addEventListener("input", () => { m.event = event.value; });
      key.addEventListener("input", () => { m.key = key.value; });
      remove.addEventListener("click", () => { metrics.splice(i, 1); drawMetrics(); document.getElementById("add-metric").focus(); });
      return el("div", { class: "builder-row metric-row" },
        el("div", {}, kind, errorSlot(`${p}.kind`)), el("div", {}, event, errorSlot(`${p}.event`)), el("div", {}, key, errorSlot(`${p}.key`)), remove);
    }));
  }
  document.getElementById("add-metric").addEventListener("click", () => {
    metrics.push({ kind: "revenue", event: "purchase", key: "" });
    drawMetrics();
    metricHost.querySelector(".metric-row:last-child select").focus();
  });

  // ---- sliders the page draws itself ----
  form.querySelectorAll("input[type=range][data-pair]").forEach((slider) => {
    const number = document.getElementById(slider.dataset.pair);
    slider.addEventListener("input", () => { number.value = slider.value; syncCalculator(); });
    number.addEventListener("input", () => { slider.value = number.value; syncCalculator(); });
  });

  // ---- the document ----
  const optional = (name) => text(name).trim() || null;
  function documentOf() {
    const namespace = optional("namespace.name")
      ? { name: text("namespace.name").trim(), start: Number(text("namespace.start") || "0"), end: Number(text("namespace.end") || "1") }
      : null;
    return {
      key: text("key").trim(),
      name: text("name"),
      hypothesis: optional("hypothesis"),
      unit: text("unit"),
      variants: variants.map((v) => ({ key: v.key, weight: Number(v.percent), config: v.config })),
      coverage: Number(text("coverage")) / 100,
      targeting: conditionValue(audience, OPS),
      namespace,
      primary_metric: { key: optional("primary_metric.key"), kind: text("primary_metric.kind"), event: text("primary_metric.event").trim() },
      secondary_metrics: metrics.map((m) => ({ key: (m.key || "").trim() || null, kind: m.kind, event: (m.event || "").trim() })),
      seed: doc.seed ?? null,
      hash_version: doc.hash_version ?? 2,
      minimum_effect: Number(text("minimum_effect")) / 100,
      start: optional("start"),
      end: optional("end"),
    };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const local = Object.entries(problems).map(([path, msg]) => ({ loc: path.split(".").map((p) => (/^\d+$/.test(p) ? Number(p) : p)), msg }));
    if (Math.abs(total() - 100) > 0.01) local.push({ loc: ["variants"], msg: `the shares add up to ${Math.round(total() * 100) / 100} %, not 100` });
    if (local.length) { showProblem(form, { detail: "Fix the fields marked below.", errors: local }, 422); return; }
    const body = documentOf();
    const version = document.getElementById("f-version");
    if (version) body.version = Number(version.value);
    const result = await api(form.dataset.method, form.dataset.experimentApi, body);
    if (!result.ok) { showProblem(form, result.data, result.status); return; }
    flashNext(`Saved: ${result.data.key}, version ${result.data.version}.`);
    window.location.assign(fill(form.dataset.next, result.data));
  });

  // ---- the sample-size calculator ----
  const calc = document.getElementById("calculator-form");
  const useEffect = document.getElementById("use-effect");
  const plural = (n, word) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
  async function calculate() {
    clearErrors(calc);
    const query = new URLSearchParams();
    for (const input of calc.querySelectorAll("[name]")) if (input.value.trim() !== "") query.set(input.name, input.value.trim());
    const result = await api("GET", `${calc.action}?${query}`);
    if (!result.ok) {
      const problem = { ...result.data, errors: (result.data?.errors || []).map((e) => ({ ...e, loc: (e.loc || []).filter((p) => p !== "query") })) };
      showProblem(calc, problem, result.status);
      return;
    }
    const p = result.data;
    document.getElementById("plan-per-variant").textContent = `${p.per_variant.toLocaleString("en-US")} units`;
    document.getElementById("plan-per-variant").dataset.value = String(p.per_variant);
    document.getElementById("plan-total").textContent = `${p.total.toLocaleString("en-US")} units`;
    document.getElementById("plan-days").textContent = p.days ? plural(p.days, "day") : "—";
    document.getElementById("plan-rates").textContent = `${p.baseline.toFixed(2)} % → ${p.treated.toFixed(2)} % at α ${Number(p.alpha_per_comparison.toPrecision(3))} % per comparison`;
    useEffect.hidden = calc.querySelector('[name="effect_kind"]').value !== "relative";
  }
  // The design's variants and coverage feed the calculator.
  function syncCalculator() {
    calc.querySelector('[name="variants"]').value = String(Math.max(variants.length, 2));
    calc.querySelector('[name="coverage"]').value = text("coverage");
    later();
  }
  const later = debounce(calculate, 300);
  calc.addEventListener("input", later);
  calc.addEventListener("submit", (event) => { event.preventDefault(); calculate(); });
  useEffect.addEventListener("click", () => {
    form.querySelector('[name="minimum_effect"]').value = calc.querySelector('[name="effect"]').value;
    form.querySelector('[name="minimum_effect"]').focus();
  });
  useEffect.hidden = calc.querySelector('[name="effect_kind"]').value !== "relative";

  drawVariants();
  drawMetrics();
})();
