// Ask: a thread of questions answered by POST /v1/ask as Server-Sent Events. Tokens are shown
// as they arrive, [n] markers link to their sources, each source opens its page; earlier
// turns go along as `history`, so follow-ups work; Stop aborts the stream.

import { ApiError, events } from "./api.js";
import { $, announce, fill, formatCost, h, pageLabel } from "./dom.js";
import { openPage } from "./pageview.js";

const MAX_HISTORY = 20;
const CITATION = /\[(\d+(?:\s*[,–-]\s*\d+)*)\]/g;
const TITLES = {
  402: "Over budget", 429: "Too many requests", 503: "No model available",
  502: "The model failed", 504: "The model timed out", 422: "The question was not accepted",
};
let turns = [];
let controller = null;
let counter = 0;

function citeLinks(turn, numbers) {
  const out = [];
  numbers.split(/(\s*[,–-]\s*)/).forEach((part) => {
    const n = Number(part);
    const source = turn.sources.find((s) => s.n === n);
    if (!Number.isInteger(n) || !part.trim() || !source) {
      out.push(part);
      return;
    }
    out.push(h("a", { href: `#${turn.id}-source-${n}`, class: "cite",
      "aria-label": `source ${n}: ${source.filename}, ${pageLabel(source.page_start, source.page_end)}`,
      onclick: (event) => {
        event.preventDefault();
        const target = document.getElementById(`${turn.id}-source-${n}`);
        target.scrollIntoView({ block: "nearest" });
        target.focus();
      } }, String(n)));
  });
  return out;
}

function renderAnswer(turn) {
  const parts = [];
  let at = 0;
  for (const match of turn.answer.matchAll(CITATION)) {
    parts.push(turn.answer.slice(at, match.index), "[", citeLinks(turn, match[1]), "]");
    at = match.index + match[0].length;
  }
  parts.push(turn.answer.slice(at));
  fill(turn.el.answer, parts);
}

function sourceItem(turn, s) {
  return h("li", { id: `${turn.id}-source-${s.n}`, class: "source", tabindex: "-1",
    dataset: { page: s.page_start, n: s.n } },
  h("p", { class: "source-head" }, h("strong", {}, `[${s.n}] ${s.filename}`),
    ` · ${pageLabel(s.page_start, s.page_end)}`, s.section ? ` · ${s.section}` : ""),
  h("blockquote", { class: "passage", tabindex: "0" }, s.text),
  h("button", { type: "button", class: "quiet", onclick: () => openPage({
    documentId: s.document_id, page: s.page_start, passage: s.text }) },
  `Open ${pageLabel(s.page_start, s.page_end)}`));
}

/** The sources: all of them while the answer streams; once it is complete, the ones it
 * cites first and the others folded away under "more sources". */
function renderSources(turn, complete = false) {
  const cited = new Set();
  for (const match of turn.answer.matchAll(CITATION)) {
    for (const n of match[1].split(/\s*[,–-]\s*/)) cited.add(Number(n));
  }
  const shown = complete && cited.size ? turn.sources.filter((s) => cited.has(s.n)) : turn.sources;
  const rest = turn.sources.filter((s) => !shown.includes(s));
  fill(turn.el.sources, shown.map((s) => sourceItem(turn, s)));
  fill(turn.el.more, rest.length ? h("details", {}, h("summary", {},
    `${rest.length} more source(s) the answer does not cite`),
  h("ol", { class: "sources" }, rest.map((s) => sourceItem(turn, s)))) : null);
  turn.el.sourcesBox.hidden = !turn.sources.length;
}

function smallPrint(turn) {
  const { meta, usage } = turn;
  const parts = [];
  if (meta && meta.insufficient_evidence) parts.push("no model was called");
  else if (meta && meta.extractive) parts.push("answered by quoting the sources (extractive, no LLM)");
  else if (meta && meta.model) {
    parts.push(`answered by ${meta.model} (${meta.provider}, ${meta.tier} tier)`
      + `${meta.cached ? ", from the cache" : ""}`);
  }
  if (meta && meta.query) parts.push(`searched for: "${meta.query}"`);
  if (usage) {
    parts.push(`${usage.input_tokens} tokens in, ${usage.output_tokens} out`,
      `cost ${formatCost(usage.cost_usd)}`, `${(usage.latency_ms / 1000).toFixed(1)} s`);
  }
  turn.el.small.textContent = parts.join(" · ");
}

