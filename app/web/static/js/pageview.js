// The page a source or a piece of evidence points to: the page image (rendered by lectern:
// GET /v1/documents/{id}/pages/{n}/image) beside the text lectern read from it, with the
// cited passage marked in that text.

import { api, blob } from "./api.js";
import { $, fill, h } from "./dom.js";

const IMAGE_KINDS = new Set(["pdf", "png", "jpeg", "tiff"]);
const MIN_PIECE = 12;
let state = null;
let imageUrl = null;

/** Whether documents of `kind` have page images. */
export const hasPageImages = (kind) => IMAGE_KINDS.has(kind);

/** Lower-cased text with whitespace runs folded to one space, and for each of its characters
 * the index of the original character it came from. */
function fold(text) {
  let folded = "";
  const map = [];
  let space = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (/\s/.test(c)) {
      if (!space && folded) {
        folded += " ";
        map.push(i);
      }
      space = true;
      continue;
    }
    const lower = c.toLowerCase();
    folded += lower;
    for (let k = 0; k < lower.length; k += 1) map.push(i);
    space = false;
  }
  return { folded, map };
}

/** [start, end) ranges of `text` where sentences of `passage` occur, merged and sorted. */
export function passageRanges(text, passage) {
  if (!text || !passage) return [];
  const { folded, map } = fold(text);
  const pieces = passage.split(/(?<=[.!?;:])\s+|\n\s*\n/)
    .map((piece) => fold(piece).folded.trim()).filter((piece) => piece.length >= MIN_PIECE);
  const ranges = [];
  for (const piece of pieces) {
    const at = folded.indexOf(piece);
    if (at >= 0) ranges.push([map[at], map[at + piece.length - 1] + 1]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && (range[0] <= last[1] || /^[\s.,;:]*$/.test(text.slice(last[1], range[0])))) {
      last[1] = Math.max(last[1], range[1]);
    } else merged.push([...range]);
  }
  return merged;
}

function marked(text, ranges) {
  const parts = [];
  let at = 0;
  for (const [start, end] of ranges) {
    parts.push(text.slice(at, start), h("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts;
}

async function render() {
  const { doc, page, passage } = state;
  const last = doc.page_count || page;
  $("#page-title").textContent = `${doc.filename} · page ${page} of ${last}`;
  $("#page-prev").disabled = page <= 1;
  $("#page-next").disabled = page >= last;
  const listed = await api(`/v1/documents/${doc.id}/pages?offset=${page - 1}&limit=1`);
  const text = listed.items.length ? listed.items[0].text : "";
  const ranges = passageRanges(text, passage);
  fill($("#page-text"), marked(text || "(no text on this page)", ranges));
  const method = listed.items.length ? listed.items[0].method : null;
  $("#page-note").textContent = !passage ? ""
    : ranges.length ? "The cited passage is marked."
      : "The cited passage is not on this page as such (it may start on another page).";
  const figure = $("#page-figure");
  figure.hidden = !hasPageImages(doc.kind);
  if (!figure.hidden) {
    const image = $("#page-image");
    image.alt = `Page ${page} of ${doc.filename}`;
    $("#page-caption").textContent = method === "ocr"
      ? "A scanned page: the text shown with it is what OCR read." : "The page as rendered by lectern.";
    const png = await blob(`/v1/documents/${doc.id}/pages/${page}/image`);
    if (imageUrl) URL.revokeObjectURL(imageUrl);
    imageUrl = URL.createObjectURL(png);
    image.src = imageUrl;
  }
  const first = $("#page-text mark");
  if (first) first.scrollIntoView({ block: "center" });
}

/** Open page `page` of a document, marking `passage` (a source's text or a quote). */
export async function openPage({ documentId, page, passage = "" }) {
  const doc = await api(`/v1/documents/${documentId}`);
  state = { doc, page, passage };
  const dialog = $("#page-dialog");
  fill($("#page-text"));
  $("#page-image").removeAttribute("src");
  if (!dialog.open) dialog.showModal();
  await render();
  $("#page-close").focus();
}

function step(delta) {
  state.page += delta;
  render();
}

export function init() {
  $("#page-prev").addEventListener("click", () => step(-1));
  $("#page-next").addEventListener("click", () => step(1));
  $("#page-close").addEventListener("click", () => $("#page-dialog").close());
}
