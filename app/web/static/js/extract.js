// Extract: a ready document and a schema (a named one from GET /v1/schemas, or a pasted JSON
// Schema) go to POST /v1/extract; the result is shown as a form whose every value carries
// its evidence (quote and page) or is flagged as found nowhere in the document.

import { api } from "./api.js";
import { $, fill, formatCost, h } from "./dom.js";
import { openPage } from "./pageview.js";

const CUSTOM = "__custom__";
let schemas = [];
let counter = 0;

/** (path, value) of every leaf, with the paths the evidence uses: `a.b`, `items[0].price`. */
function leaves(data, path = "") {
  if (Array.isArray(data)) {
    return data.length ? data.flatMap((v, i) => leaves(v, `${path}[${i}]`)) : [[path, []]];
  }
  if (data && typeof data === "object") {
    return Object.entries(data).flatMap(([k, v]) => leaves(v, path ? `${path}.${k}` : k));
  }
  return [[path, data]];
}

function shown(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return "(none)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function evidenceOf(documentId, path, value, evidence) {
  if (value === null || value === undefined) {
    return h("p", { class: "evidence muted" }, "Not stated: the model found no value.");
  }
  if (typeof value === "boolean" || Array.isArray(value)) {
    return h("p", { class: "evidence muted" }, "Not checked: a yes/no or empty value has no quote.");
  }
  if (!evidence || !evidence.found) {
    return h("p", { class: "evidence flag" }, h("strong", {}, "Not found in the document"),
      ": this value may be invented or misread.");
  }
  return h("p", { class: "evidence" }, h("q", {}, evidence.quote), ` — page ${evidence.page} `,
    h("button", { type: "button", class: "quiet", "aria-label": `Open page ${evidence.page} for ${path}`,
      onclick: () => openPage({ documentId, page: evidence.page, passage: evidence.quote }) },
    "Open page"));
}

function field(documentId, path, value, evidence) {
  counter += 1;
  const id = `extract-field-${counter}`;
  const flagged = value !== null && value !== undefined && typeof value !== "boolean"
    && !Array.isArray(value) && !(evidence && evidence.found);
  return h("div", { class: `field${flagged ? " flagged" : ""}`, dataset: { path } },
    h("label", { for: id }, path), h("input", { id, readonly: true, value: shown(value) }),
    evidenceOf(documentId, path, value, evidence));
}

function renderResult(documentId, result) {
  const rows = leaves(result.data);
  const flagged = rows.filter(([path, value]) => value !== null && typeof value !== "boolean"
    && !Array.isArray(value) && !(result.evidence[path] && result.evidence[path].found)).length;
  const usage = result.usage || {};
  fill($("#extract-result"),
    h("h2", {}, `Result: ${result.schema}`),
    h("p", {}, h("span", { class: `badge ${result.valid ? "ready" : "failed"}` },
      result.valid ? "Valid" : "Not valid for the schema"),
    flagged ? h("span", { class: "badge failed" }, `${flagged} value(s) not found in the document`)
      : h("span", { class: "badge ready" }, "Every value found in the document")),
    result.errors && result.errors.length ? h("ul", { class: "alert error" },
      result.errors.map((e) => h("li", {}, typeof e === "string" ? e : `${e.path || ""} ${e.message || JSON.stringify(e)}`))) : null,
    h("form", { class: "result-form", onsubmit: (event) => event.preventDefault() },
      rows.map(([path, value]) => field(documentId, path, value, result.evidence[path]))),
    h("p", { class: "smallprint" }, [`model ${result.model} (${result.provider})`,
      `${result.attempts} attempt(s)`, `pages read: ${result.pages.join(", ")}`,
      `${usage.input_tokens ?? 0} tokens in, ${usage.output_tokens ?? 0} out`,
      `cost ${formatCost(usage.cost_usd)}`].join(" · ")));
}

function describeSchema() {
  const name = $("#extract-schema").value;
  const custom = name === CUSTOM;
  $("#extract-custom-label").hidden = !custom;
  const schema = schemas.find((s) => s.name === name);
  const fields = schema ? Object.keys(schema.json_schema.properties || {}) : [];
  const listed = schema && fields.every((f) => schema.description.includes(f));
  $("#extract-schema-fields").textContent = !schema
    ? "Paste a JSON Schema of an object (type, properties, required, items, enum)."
    : listed ? schema.description : `${schema.description} Fields: ${fields.join(", ")}.`;
}

async function run(event) {
  event.preventDefault();
  const error = $("#extract-error");
  error.hidden = true;
  const documentId = $("#extract-document").value;
  let schema = $("#extract-schema").value;
  if (schema === CUSTOM) {
    try {
      schema = JSON.parse($("#extract-custom").value);
    } catch {
      error.textContent = "The JSON Schema is not valid JSON.";
      error.hidden = false;
      return;
    }
  }
  const button = $("#extract-run");
  button.disabled = true;
  button.textContent = "Extracting…";
  fill($("#extract-result"));
  try {
    const result = await api("/v1/extract", { method: "POST",
      json: { schema, document_id: documentId, accept_invalid: true } });
    renderResult(documentId, result);
  } catch (failure) {
    const title = failure.status === 503 ? "No model can extract"
      : failure.status === 402 ? "Over budget" : "Extraction failed";
    fill(error, h("strong", {}, `${title}: `), failure.message);
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Extract";
  }
}

export function init() {
  $("#extract-form").addEventListener("submit", run);
  $("#extract-schema").addEventListener("change", describeSchema);
}

export async function show() {
  const [docs, named] = await Promise.all([api("/v1/documents?status=ready&limit=1000"),
    schemas.length ? { schemas } : api("/v1/schemas")]);
  schemas = named.schemas;
  const select = $("#extract-document");
  const chosen = select.value;
  fill(select, docs.items.length ? docs.items.map((d) => h("option", { value: d.id,
    selected: d.id === chosen }, `${d.filename} (${d.collection})`))
    : h("option", { value: "" }, "No ready documents: upload one first"));
  const schemaSelect = $("#extract-schema");
  const schemaChosen = schemaSelect.value;
  fill(schemaSelect, schemas.map((s) => h("option", { value: s.name, selected: s.name === schemaChosen },
    s.name)), h("option", { value: CUSTOM, selected: schemaChosen === CUSTOM }, "Custom JSON Schema…"));
  describeSchema();
}
