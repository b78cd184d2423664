// Upload: files dropped or picked are sent one after another to POST /v1/documents; each
// file's row follows its job (GET /v1/jobs/{id}) until it is ready or failed.

import { api } from "./api.js";
import { $, announce, h, sleep } from "./dom.js";
import { openDocument } from "./library.js";

export const STAGES = {
  reading: "Reading pages", ocr: "Running OCR", cleanup: "Cleaning up the text",
  chunking: "Splitting into sections", embedding: "Embedding", storing: "Storing",
};
const POLL_MS = 500;
let queue = Promise.resolve();

/** One file's row in the list: its name, a state badge, a progress bar and a line of text. */
function addRow(file) {
  const badge = h("span", { class: "badge" }, "Waiting");
  const bar = h("progress", { "aria-label": `${file.name}: progress`, max: 1, value: 0 });
  const line = h("span", { class: "detail" });
  const actions = h("span", { class: "actions" });
  const row = h("li", { class: "job", dataset: { state: "waiting", file: file.name } },
    h("div", { class: "job-head" }, h("strong", { class: "name" }, file.name), badge),
    h("div", { class: "job-progress" }, bar, line), actions);
  $("#upload-list").prepend(row);
  return {
    row,
    set(state, label, text = "", progress = null) {
      row.dataset.state = state;
      badge.textContent = label;
      line.textContent = text;
      if (progress) {
        bar.max = Math.max(progress.total, 1);
        bar.value = progress.done;
      } else if (state === "ready" || state === "duplicate") {
        bar.max = 1;
        bar.value = 1;
      }
      bar.hidden = state === "failed";
    },
    link(documentId) {
      actions.replaceChildren(h("button", { type: "button", class: "quiet",
        onclick: () => openDocument(documentId) }, "Open in the library"));
    },
  };
}

function readMetadata() {
  const raw = $("#upload-metadata").value.trim();
  if (!raw) return { ok: true, value: null };
  try {
    const parsed = JSON.parse(raw);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      return { ok: true, value: raw };
    }
  } catch {
    // reported below
  }
  return { ok: false, message: "Metadata must be a JSON object, such as {\"year\": 2024}." };
}

function submitAll(files) {
  const error = $("#upload-error");
  error.hidden = true;
  if (!files.length) return;
  const metadata = readMetadata();
  if (!metadata.ok) {
    error.textContent = metadata.message;
    error.hidden = false;
    return;
  }
  const collection = $("#upload-collection").value.trim() || "default";
  for (const file of files) {
    const row = addRow(file);
    queue = queue.then(() => submitOne(file, collection, metadata.value, row));
  }
}

async function submitOne(file, collection, metadata, row) {
  const form = new FormData();
  form.append("file", file, file.name);
  form.append("collection", collection);
  if (metadata) form.append("metadata", metadata);
  row.set("uploading", "Uploading", `${(file.size / 1e6).toFixed(2)} MB`);
  let answer;
  try {
    answer = await api("/v1/documents", { method: "POST", form });
  } catch (error) {
    row.set("failed", "Failed", error.message);
    announce(`${file.name} was not uploaded: ${error.message}`);
    return;
  }
  const doc = answer.document;
  row.link(doc.id);
  if (!answer.created) {
    row.set("duplicate", "Already uploaded", `This file is already in collection "${doc.collection}"`
      + ` (${doc.status}); it was not stored again.`);
    announce(`${file.name} is already in the library.`);
    return;
  }
  watch(answer.job, file.name, row); // not awaited: the next file uploads meanwhile
}

async function watch(job, name, row) {
  let current = job;
  for (;;) {
    const progress = current.progress;
    const stage = STAGES[current.stage] || "Queued";
    if (current.status === "succeeded") break;
    if (current.status === "failed" || current.status === "cancelled") {
      const error = current.error || {};
      const label = current.status === "cancelled" ? "Cancelled" : "Failed";
      row.set("failed", label, error.message || `ingestion ${current.status}`);
      announce(`${name} failed: ${error.message || "ingestion failed"}`);
      return;
    }
    const pages = progress.pages_total === null ? ""
      : ` · page ${progress.pages_done} of ${progress.pages_total}`;
    row.set(current.status, current.status === "queued" ? "Queued" : stage,
      `${stage}${pages}`, progress.pages_total === null ? null
        : { done: progress.pages_done, total: progress.pages_total });
    await sleep(POLL_MS);
    try {
      current = await api(`/v1/jobs/${current.id}`);
    } catch (error) {
      row.set("failed", "Unknown", `Lost track of the job: ${error.message}`);
      return;
    }
  }
  const doc = await api(`/v1/documents/${current.document_id}`);
  const warned = doc.warnings.length ? ` · ${doc.warnings.length} warning(s)` : "";
  row.set("ready", "Ready", `${doc.page_count} page(s), ${doc.chunk_count} chunk(s)${warned}`);
  announce(`${name} is ready.`);
}

/** Wire the picker and the drop zone. */
export function init() {
  const input = $("#upload-files");
  input.addEventListener("change", () => {
    submitAll([...input.files]);
    input.value = "";
  });
  const drop = $("#drop");
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    submitAll([...event.dataTransfer.files]);
  });
}
