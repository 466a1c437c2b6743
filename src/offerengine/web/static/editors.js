// What the purpose-built editors share (flags.js, experiments.js): a value box's text read
// as a JSON value, the targeting condition builder (rows of attribute, operator and value that
// must all hold, written as a GrowthBook condition; a condition it cannot show stays JSON), an
// error slot for a field the script draws, and a percentage's number field with its slider.
"use strict";

// A value box's text: a JSON number, true, false or null, or a JSON string in quotes, as that;
// anything else as the text itself (the server's flag_forms.typed reads it the same way).
function typedText(text) {
  const value = text.trim();
  if (["true", "false", "null"].includes(value) || /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(value)) return JSON.parse(value);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try { return JSON.parse(value); } catch { return value; }
  }
  return value;
}

function pathId(path) { return path.replaceAll(".", "-"); }

function errorSlot(path) {
  return el("small", { id: `e-${pathId(path)}`, class: "field-error", "data-error-for": path });
}

// A percentage: its number field (named `path`, for errors) and a slider right beside it.
function sliderPair(path, value, label, write, max = 100) {
  const number = el("input", { id: `f-${pathId(path)}`, name: path, type: "number", min: "0", max: String(max), step: "any", value: String(value), "aria-label": label, "aria-describedby": `e-${pathId(path)}`, class: "percent" });
  const slider = el("input", { type: "range", min: "0", max: String(max), step: "1", value: String(value), "aria-label": `${label}, slider`, tabindex: "-1" });
  number.addEventListener("input", () => { slider.value = number.value; write(Number(number.value)); });
  slider.addEventListener("input", () => { number.value = slider.value; write(Number(slider.value)); });
  return el("div", { class: "slider-pair" }, number, slider, el("span", { "aria-hidden": "true" }, "%"));
}

function argOf(ops, op, text) {
  const kind = ops.find((o) => o.op === op)?.arg || "value";
  if (kind === "list") return text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(typedText);
  if (kind === "bool") return text.trim() !== "false";
  if (kind === "number") return Number(text);
  if (kind === "text") return text;
  return typedText(text);
}

// Rows that must all hold, as a condition: one object when each attribute and operator comes
// once, {$and: [...]} otherwise; null when there is no row (everyone).
function conditionOf(rows, ops) {
  const tests = rows.filter((r) => r.attribute.trim()).map((r) => [r.attribute.trim(), r.operator, argOf(ops, r.operator, r.value)]);
  if (tests.length === 0) return null;
  const one = ([a, o, v]) => (o === "$eq" ? { [a]: v } : { [a]: { [o]: v } });
  const keys = tests.map(([a, o]) => `${a} ${o}`);
  const repeated = keys.length !== new Set(keys).size
    || tests.some(([a, o]) => o === "$eq" && tests.some(([b, p]) => b === a && p !== "$eq"));
  if (repeated) return { $and: tests.map(one) };
  const out = {};
  for (const [a, o, v] of tests) {
    if (o === "$eq") out[a] = v;
    else out[a] = { ...(out[a] || {}), [o]: v };
  }
  return out;
}

// The condition a holder ({rows, condition}) stands for: its rows', or its JSON's.
function conditionValue(holder, ops) {
  return holder.rows === null ? holder.condition : conditionOf(holder.rows, ops);
}

// The builder of `holder`'s condition: rows (holder.rows) or, when the server could not show
// the condition as rows (rows null), its JSON. `problems` collects JSON that does not parse.
function conditionEditor({ holder, where, label, ops, problems, onChange }) {
  const host = el("div", { class: "condition" });
  if (holder.rows === null) {
    const text = el("textarea", { id: `f-${pathId(where)}`, name: where, rows: "4", class: "code", spellcheck: "false", "aria-label": `Condition of ${label} (JSON)`, "aria-describedby": `e-${pathId(where)}` });
    text.value = JSON.stringify(holder.condition, null, 2);
    text.addEventListener("input", () => {
      try { holder.condition = text.value.trim() ? JSON.parse(text.value) : null; delete problems[where]; } catch (exc) { problems[where] = `not valid JSON: ${exc.message}`; }
      onChange();
    });
    host.append(el("p", { class: "help" }, "This condition uses forms the builder does not show ($or, $not, nested objects): edit it as JSON (GrowthBook's condition language)."), text, errorSlot(where));
    return host;
  }
  const list = el("div", { class: "builder-rows" });
  const note = el("p", { class: "help" });
  const add = el("button", { type: "button", class: "secondary" }, "Add a condition");
  const draw = () => {
    note.textContent = holder.rows.length ? "All of these must hold:" : "No condition: everyone. Add one to target some.";
    list.replaceChildren(...holder.rows.map((row, j) => {
      const n = `${j + 1} of ${label}`;
      const attribute = el("input", { value: row.attribute, list: "condition-attributes", "aria-label": `Attribute of condition ${n}`, placeholder: "attribute, e.g. segment", autocomplete: "off" });
      const op = el("select", { "aria-label": `Operator of condition ${n}` }, ops.map((o) => el("option", { value: o.op, selected: o.op === row.operator }, o.label)));
      const value = el("input", { value: row.value, "aria-label": `Value of condition ${n}`, placeholder: "value; a list: a, b" });
      const remove = el("button", { type: "button", class: "link danger", "aria-label": `Remove condition ${n}` }, "Remove");
      attribute.addEventListener("input", () => { row.attribute = attribute.value; onChange(); });
      op.addEventListener("change", () => { row.operator = op.value; onChange(); });
      value.addEventListener("input", () => { row.value = value.value; onChange(); });
      remove.addEventListener("click", () => { holder.rows.splice(j, 1); draw(); onChange(); add.focus(); });
      return el("div", { class: "builder-row" }, attribute, op, value, remove);
    }));
  };
  add.addEventListener("click", () => {
    holder.rows.push({ attribute: "", operator: "$eq", value: "" });
    draw();
    list.querySelector(".builder-row:last-child input").focus();
  });
  draw();
  host.append(note, list, add, errorSlot(where));
  return host;
}
