// The page's start: the key (asked for when the server needs one), the views behind the
// navigation links (#upload, #library, #ask, #extract, #usage), and each view's set-up.

import { api, auth, serverConfig, setKey } from "./api.js";
import { $ } from "./dom.js";
import * as ask from "./ask.js";
import * as extract from "./extract.js";
import * as library from "./library.js";
import * as pageview from "./pageview.js";
import * as upload from "./upload.js";
import * as usage from "./usage.js";

const VIEWS = { upload, library, ask, extract, usage };
let keyWaiters = [];

function currentView() {
  const name = location.hash.replace("#", "").split("/")[0];
  return name in VIEWS ? name : "upload";
}

function show(name) {
  for (const section of document.querySelectorAll(".view")) {
    section.hidden = section.id !== `view-${name}`;
  }
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · lectern`;
  const alert = $("#view-error");
  alert.hidden = true;
  Promise.resolve(VIEWS[name].show && VIEWS[name].show()).catch((error) => {
    if (error.status === 401) return; // the key dialog says it
    alert.textContent = `Could not load ${name}: ${error.message}`;
    alert.hidden = false;
  });
}

function updateKeyButton() {
  const button = $("#key-button");
  button.hidden = !auth.required && !auth.key;
  button.textContent = auth.key ? `Key ${auth.key.slice(0, 7)}…` : "API key";
}

function askForKey(message = "") {
  const dialog = $("#key-dialog");
  $("#key-input").value = auth.key;
  const error = $("#key-error");
  error.textContent = message;
  error.hidden = !message;
  if (!dialog.open) dialog.showModal();
  return new Promise((resolve) => keyWaiters.push(resolve));
}

async function saveKey(event) {
  event.preventDefault();
  const key = $("#key-input").value.trim();
  if (!key) return;
  setKey(key);
  try {
    await api("/v1/documents?limit=1");
  } catch (error) {
    $("#key-error").textContent = error.status === 401
      ? "lectern does not accept this key: check it, or create a new one."
      : error.message;
    $("#key-error").hidden = false;
    return;
  }
  $("#key-dialog").close();
  updateKeyButton();
  const waiters = keyWaiters;
  keyWaiters = [];
  for (const resolve of waiters) resolve();
  show(currentView());
}

function setUpKeyDialog() {
  $("#key-form").addEventListener("submit", saveKey);
  $("#key-forget").addEventListener("click", () => {
    setKey("");
    $("#key-input").value = "";
    updateKeyButton();
    if (!auth.required) $("#key-dialog").close();
  });
  $("#key-dialog").addEventListener("cancel", (event) => {
    if (auth.required && !auth.key) event.preventDefault();
  });
  $("#key-button").addEventListener("click", () => askForKey());
  window.addEventListener("lectern:unauthorized", (event) => {
    if (!$("#key-dialog").open) askForKey(event.detail);
  });
}

async function start() {
  setUpKeyDialog();
  const config = await serverConfig();
  auth.required = Boolean(config.auth_required);
  updateKeyButton();
  for (const view of Object.values(VIEWS)) view.init();
  pageview.init();
  if (auth.required && !auth.key) await askForKey();
  window.addEventListener("hashchange", () => show(currentView()));
  show(currentView());
  document.body.dataset.ready = "true";
}

start();
