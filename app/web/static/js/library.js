// Library: the tenant's documents with filters; a document's pages (text layer or OCR,
// confidence, cleaned and raw text) and chunks (sections, pages); deleting with confirmation.

import { api } from "./api.js";
import { $, announce, fill, formatBytes, formatDate, h, pageLabel } from "./dom.js";
import { hasPageImages, openPage } from "./pageview.js";

const STATUS = { processing: "Processing", ready: "Ready", failed: "Failed" };
// A cancelled job leaves its document failed, with the error `cancelled`.
let pendingOpen = null;

function cell(label, ...content) {
  return h("td", { "data-label": label }, ...content);
}

function row(doc) {
  return h("tr", { dataset: { id: doc.id, status: doc.status } },
    cell("Document", h("button", { type: "button", class: "link", onclick: () => openDetail(doc.id) },
      doc.filename)),
    cell("Status", h("span", { class: `badge ${doc.status}` }, STATUS[doc.status] || doc.status)),
    cell("Pages", doc.page_count ?? "–"), cell("Chunks", doc.chunk_count ?? "–"),
    cell("Collection", doc.collection), cell("Size", formatBytes(doc.size_bytes)),
    cell("Added", formatDate(doc.created_at)),
    cell("Actions", h("button", { type: "button", class: "danger quiet",
      "aria-label": `Delete ${doc.filename}`, onclick: () => remove(doc) }, "Delete")));
}

async function refreshCollections() {
  const collections = await api("/v1/collections");
  const select = $("#library-collection");
  const chosen = select.value;
  fill(select, h("option", { value: "" }, "All collections"),
    collections.items.map((c) => h("option", { value: c.name, selected: c.name === chosen },
      `${c.name} (${c.documents})`)));
}

/** Reload the list with the chosen filters. */
export async function refresh() {
  await refreshCollections();
  const params = new URLSearchParams({ limit: "200" });
  const collection = $("#library-collection").value;
  const status = $("#library-status").value;
  if (collection) params.set("collection", collection);
  if (status) params.set("status", status);
  const listed = await api(`/v1/documents?${params}`);
  fill($("#library-table tbody"), listed.items.map(row));
  $("#library-count").textContent = listed.total
    ? `${listed.total} document(s)${listed.total > listed.items.length ? `, the newest ${listed.items.length} shown` : ""}`
    : "No documents yet: upload some in Upload.";
}

function confirmDelete(doc) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = `Delete ${doc.filename}?`;
  $("#confirm-text").textContent = "The document, its pages, chunks and jobs are removed. "
    + "Answers can no longer cite it. This cannot be undone.";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

async function remove(doc) {
  if (!(await confirmDelete(doc))) return;
  try {
    await api(`/v1/documents/${doc.id}`, { method: "DELETE" });
  } catch (error) {
    announce(`Could not delete ${doc.filename}: ${error.message}`);
    return;
  }
  announce(`Deleted ${doc.filename}.`);
  closeDetail();
  await refresh();
}

function pageCard(doc, page) {
  const badges = [h("span", { class: "badge" }, page.method === "ocr" ? "OCR" : "Text layer")];
  if (page.ocr_confidence !== null) {
    badges.push(h("span", { class: "badge" }, `OCR confidence ${Math.round(page.ocr_confidence)}%`));
  }
  if (page.cleanup && page.cleanup !== "none") {
    const reason = page.cleanup_reason ? ` (${page.cleanup_reason})` : "";
    badges.push(h("span", { class: "badge" }, `cleanup ${page.cleanup}${reason}`));
  }
  if (page.error) badges.push(h("span", { class: "badge failed" }, page.error.message));
  const view = hasPageImages(doc.kind) ? h("button", { type: "button", class: "quiet",
    onclick: () => openPage({ documentId: doc.id, page: page.page_no }) }, "View page") : null;
  const same = page.raw_text === page.text;
  return h("article", { class: "page-card", dataset: { page: page.page_no } },
    h("div", { class: "row" }, h("h3", {}, `Page ${page.page_no}`), badges,
      h("span", { class: "grow" }), view),
    h("details", { open: true }, h("summary", {}, same ? "Text (raw and cleaned are the same)"
      : "Cleaned text"), h("pre", { class: "page-text", tabindex: "0" }, page.text || "(no text)")),
    same ? null : h("details", {}, h("summary", {}, "Raw text, as read"),
      h("pre", { class: "page-text", tabindex: "0" }, page.raw_text || "(no text)")));
}

