// Access records 调阅记录: the inspector's view of who used which footage, how and why (HB-17.3, BJ-13.2,
// CN-16), with a Verify button that checks a record against the ledger in this browser: the deployment's
// verifier key, the signed tree head's Ed25519 signature, the entry's leaf hash recomputed from its bytes, the
// inclusion proof up to the signed root, and every field shown on screen against the entry (the catalog row
// could have been edited; the signed ledger cannot be without this failing). Nothing the server computed is
// taken on trust but the key, which is shown for comparison with the one handed over out of band.
"use strict";
import {Problem, api, form, h, L, showProblem, table, ymdhms} from "/static/common.js";
import * as M from "/static/merkle.js";

const PAGE = 25;
const MODES = ["live", "playback", "thumbnail", "download", "export", "copy"];
// The fields of the `access` entry that the catalog row copies (custos.verify.catalog.ACCESS_FIELDS).
const SHOWN = ["username", "full_name", "unit", "role", "mode", "purpose", "legal_basis", "approval_ref", "destination",
  "cameras", "start_utc", "end_utc", "client_address", "requested_at", "allowed", "keys", "reason"];
const UNSHOWN = ["person_id", "request_id"];  // in the full row only (GET /ledger/entries/{seq}/access-records)
const OUTCOME = ["outcome", "bytes_served", "finished_at"];
// The table's column showing each field, to point at the cells that differ from the ledger.
const COLUMN = {requested_at: 1, username: 2, full_name: 2, unit: 3, role: 4, mode: 5, cameras: 6, start_utc: 7, end_utc: 7,
  purpose: 8, legal_basis: 9, approval_ref: 9, destination: 9, allowed: 10, keys: 10, reason: 10, outcome: 11,
  finished_at: 11, bytes_served: 12};
const TIMES = new Set(["start_utc", "end_utc", "requested_at", "finished_at"]);
const STEPS = {
  fetch: L("Fetching", "获取"),
  key: L("Verifier key", "验证公钥"),
  note: L("Signed tree head", "签名树头"),
  signature: L("Signed tree head", "签名树头"),
  checkpoint: L("Signed tree head", "签名树头"),
  leaf: L("Leaf hash", "叶哈希"),
  proof: L("Inclusion proof", "包含证明"),
  root: L("Inclusion proof", "包含证明"),
  entry: L("Ledger entry", "账本条目"),
  record: L("Record against its ledger entry", "记录对照账本条目"),
  outcome: L("Outcome", "结果"),
};

// A time as the ledger writes it (UTC, Z, microseconds) whatever spelling the API used, to compare exactly.
function normTime(v) {
  const m = typeof v === "string" && /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:Z|\+00:00)$/.exec(v);
  return m ? `${m[1]}.${(m[2] || "").padEnd(6, "0")}Z` : v;
}

