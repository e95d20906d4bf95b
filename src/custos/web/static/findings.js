// The findings tab: what is still wrong in the registry of the units the caller may see, each finding with
// the articles it rests on and each pack's penalty range (HB-20, BJ-19..25, CN-26..CN-30). Findings are
// computed, not stored: one disappears here when its cause is fixed.
"use strict";
import {get, h, L, showProblem, table} from "/static/common.js";

const SEVERITIES = {critical: "严重", high: "高", medium: "中", low: "低"};
const PARTIES = {unit: "单位", individual: "个人", responsible: "责任人"};

const STYLE = `
.fd-counts{display:flex;gap:10px;flex-wrap:wrap;margin:.6em 0}
.fd-count{border:1px solid #ccc;border-radius:6px;padding:6px 12px;min-width:6em;text-align:center;cursor:pointer;background:#fff}
.fd-count b{display:block;font-size:20px}
.fd-count.active{outline:2px solid #246}
.sev{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;white-space:nowrap}
.sev-critical{background:#900;color:#fff}.sev-high{background:#fdd;color:#900}
.sev-medium{background:#fec;color:#840}.sev-low{background:#eef;color:#336}
.fd-count.sev-critical b{color:#fff}
.fd-pen{font-size:12px;margin:0;padding-left:1em}
.fd-unc{color:#a60;font-weight:bold}
.fd-code{font-family:monospace;font-size:11px;color:#777}
.fd-bar{display:flex;gap:12px;align-items:flex-end;flex-wrap:wrap}
`;

const state = {unit: "", severity: "", offset: 0};
const LIMIT = 100;
let reopen = null;

// The PSB overview asks for one unit's findings: applied now if the tab is up, else when it is shown.
export function showUnit(unitId, severity = "") {
  state.unit = unitId === null || unitId === undefined ? "" : String(unitId);
  state.severity = severity;
  state.offset = 0;
  if (reopen) reopen();
}

const uncertain = () => h("span", {class: "fd-unc", title: L("the pack marks its reading of the text uncertain", "条文理解存疑")},
  L("uncertain", "存疑"));

function penalties(f) {
  if (!f.penalties || !f.penalties.length) return h("span", {class: "muted"}, "-");
  return h("ul", {class: "fd-pen"}, f.penalties.map((p) => h("li", {},
    `${p.party} ${PARTIES[p.party] || ""}: `,
    p.ranges.flatMap((r, i) => [i ? "; " : "", `${r.pack} ${r.range} `, h("span", {class: "keys"}, r.keys.join(", ")),
      r.uncertain ? " " : null, r.uncertain ? uncertain() : null]))));
}

