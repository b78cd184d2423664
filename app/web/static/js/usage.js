// Usage: today's spend against the daily budget, and the calls by model and by task, from
// GET /v1/usage (the cost ledger).

import { api } from "./api.js";
import { $, fill, formatCost, h } from "./dom.js";

function group(rows, key) {
  const groups = new Map();
  for (const row of rows) {
    const name = key(row);
    const sum = groups.get(name) || { name, calls: 0, errors: 0, cache_hits: 0, input_tokens: 0,
      output_tokens: 0, cost_usd: 0 };
    for (const field of ["calls", "errors", "cache_hits", "input_tokens", "output_tokens", "cost_usd"]) {
      sum[field] += row[field];
    }
    groups.set(name, sum);
  }
  return [...groups.values()].sort((a, b) => b.cost_usd - a.cost_usd || b.calls - a.calls);
}

function table(caption, first, rows) {
  if (!rows.length) return h("p", { class: "smallprint" }, `${caption}: no calls yet.`);
  const heads = [first, "Calls", "Errors", "Cache hits", "Tokens in", "Tokens out", "Cost"];
  return h("table", { class: "cards numbers" }, h("caption", {}, caption),
    h("thead", {}, h("tr", {}, heads.map((head) => h("th", { scope: "col" }, head)))),
    h("tbody", {}, rows.map((r) => h("tr", {},
      [r.name, r.calls, r.errors, r.cache_hits, r.input_tokens, r.output_tokens, formatCost(r.cost_usd)]
        .map((value, i) => h(i ? "td" : "th", i ? { "data-label": heads[i] }
          : { scope: "row", "data-label": heads[0] }, String(value)))))));
}

function budget(status) {
  const limit = status.budget_usd;
  return h("div", { class: "budget" },
    h("p", { class: "big" }, h("strong", {}, formatCost(status.spent_usd)), limit === null
      ? " spent today · no daily budget set" : ` of ${formatCost(limit)} today`),
    limit === null ? null : h("meter", { min: 0, max: limit, value: Math.min(status.spent_usd, limit),
      high: limit * 0.8, optimum: 0, "aria-label": "Share of today's budget spent" }),
    h("p", { class: "smallprint" }, [limit === null ? null : `${formatCost(status.remaining_usd)} left`,
      status.reserved_usd ? `${formatCost(status.reserved_usd)} held by calls in flight` : null]
      .filter(Boolean).join(" · ")));
}

export function init() {
  $("#usage-refresh").addEventListener("click", show);
}

export async function show() {
  const usage = await api("/v1/usage");
  const t = usage.totals;
  fill($("#usage-body"), budget(usage.budget),
    h("p", {}, `${t.calls} call(s), ${t.errors} error(s), ${t.cache_hits} from the cache, `
      + `${t.input_tokens} tokens in and ${t.output_tokens} out, since `
      + `${new Date(usage.since).toLocaleString()} (tenant ${usage.tenant}).`),
    table("Calls by model", "Model", group(usage.rows, (r) => `${r.model} (${r.provider})`)),
    table("Calls by task", "Task", group(usage.rows, (r) => r.task)));
}