function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(",")}}`;
  return JSON.stringify(v === undefined ? null : v);
}

const same = (field, a, b) => (TIMES.has(field) ? canon(normTime(a)) === canon(normTime(b)) : canon(a) === canon(b));
const show = (v) => (v === undefined ? "(absent 缺失)" : JSON.stringify(v));
const short = (b64) => `${b64.slice(0, 16)}…`;

// The fields of `row` that differ from `entry`: [{field, row, entry}].
function differences(fields, row, entry) {
  return fields.filter((f) => !same(f, row[f], entry[f])).map((f) => ({field: f, row: row[f], entry: entry[f]}));
}

class Failed extends Error {
  constructor(step, message) { super(message); this.step = step; }
}

// The raw bytes of a text/plain answer (a signed note is checked as the bytes that were signed).
async function bytesOf(method, path) {
  const r = await api(method, path, method === "POST" ? {} : undefined, {raw: true});
  return new Uint8Array(await r.arrayBuffer());
}

export async function mount(section, app) {
  const state = {filters: {}, offset: 0, served: null, generation: 0};

  // The key --------------------------------------------------------------------------------------------------
  const servedKey = h("code", {id: "records-vkey"}, "…");
  const keyFacts = h("p", {id: "records-keyinfo", class: "muted"});
  const trustedInput = h("input", {id: "records-trusted-key", placeholder: L("paste the key you were given", "粘贴您获得的公钥"), size: 70});
  const trustedNote = h("p", {id: "records-trusted-note", class: "muted"});
  const keyPanel = h("div", {class: "key"},
    h("h3", {}, L("The deployment's verifier key", "本系统的验证公钥")),
    h("p", {}, L("Served by this server:", "本服务器提供："), " ", servedKey), keyFacts,
    h("label", {}, L("Key you were given out of band (optional; verification then uses it)", "线下获得的公钥（可选，验证将使用此公钥）"), " ", trustedInput),
    trustedNote);

  async function loadKey() {
    try {
      const text = (await api("GET", "ledger/key")).trim();
      servedKey.textContent = text;
      try {
        state.served = await M.parseVerifierKey(text);
        keyFacts.className = "muted";
        keyFacts.textContent = `${L("key name", "密钥名")} ${state.served.name} · ${L("key hash", "密钥哈希")} ${M.hex(state.served.keyId)} `
          + `(${L("recomputed here from the key", "已在本浏览器根据公钥重新计算")}) · Ed25519`;
        keyFacts.dataset.keyhash = M.hex(state.served.keyId);
      } catch (e) {
        state.served = null;
        keyFacts.className = "bad";
        keyFacts.textContent = `✗ ${e.message}`;
      }
    } catch (e) {
      showProblem(keyFacts, e);
    }
    compareKeys();
  }

  function compareKeys() {
    const given = trustedInput.value.trim();
    if (!given) {
      trustedNote.className = "warn";
      trustedNote.textContent = L("Verifying with the key this server serves: compare it with the key the deployment handed over.",
        "正在使用本服务器提供的公钥验证：请与线下移交的公钥核对。");
      return;
    }
    M.parseVerifierKey(given).then((k) => {
      const match = state.served && k.name === state.served.name && M.equal(k.publicKey, state.served.publicKey);
      trustedNote.className = match ? "ok" : "bad";
      trustedNote.textContent = match
        ? `✓ ${L("the same key as the server's", "与服务器的公钥一致")} (${k.name}+${M.hex(k.keyId)})`
        : `✗ ${L("NOT the key this server serves: verification uses yours", "与服务器的公钥不一致：验证使用您提供的公钥")} (${k.name}+${M.hex(k.keyId)})`;
    }, (e) => { trustedNote.className = "bad"; trustedNote.textContent = `✗ ${e.message}`; });
  }
  trustedInput.addEventListener("input", compareKeys);

  async function verifierKey() {
    const given = trustedInput.value.trim();
    if (given) return M.parseVerifierKey(given);
    if (!state.served) throw new Failed("key", L("no usable verifier key: paste the one you were given", "没有可用的验证公钥：请粘贴您获得的公钥"));
    return state.served;
  }

  // The list -------------------------------------------------------------------------------------------------
  const problem = h("p", {class: "error", id: "records-error"});
  const list = h("div", {id: "records-list"});
  const pager = h("div", {class: "pager"});
  const details = h("div", {id: "records-proof"});
  const filters = form([
    {name: "camera", label: L("Camera", "摄像机")},
    {name: "username", label: L("Username", "用户名")},
    {name: "mode", label: L("Mode", "方式"), options: [["", L("any", "全部")], ...MODES]},
    {name: "allowed", label: L("Decision", "决定"), options: [["", L("any", "全部")], ["true", L("allowed", "允许")], ["false", L("refused", "拒绝")]]},
    {name: "since", label: L("Requested from (local time)", "请求时间起"), type: "datetime-local"},
    {name: "until", label: L("until", "至"), type: "datetime-local"},
  ], L("Search", "查询"), async (values) => {
    state.filters = values;
    state.offset = 0;
    await load();
  }, {id: "records-filters"});

  async function load() {
    const generation = ++state.generation;
    const q = new URLSearchParams({...state.filters, limit: PAGE, offset: state.offset});
    showProblem(problem, null);
    let page;
    try {
      page = await api("GET", `access-records?${q}`);
    } catch (e) {
      if (generation === state.generation) showProblem(problem, e);
      return;
    }
    if (generation !== state.generation) return;  // a later search answered first
    render(page);
  }

  function render(page) {
    details.replaceChildren();
    list.replaceChildren(table(page.items, [
      [L("Ledger seq", "账本序号"), (r) => String(r.seq)],
      [L("Requested at (UTC)", "请求时间"), (r) => ymdhms(r.requested_at)],
      [L("Who", "人员"), (r) => `${r.full_name} (${r.username})`],
      [L("Unit", "单位"), (r) => r.unit],
      [L("Role", "角色"), (r) => r.role],
      [L("Mode", "方式"), (r) => r.mode],
      [L("Cameras", "摄像机"), (r) => r.cameras.join(", ")],
      [L("Span (UTC)", "时段"), (r) => (r.start_utc ? `${ymdhms(r.start_utc)} – ${ymdhms(r.end_utc)}` : "-")],
      [L("Purpose", "目的"), (r) => r.purpose],
      [L("Legal basis / request", "法律依据/审批"), (r) => [r.legal_basis, r.approval_ref, r.destination && `→ ${r.destination}`].filter(Boolean).join("; ") || "-"],
      [L("Decision", "决定"), (r) => h("span", {class: r.allowed ? "ok" : "bad", title: r.reason},
        r.allowed ? L("allowed", "允许") : L("refused", "拒绝"), " ", h("span", {class: "keys"}, r.keys.join(", ")),
        r.allowed ? "" : h("div", {class: "muted"}, r.reason))],
      [L("Outcome", "结果"), (r) => (r.outcome ? `${r.outcome} ${ymdhms(r.finished_at)}` : "-")],
      [L("Bytes", "字节"), (r) => (r.bytes_served === null ? "-" : r.bytes_served.toLocaleString("en"))],
      [L("Verify", "验证"), (r) => {
        const verdict = h("div", {class: "verdict", dataset: {record: r.id}});
        const button = h("button", {type: "button", class: "verify", dataset: {record: r.id, seq: r.seq}}, L("Verify", "验证"));
        button.addEventListener("click", async () => {
          button.disabled = true;
          verdict.className = "verdict muted";
          verdict.textContent = L("verifying…", "验证中…");
          try { await verify(r, verdict, button.closest("tr")); } finally { button.disabled = false; }
        });
        return h("div", {}, button, verdict);
      }],
    ], {empty: L("No access records match.", "没有符合条件的调阅记录。")}));
    const last = Math.min(page.offset + page.items.length, page.total);
    pager.replaceChildren(
      h("button", {type: "button", class: "prev", disabled: page.offset === 0,
        onclick: () => { state.offset = Math.max(0, state.offset - PAGE); load(); }}, L("Previous", "上一页")),
      " ", h("span", {id: "records-count"}, `${page.total ? page.offset + 1 : 0}–${last} / ${page.total}`), " ",
      h("button", {type: "button", class: "next", disabled: last >= page.total,
        onclick: () => { state.offset += PAGE; load(); }}, L("Next", "下一页")));
  }

  // Verifying one record ---------------------------------------------------------------------------------------
  // A signed tree head that covers entries up to `needed` (exclusive), verified with `key`: the latest one, or
  // one signed now when there is none yet or it predates the record.
  async function signedHead(key, needed) {
    let note = null;
    try {
      note = await bytesOf("GET", "ledger/checkpoint");
    } catch (e) {
      if (!(e instanceof Problem && e.status === 404)) throw e;
    }
    let cp = note && await M.verifyCheckpoint(note, key, {origin: key.name});
    if (!cp || cp.size < BigInt(needed)) {
      note = await bytesOf("POST", "ledger/checkpoint");  // sign one now (the ledger roles may)
      cp = await M.verifyCheckpoint(note, key, {origin: key.name});
      if (cp.size < BigInt(needed)) throw new Failed("checkpoint", `the newest signed tree head (${cp.size} entries) does not reach entry ${needed - 1}`);
    }
    return cp;
  }

  async function proved(seq, cp) {
    const entry = await api("GET", `ledger/entries/${seq}?tree_size=${cp.size}`);
    return (await M.proveEntry(entry, cp)).fields;
  }

  async function verify(shown, verdict, tr) {
    const steps = [];
    const ok = (step, text) => steps.push({step, ok: true, text});
    let headline;
    try {
      const key = await verifierKey();
      ok("key", `${key.name}+${M.hex(key.keyId)} (${trustedInput.value.trim() ? L("the key you gave", "您提供的公钥") : L("served by this server", "服务器提供")})`);
      const rows = await api("GET", `ledger/entries/${shown.seq}/access-records`);
      const row = rows.find((r) => r.id === shown.id);
      if (!row) throw new Failed("record", `the catalog no longer holds record #${shown.id} as recorded by ledger entry ${shown.seq}`);
      const needed = Math.max(shown.seq, row.seq, row.outcome_seq ?? -1) + 1;
      const cp = await signedHead(key, needed);
      const root = M.b64encode(cp.root);
      ok("signature", `signature by ${key.name} valid on the tree head of ${cp.size} entries, root ${root} `
        + `(${key.name} 对 ${cp.size} 条目树头的签名有效)`);
      const entry = await proved(shown.seq, cp);
      ok("proof", `${L("entry", "条目")} ${shown.seq}: ${L("leaf hash recomputed from its bytes, proof leads to the signed root", "叶哈希由条目字节重新计算，证明通向已签名的根")}`);
      if (entry.kind !== "access") throw new Failed("entry", `ledger entry ${shown.seq} is a ${entry.kind} entry, not an access record`);
      const diffs = [...differences(SHOWN, shown, entry), ...differences(UNSHOWN, row, entry)];
      // (An outcome arriving after the list was loaded is the normal course of a record, not a change.)
      const moved = differences(["seq", ...SHOWN, ...(shown.outcome === null ? [] : OUTCOME)], shown, row).map((d) => d.field);
      if (rows.length > 1) {
        diffs.push({field: L("(other rows)", "（其他记录）"), row: `records ${rows.filter((r) => r !== row).map((r) => `#${r.id}`).join(", ")} claim the same entry`, entry: "one access"});
      }
      if (moved.length) diffs.push({field: L("(the catalog row now)", "（目录记录现值）"), row: `${moved.join(", ")} changed since the list was loaded`, entry: ""});
      steps.push({step: "record", ok: !diffs.length, diffs, entry,
        text: diffs.length ? `differs from the ledger entry in ${diffs.map((d) => d.field).join(", ")} (与账本条目不一致)`
          : L("every field shown equals the ledger entry", "显示的各字段与账本条目一致")});
      if (row.outcome_seq !== null && row.outcome_seq !== undefined) {
        const out = await proved(row.outcome_seq, cp);
        if (out.kind !== "access.outcome" || out.access_seq !== shown.seq) {
          throw new Failed("outcome", `ledger entry ${row.outcome_seq} is not the outcome of entry ${shown.seq}`);
        }
        const odiffs = differences(OUTCOME, shown, out);
        steps.push({step: "outcome", ok: !odiffs.length, diffs: odiffs, entry: out,
          text: odiffs.length ? `${L("differs from its ledger entry", "与账本条目不一致")} ${row.outcome_seq}: ${odiffs.map((d) => d.field).join(", ")}`
            : `${L("entry", "条目")} ${row.outcome_seq} ${L("proved; outcome and bytes equal it", "已证明；结果与字节数一致")}`});
      } else if (OUTCOME.some((f) => shown[f] !== null && shown[f] !== undefined)) {
        steps.push({step: "outcome", ok: false, diffs: OUTCOME.map((f) => ({field: f, row: shown[f], entry: undefined})),
          text: L("the row shows an outcome the ledger never recorded", "记录显示的结果未被账本记录")});
      } else {
        ok("outcome", L("none recorded yet (still running, or it ended with the process)", "尚无结果记录"));
      }
      const bad = steps.find((s) => !s.ok);
      headline = bad
        ? {ok: false, text: `✗ ${STEPS[bad.step]}: ${bad.text}`}
        : {ok: true, text: `✓ included in the signed tree of ${cp.size} entries, root ${short(root)}, signature by ${key.name} valid; `
          + `the record equals its ledger entry (已包含在 ${cp.size} 条目的已签名树中，签名有效，记录与账本条目一致)`};
    } catch (e) {
      const step = e.step || (e instanceof Problem ? "fetch" : "entry");
      const message = e instanceof Problem ? e.toString() : e.message;
      steps.push({step, ok: false, text: message});
      headline = {ok: false, text: `✗ ${STEPS[step] || step}: ${message}`};
    }
    verdict.className = `verdict ${headline.ok ? "ok" : "bad"}`;
    verdict.dataset.step = headline.ok ? "" : (steps.find((s) => !s.ok) || {}).step;
    verdict.textContent = headline.text;
    if (tr) mark(tr, headline.ok, steps.flatMap((s) => (s.diffs || []).map((d) => d.field)));
    showSteps(shown, steps, headline);
  }

  // The row of a record that failed gets a red background, and the cells of the fields that differ red text.
  function mark(tr, passed, fields) {
    tr.style.background = passed ? "" : "#fff0f0";
    const cells = new Set(fields.map((f) => COLUMN[f]).filter((i) => i !== undefined));
    [...tr.children].forEach((td, i) => {
      td.classList.toggle("bad", cells.has(i));
      td.style.fontWeight = cells.has(i) ? "bold" : "";
      if (cells.has(i)) td.dataset.differs = "1"; else delete td.dataset.differs;
    });
  }

  function showSteps(shown, steps, headline) {
    const diffsTable = (diffs) => h("table", {class: "diffs"},
      h("tr", {}, h("th", {}, L("Field", "字段")), h("th", {}, L("Catalog row (on screen)", "目录记录（显示）")), h("th", {}, L("Ledger entry", "账本条目"))),
      diffs.map((d) => h("tr", {}, h("td", {}, d.field), h("td", {class: "bad"}, show(d.row)), h("td", {}, show(d.entry)))));
    details.replaceChildren(
      h("h3", {}, `${L("Verification of access record", "调阅记录验证")} #${shown.id} (${L("ledger entry", "账本条目")} ${shown.seq})`),
      h("p", {class: headline.ok ? "ok" : "bad"}, headline.text),
      h("ol", {class: "steps"}, steps.map((s) => h("li", {class: s.ok ? "ok" : "bad", dataset: {step: s.step}},
        `${s.ok ? "✓" : "✗"} ${STEPS[s.step] || s.step}: ${s.text}`,
        s.diffs && s.diffs.length ? diffsTable(s.diffs) : null))),
      ...steps.filter((s) => s.entry).map((s) => h("details", {},
        h("summary", {}, `${L("Ledger entry", "账本条目")} ${s.entry.seq} (${s.entry.kind})`),
        h("pre", {}, JSON.stringify(s.entry, null, 1)))));
  }

  section.replaceChildren(
    h("h2", {}, L("Access records", "调阅记录")),
    h("p", {class: "muted"}, L("Every use of footage, allowed or refused, is a ledger entry (HB-17.3, BJ-13.2, CN-16). Verify checks a record in this browser against the signed ledger.",
      "每次调阅（允许或拒绝）都记入账本。“验证”在本浏览器中对照已签名的账本核验记录。")),
    keyPanel, filters, problem, list, pager, details);
  let first = true;
  section.addEventListener("tabshow", () => { if (!first) load(); first = false; });
  await Promise.all([loadKey(), load()]);
}