function chunkCard(chunk) {
  const path = chunk.section_path.length ? chunk.section_path.join(" › ") : "(no section)";
  return h("article", { class: "chunk-card" },
    h("p", { class: "smallprint" }, `#${chunk.ordinal + 1} · ${path} · `
      + `${pageLabel(chunk.page_start, chunk.page_end)} · ${chunk.token_count} tokens`),
    h("p", { class: "chunk-text" }, chunk.text));
}

function summary(doc) {
  const log = doc.processing_log;
  const facts = [`${doc.kind.toUpperCase()}`, formatBytes(doc.size_bytes), `collection ${doc.collection}`,
    `added ${formatDate(doc.created_at)}`];
  if (log) {
    facts.push(`${log.pages.text} page(s) from the text layer, ${log.pages.ocr} by OCR`);
    if (log.ocr_mean_confidence !== null) facts.push(`mean OCR confidence ${Math.round(log.ocr_mean_confidence)}%`);
  }
  return h("p", { class: "smallprint" }, facts.join(" · "));
}

async function openDetail(id) {
  const detail = $("#library-detail");
  const doc = await api(`/v1/documents/${id}`);
  const [pages, chunks] = doc.status === "ready" || doc.page_count
    ? await Promise.all([api(`/v1/documents/${id}/pages?limit=500`),
      api(`/v1/documents/${id}/chunks?limit=1000`)])
    : [{ items: [], total: 0 }, { items: [], total: 0 }];
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "Show" });
  const pagesPanel = h("div", { id: "detail-pages" }, pages.items.map((p) => pageCard(doc, p)));
  const chunksPanel = h("div", { id: "detail-chunks", hidden: true }, chunks.items.map(chunkCard));
  const tab = (label, panel, other) => h("button", { type: "button", class: "quiet",
    "aria-pressed": panel === pagesPanel ? "true" : "false", onclick: (event) => {
      panel.hidden = false;
      other.hidden = true;
      for (const b of tabs.children) b.setAttribute("aria-pressed", String(b === event.currentTarget));
    } }, label);
  tabs.append(tab(`Pages (${pages.total})`, pagesPanel, chunksPanel),
    tab(`Chunks (${chunks.total})`, chunksPanel, pagesPanel));
  fill(detail,
    h("div", { class: "row" }, h("button", { type: "button", class: "quiet", onclick: closeDetail },
      "← All documents"), h("span", { class: "grow" }),
    h("button", { type: "button", class: "danger quiet", onclick: () => remove(doc) }, "Delete")),
    h("h2", { id: "detail-title", tabindex: "-1" }, doc.filename),
    h("p", {}, h("span", { class: `badge ${doc.status}` }, STATUS[doc.status] || doc.status)),
    summary(doc),
    doc.error ? h("p", { class: "alert error" }, doc.error.message) : null,
    doc.warnings.length ? h("ul", { class: "warnings" }, doc.warnings.map((w) =>
      h("li", {}, `Page ${w.page}: ${w.message}`))) : null,
    tabs, pagesPanel, chunksPanel);
  $("#library-list").hidden = true;
  detail.hidden = false;
  $("#detail-title").focus();
}

function closeDetail() {
  $("#library-detail").hidden = true;
  $("#library-list").hidden = false;
}

/** Show the library with document `id` open. */
export function openDocument(id) {
  pendingOpen = id;
  if (location.hash === "#library") show();
  else location.hash = "#library";
}

export function init() {
  $("#library-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  $("#library-collection").addEventListener("change", refresh);
  $("#library-status").addEventListener("change", refresh);
}

export async function show() {
  await refresh();
  if (pendingOpen) {
    const id = pendingOpen;
    pendingOpen = null;
    await openDetail(id);
  }
}