export async function mount(section, app) {
  if (!document.getElementById("findings-style")) document.head.append(h("style", {id: "findings-style"}, STYLE));
  const unitSel = h("select", {id: "fd-unit", onchange: () => { state.unit = unitSel.value; state.offset = 0; load(); }},
    h("option", {value: ""}, L("all units", "全部单位")));
  const sevSel = h("select", {id: "fd-severity", onchange: () => { state.severity = sevSel.value; state.offset = 0; load(); }},
    h("option", {value: ""}, L("any", "全部")),
    Object.entries(SEVERITIES).map(([k, zh]) => h("option", {value: k}, `${k} ${zh}`)));
  const msg = h("p", {id: "fd-msg"});
  const counts = h("div", {class: "fd-counts", id: "fd-counts"});
  const list = h("div", {id: "fd-list"});
  const pager = h("div", {id: "fd-pager"});
  const asOf = h("p", {class: "muted", id: "fd-asof"});
  section.replaceChildren(
    h("h2", {}, L("Findings", "检查发现")),
    h("p", {class: "muted"}, L("The registry checked against the policy packs in force: each finding cites its articles and each pack's penalty range.",
      "按现行政策包检查登记信息：每项发现均注明条款及罚款幅度。")),
    h("div", {class: "fd-bar"},
      h("label", {}, L("Unit", "单位"), " ", unitSel),
      h("label", {}, L("Severity at least", "严重程度不低于"), " ", sevSel),
      h("button", {type: "button", id: "fd-refresh", onclick: () => load()}, L("Refresh", "刷新"))),
    msg, counts, asOf, list, pager);

  try {
    const r = await get("units?limit=500");
    const using = r.items.filter((u) => u.kind === "using_unit");
    unitSel.append(...(using.length ? using : r.items).map((u) => h("option", {value: u.id}, u.name)));
  } catch (e) {
    showProblem(msg, e);
  }

  let seq = 0;
  async function load() {
    unitSel.value = state.unit;
    if (unitSel.value !== state.unit) {  // a unit not in the list (yet): add it rather than show all
      unitSel.append(h("option", {value: state.unit}, `#${state.unit}`));
      unitSel.value = state.unit;
    }
    sevSel.value = state.severity;
    const q = new URLSearchParams({limit: LIMIT, offset: state.offset});
    if (state.unit) q.set("unit_id", state.unit);
    if (state.severity) q.set("severity", state.severity);
    const mine = ++seq;
    showProblem(msg, null);
    let r;
    try {
      r = await get(`findings?${q}`);
    } catch (e) {
      if (mine === seq) { showProblem(msg, e); list.replaceChildren(); counts.replaceChildren(); pager.replaceChildren(); }
      return;
    }
    if (mine !== seq) return;
    counts.replaceChildren(
      h("div", {class: "fd-count", id: "fd-count-total"}, h("b", {}, String(r.total)), L("total", "合计")),
      ...Object.entries(SEVERITIES).map(([k, zh]) => h("div", {
        class: `fd-count sev-${k}${state.severity === k ? " active" : ""}`, "data-severity": k,
        title: L("show this severity and above", "显示此级别及以上"),
        onclick: () => { state.severity = state.severity === k ? "" : k; state.offset = 0; load(); },
      }, h("b", {}, String(r.counts[k] ?? 0)), `${k} ${zh}`)));
    asOf.textContent = `${L("as of", "截至")} ${r.as_of.slice(0, 19).replace("T", " ")} UTC`;
    const rows = r.findings;
    const t = table(rows, [
      [L("Unit", "单位"), (f) => f.unit],
      [L("Camera / site", "摄像机/场所"), (f) => f.subject],
      [L("What", "问题"), (f) => h("span", {}, f.message, h("br"), h("span", {class: "fd-code"}, f.code))],
      [L("Severity", "严重程度"), (f) => h("span", {class: `sev sev-${f.severity}`}, `${f.severity} ${SEVERITIES[f.severity] || ""}`)],
      [L("Keys", "条款"), (f) => h("span", {class: "keys"}, f.keys.join(", "))],
      [L("Penalty ranges", "罚款幅度"), (f) => penalties(f)],
      [L("Uncertain", "存疑"), (f) => (f.uncertain ? uncertain() : "")],
    ], {empty: L("No findings: nothing is wrong that the packs can see.", "无检查发现。")});
    if (t.tagName === "TABLE") {
      t.id = "fd-table";
      t.querySelectorAll("tbody tr").forEach((tr, i) => {
        Object.assign(tr.dataset, {code: rows[i].code, severity: rows[i].severity, unit: rows[i].unit});
      });
    }
    list.replaceChildren(t);
    const more = state.offset + rows.length < r.total;
    pager.replaceChildren(r.total > LIMIT ? h("p", {},
      h("button", {type: "button", disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - LIMIT); load(); }},
        L("previous", "上一页")), ` ${state.offset + 1}–${state.offset + rows.length} / ${r.total} `,
      h("button", {type: "button", disabled: !more, onclick: () => { state.offset += LIMIT; load(); }}, L("next", "下一页"))) : "");
  }

  let visible = false;
  reopen = () => { if (visible) load(); };
  section.addEventListener("tabshow", () => { visible = true; load(); });
  section.addEventListener("tabhide", () => { visible = false; });
}
