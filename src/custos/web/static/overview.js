// The PSB overview: every unit filed with the officer's PSB (HB-11, CN-14), worst first, with its cameras,
// filings, outages, reports, open requests and findings. A unit's name opens its details; from there its
// findings or its registry. Units filed with another PSB never appear (the API leaves them out).
"use strict";
import {get, h, L, showProblem, table, ymdhms} from "/static/common.js";

const SEVERITIES = {critical: "严重", high: "高", medium: "中", low: "低"};

const STYLE = `
.ov-totals{display:flex;gap:10px;flex-wrap:wrap;margin:.6em 0}
.ov-total{border:1px solid #ccc;border-radius:6px;padding:6px 12px;background:#fff;font-size:12px}
.ov-total b{display:block;font-size:18px}
.ov-unit{background:none;border:none;color:#246;text-decoration:underline;cursor:pointer;padding:0;font:inherit}
tr.ov-selected td{background:#eef4ff}
.ov-n0{color:#aaa}.ov-bad{color:#b00;font-weight:bold}.ov-warn{color:#a60}
#ov-details{border:1px solid #ccd;padding:8px 12px;margin:1em 0;background:#fafcff}
#ov-details[hidden]{display:none}
`;

// Worst first: critical findings, overdue filings, high findings, open outages, then the rest.
function score(u) {
  const f = u.findings, fl = u.filing;
  return [f.critical, fl.overdue, f.high, u.open_outages, f.medium, fl.due, f.low, u.open_requests];
}
function worstFirst(a, b) {
  const sa = score(a), sb = score(b);
  for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return sb[i] - sa[i];
  return a.name.localeCompare(b.name);
}

const num = (n, cls = "ov-bad") => h("span", {class: n ? cls : "ov-n0"}, String(n));

function openTab(name) {
  const b = document.querySelector(`#tabs button[data-tab="${name}"]`);
  if (b) b.click();
}

