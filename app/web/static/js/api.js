// Talking to lectern's API: the key (kept in localStorage), JSON errors as ApiError, and
// Server-Sent Events read from a POST response body (EventSource can only GET).

const KEY_STORAGE = "lectern.apiKey";

export const auth = { required: false, key: localStorage.getItem(KEY_STORAGE) || "" };

/** Keep (or, with "", forget) the key in this browser. */
export function setKey(key) {
  auth.key = key;
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** An error answer of the API: its HTTP status and the body's code, message and details. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function headers(extra = {}) {
  const made = new Headers(extra);
  if (auth.key) made.set("Authorization", `Bearer ${auth.key}`);
  return made;
}

async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = (body && body.error) || {};
  const error_ = new ApiError(response.status, error.code || `http_${response.status}`,
    error.message || response.statusText || "request failed", error.details || {});
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent("lectern:unauthorized", { detail: error_.message }));
  }
  return error_;
}

async function send(path, { method = "GET", json, form, signal, accept } = {}) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}), signal };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers.set("Content-Type", "application/json");
  } else if (form) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "lectern cannot be reached: is it running?");
  }
  if (!response.ok) throw await toError(response);
  return response;
}

/** A JSON request; resolves to the body (null for 204), rejects with ApiError. */
export async function api(path, options = {}) {
  const response = await send(path, options);
  return response.status === 204 ? null : response.json();
}

/** A GET whose answer is binary (a page image): resolves to a Blob. */
export async function blob(path, options = {}) {
  return (await send(path, options)).blob();
}

/** What the server says about itself: whether requests need a key. */
export async function serverConfig() {
  const response = await fetch("/web/config.json");
  return response.ok ? response.json() : { auth_required: true };
}

function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
}

/** POST `body` as JSON and yield the SSE events of the answer as {event, data}, as they
 * arrive. An error answer before the stream (402, 503, ...) rejects with ApiError. */
export async function* events(path, body, signal) {
  const response = await send(path, { method: "POST", json: body, signal,
    accept: "text/event-stream" });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let heldCR = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let text = heldCR + value;
      heldCR = text.endsWith("\r") ? "\r" : "";
      if (heldCR) text = text.slice(0, -1);
      buffer += text.replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const parsed = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed) yield parsed;
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