function setState(turn, state, notice = "", title = "") {
  turn.state = state;
  turn.el.li.dataset.state = state;
  turn.el.answer.setAttribute("aria-busy", String(state === "streaming"));
  fill(turn.el.notice, title ? h("strong", {}, `${title}: `) : null, notice);
  turn.el.notice.hidden = !notice;
  turn.el.notice.className = `notice ${state}`;
}

function newTurn(question) {
  counter += 1;
  const el = {
    answer: h("div", { class: "answer" }),
    notice: h("p", { class: "notice", hidden: true }),
    sources: h("ol", { class: "sources" }),
    more: h("div", { class: "more-sources" }),
    small: h("p", { class: "smallprint" }),
  };
  el.sourcesBox = h("div", { class: "sources-box", hidden: true },
    h("h3", { class: "sources-title" }, "Sources"), el.sources, el.more);
  el.li = h("li", { class: "turn" }, h("p", { class: "question" }, h("span",
    { class: "visually-hidden" }, "You asked: "), question), el.notice, el.answer, el.sourcesBox,
  el.small);
  const turn = { id: `turn-${counter}`, question, answer: "", sources: [], meta: null,
    usage: null, state: "streaming", el };
  $("#ask-thread").append(el.li);
  return turn;
}

function apply(turn, { event, data }) {
  if (event === "meta") {
    turn.meta = data;
  } else if (event === "sources") {
    turn.sources = data;
    renderSources(turn);
  } else if (event === "token") {
    turn.answer += data.text;
    renderAnswer(turn);
  } else if (event === "handover") {
    turn.answer = turn.answer.slice(0, data.kept_chars);
    turn.el.small.textContent = `${data.model} took over after: ${data.error.message}`;
  } else if (event === "usage") {
    turn.usage = data;
  } else if (event === "done") {
    if (data.finish_reason === "insufficient_evidence" || (turn.meta && turn.meta.insufficient_evidence)) {
      setState(turn, "insufficient", "no passage of the documents searched is relevant enough"
        + " to answer this, so no model was asked.", "Insufficient evidence");
    } else setState(turn, "done");
    renderSources(turn, true);
    return true;
  } else if (event === "error") {
    setState(turn, "error", `${data.message} (${data.code})`, "The answer broke off");
    return true;
  }
  smallPrint(turn);
  return false;
}

function history() {
  return turns.filter((t) => t.state === "done" && t.answer)
    .slice(-MAX_HISTORY).map((t) => ({ question: t.question, answer: t.answer.slice(0, 20000) }));
}

function busy(on) {
  $("#ask-stop").disabled = !on;
  $("#ask-send").disabled = on;
}

async function ask(question) {
  const body = { question, history: history() };
  const collection = $("#ask-collection").value.trim();
  if (collection) body.collection = collection;
  const turn = newTurn(question);
  turns.push(turn);
  turn.el.li.scrollIntoView({ block: "start" });
  controller = new AbortController();
  busy(true);
  setState(turn, "streaming");
  let ended = false;
  try {
    for await (const event of events("/v1/ask", body, controller.signal)) {
      ended = apply(turn, event) || ended;
    }
    if (!ended) setState(turn, "error", "the stream ended without an answer", "Connection lost");
  } catch (error) {
    if (error.name === "AbortError") setState(turn, "stopped", "you stopped this answer.", "Stopped");
    else if (error instanceof ApiError) {
      setState(turn, "error", error.message, TITLES[error.status] || `Error ${error.status || ""}`);
    } else setState(turn, "error", String(error.message || error), "Error");
  } finally {
    controller = null;
    busy(false);
    smallPrint(turn);
    announce(turn.state === "done" ? "The answer is complete." : turn.el.notice.textContent);
  }
}

export function init() {
  const form = $("#ask-form");
  const input = $("#ask-question");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || controller) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $("#ask-stop").addEventListener("click", () => controller && controller.abort());
  $("#ask-new").addEventListener("click", () => {
    if (controller) controller.abort();
    turns = [];
    fill($("#ask-thread"));
    input.focus();
  });
}

export function show() {
  $("#ask-question").focus();
}