export async function mount(section, app) {
  if (!document.getElementById("overview-style")) document.head.append(h("style", {id: "overview-style"}, STYLE));
  const msg = h("p", {id: "ov-msg"});
  const head = h("p", {class: "muted", id: "ov-asof"});
  const totals = h("div", {class: "ov-totals", id: "ov-totals"});
  const list = h("div", {id: "ov-list"});
  const details = h("div", {id: "ov-details", hidden: true});
  section.replaceChildren(
    h("h2", {}, L("PSB overview", "辖区概览")),
    h("p", {class: "muted"}, L("The units filed with your public security bureau (HB-11, CN-14), worst first.",
      "在本公安机关备案的单位，问题最多的在前。")),
    h("button", {type: "button", id: "ov-refresh", onclick: () => load()}, L("Refresh", "刷新")),
    msg, head, totals, list, details);

  let selected = null;
  let data = null;

  async function showDetails(u) {
    selected = u.id;
    for (const tr of list.querySelectorAll("tbody tr")) tr.classList.toggle("ov-selected", tr.dataset.unitId === String(u.id));
    const err = h("p", {});
    const body = h("div", {}, h("p", {class: "muted"}, L("Loading…", "加载中…")));
    details.hidden = false;
    details.replaceChildren(
      h("h3", {}, u.name),
      h("p", {},
        h("button", {type: "button", id: "ov-show-findings", onclick: async () => {
          const m = await import("/static/findings.js");
          m.showUnit(u.id);
          openTab("findings");
        }}, L("Its findings", "查看检查发现")), " ",
        h("button", {type: "button", id: "ov-show-registry", onclick: async () => {
          const m = await import("/static/registry.js");
          m.showUnit(u.id);
          openTab("registry");
        }}, L("Its registry and filings", "查看登记和备案")), " ",
        h("button", {type: "button", onclick: () => { details.hidden = true; selected = null; load(); }}, L("Close", "关闭"))),
      err, body);
    try {
      const [unit, status, filings] = await Promise.all([
        get(`units/${u.id}`), get(`units/${u.id}/filing-status`), get(`filings?unit_id=${u.id}&limit=20`)]);
      if (selected !== u.id) return;
      const late = status.cameras.filter((d) => d.status !== "filed");
      body.replaceChildren(
        h("p", {}, `${L("Address", "地址")}: ${unit.address || "-"} · ${L("County", "区县")}: ${unit.county || "-"} · `,
          `${L("Government body", "政府机关")}: ${unit.government ? L("yes", "是") : L("no", "否")}`),
        h("h4", {}, L("Cameras not filed", "未备案摄像机")),
        table(late, [
          [L("Camera", "摄像机"), (d) => d.camera],
          [L("Status", "状态"), (d) => h("span", {class: d.status === "overdue" ? "bad" : "warn"}, d.status)],
          [L("Due", "期限"), (d) => (d.due ? ymdhms(d.due).slice(0, 10) : "-")],
          [L("Keys", "条款"), (d) => h("span", {class: "keys"}, d.keys.join(", "))],
          [L("Why", "说明"), (d) => d.reason],
        ], {empty: L("Every camera in use is filed.", "在用摄像机均已备案。")}),
        h("h4", {}, L("Latest filings", "最近备案")),
        table(filings.items, [
          [L("No.", "编号"), (f) => String(f.id)],
          [L("Kind", "类型"), (f) => f.kind],
          [L("Submitted", "提交时间"), (f) => ymdhms(f.submitted_at)],
          [L("Received", "接收时间"), (f) => (f.received_at ? ymdhms(f.received_at) : h("span", {class: "warn"}, L("awaiting receipt", "待接收")))],
          [L("Form", "表单"), (f) => h("a", {href: `/api/v1/filings/${f.id}/form.pdf`, download: `filing-${f.id}.pdf`}, "PDF")],
        ], {empty: L("Nothing filed yet.", "尚未备案。")}));
    } catch (e) {
      body.replaceChildren();
      showProblem(err, e);
    }
  }

  async function load() {
    showProblem(msg, null);
    try {
      data = await get("psb/overview");
    } catch (e) {
      showProblem(msg, e);
      list.replaceChildren(); totals.replaceChildren();
      return;
    }
    const t = data.totals;
    head.textContent = `${data.psb} · ${L("as of", "截至")} ${data.as_of.slice(0, 19).replace("T", " ")} UTC`;
    const box = (label, value) => h("div", {class: "ov-total"}, h("b", {}, String(value)), label);
    totals.replaceChildren(
      box(L("units", "单位"), t.units),
      box(L("active cameras", "在用摄像机"), t.cameras.active ?? 0),
      box(L("overdue filings", "逾期备案"), t.filing.overdue),
      box(L("filings due", "待备案"), t.filing.due),
      box(L("open outages", "未结中断"), t.open_outages),
      box(L("open requests", "待办调取"), t.open_requests),
      ...Object.entries(SEVERITIES).map(([k, zh]) => box(`${k} ${zh}`, t.findings[k])));
    const rows = [...data.units].sort(worstFirst);
    const tbl = table(rows, [
      [L("Unit", "单位"), (u) => h("button", {type: "button", class: "ov-unit", onclick: () => showDetails(u)}, u.name)],
      [L("County", "区县"), (u) => u.county || "-"],
      [L("Cameras active / registered / dismantled", "摄像机 在用/登记/拆除"),
        (u) => `${u.cameras.active ?? 0} / ${u.cameras.registered ?? 0} / ${u.cameras.dismantled ?? 0}`],
      [L("Filed", "已备案"), (u) => num(u.filing.filed, "ok")],
      [L("Due", "待备案"), (u) => num(u.filing.due, "ov-warn")],
      [L("Overdue", "逾期"), (u) => num(u.filing.overdue)],
      [L("Next due", "最近期限"), (u) => (u.filing.next_due ? ymdhms(u.filing.next_due).slice(0, 10) : "-")],
      [L("Open outages", "未结中断"), (u) => num(u.open_outages)],
      [L("Reports (30 days)", "报告（30天）"), (u) => String(u.reports_30d)],
      [L("Open requests", "待办调取"), (u) => num(u.open_requests, "ov-warn")],
      ...Object.entries(SEVERITIES).map(([k, zh]) => [`${k} ${zh}`, (u) => num(u.findings[k], k === "low" || k === "medium" ? "ov-warn" : "ov-bad")]),
    ], {empty: L("No unit is filed with your PSB.", "暂无在本公安机关备案的单位。")});
    if (tbl.tagName === "TABLE") {
      tbl.id = "ov-table";
      tbl.querySelectorAll("tbody tr").forEach((tr, i) => {
        tr.dataset.unit = rows[i].name;
        tr.dataset.unitId = String(rows[i].id);
        tr.classList.toggle("ov-selected", rows[i].id === selected);
      });
    }
    list.replaceChildren(tbl);
  }

  section.addEventListener("tabshow", () => load());
}
