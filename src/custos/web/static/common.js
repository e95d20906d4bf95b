// What every part of the console shares: calling the API, showing refusals with their article keys,
// building elements, bilingual labels. No framework: the console is small enough to read in one sitting.
"use strict";

// A refusal or error from the API (RFC 9457 problem details; `keys` names the articles that refused).
export class Problem extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || body.title)) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.detail = typeof detail === "string" ? detail : JSON.stringify(detail);
    this.keys = (body && body.keys) || [];
    this.body = body;
  }
  toString() {
    return this.detail + (this.keys.length ? ` [${this.keys.join(", ")}]` : "");
  }
}

// Called when a request finds the session gone (expired or logged out elsewhere): the shell shows the
// login again, with the reason, and keeps the page as it was so nothing typed is lost.
let onExpired = () => {};
export function whenSessionExpires(fn) { onExpired = fn; }

export async function problemOf(r) {
  let body = null;
  try { body = await r.json(); } catch (e) { /* not a problem document */ }
  return new Problem(r.status, body);
}

// JSON in, JSON out. Throws Problem on any non-2xx answer.
export async function api(method, path, body, {raw = false} = {}) {
  const init = {method, headers: {}};
  if (body instanceof FormData || body instanceof Blob) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["content-type"] = "application/json"; }
  const r = await fetch(path.startsWith("/") ? path : `/api/v1/${path}`, init);
  if (r.status === 401 && !path.endsWith("login")) {
    const p = await problemOf(r);
    onExpired(p);
    throw p;
  }
  if (!r.ok) throw await problemOf(r);
  if (raw) return r;
  if (r.status === 204) return null;
  const type = r.headers.get("content-type") || "";
  return type.includes("json") ? r.json() : r.text();
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);

// h("p", {class: "x", onclick: f}, "text", child) — a small element builder.
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

// Labels carry both languages: the users are Chinese PSBs and units, the code's readers may not be.
export const L = (en, zh) => `${en} ${zh}`;

// A refusal shown where it happened: the sentence of the decision and its article keys.
export function showProblem(target, err) {
  target.replaceChildren();
  if (!err) return;
  const p = err instanceof Problem ? err : new Problem(0, {detail: String(err && err.message || err)});
  target.append(h("span", {class: "detail"}, p.detail));
  if (p.keys.length) target.append(" ", h("span", {class: "keys"}, p.keys.join(", ")));
  target.classList.add("error");
}

export const ymdhms = (iso) => (iso ? new Date(iso).toISOString().slice(0, 19).replace("T", " ") : "-");
export const iso = (d) => new Date(d).toISOString();

// A table from rows and [header, cell(row)] columns; cell returns text or a node.
export function table(rows, columns, {empty = L("Nothing yet.", "暂无。")} = {}) {
  if (!rows.length) return h("p", {class: "empty"}, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([head]) => h("th", {}, head)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map(([, cell]) => {
      const v = cell(r);
      return h("td", {}, v === undefined || v === null ? "" : v);
    })))));
}

// A form from fields [{name, label, type?, required?, options?, value?}]; submit(values) may throw.
export function form(fields, submitLabel, submit, {id} = {}) {
  const err = h("p", {class: "error"});
  const inputs = fields.map((f) => {
    let input;
    if (f.options) {
      input = h("select", {name: f.name, required: f.required}, f.options.map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return h("option", {value: v, selected: String(v) === String(f.value ?? "")}, text);
      }));
    } else if (f.type === "textarea") {
      input = h("textarea", {name: f.name, required: f.required, placeholder: f.placeholder || ""}, f.value ?? "");
    } else {
      input = h("input", {name: f.name, type: f.type || "text", required: f.required, value: f.value ?? "",
        placeholder: f.placeholder || "", step: f.step, min: f.min, max: f.max});
    }
    return h("label", {}, f.label, " ", input);
  });
  const button = h("button", {type: "submit"}, submitLabel);
  const el = h("form", {id, class: "form"}, inputs, button, err);
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showProblem(err, null);
    const values = {};
    for (const f of fields) {
      const raw = el.elements[f.name].value;
      if (raw === "" && !f.required) continue;
      values[f.name] = f.type === "number" ? Number(raw) : f.type === "datetime-local" ? iso(raw) : raw;
    }
    button.disabled = true;
    try { await submit(values, el); } catch (e) { showProblem(err, e); } finally { button.disabled = false; }
  });
  return el;
}
