// The "duties" tab: a unit's monitoring staff (vetting, training), the duty roster, the shift log,
// inspections, reports to the filing PSB (outages, stops, moved cameras, incidents) and the holds that keep
// footage (HB-17.1, HB-17.2, HB-17.4, HB-17.5, HB-17.6, BJ-12.1..BJ-13.1, CN-8, CN-16). Every form's
// refusal is shown under it with its sentence and article keys; the server decides, this page only asks.
"use strict";
import {get, post, h, L, showProblem, table, form} from "/static/common.js";

const STYLE = `
#tab-duties .bar{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:.4em 0}
#tab-duties section.part{border-top:1px solid #ddd;margin-top:1em;padding-top:.2em}
#tab-duties table.week{table-layout:fixed;width:100%}
#tab-duties table.week td{vertical-align:top;height:4em;font-size:12px}
#tab-duties table.week td.today{background:#f3f8ff}
#tab-duties .shift{background:#eef3e8;border-left:3px solid #5a3;margin:2px 0;padding:1px 4px}
#tab-duties .checks{display:flex;flex-wrap:wrap;gap:2px 10px;border:1px solid #ddd;padding:4px}
#tab-duties .checks label{flex-direction:row;gap:3px;font-size:13px}
#tab-duties input[type=checkbox]{min-width:0}
#tab-duties [hidden]{display:none!important}
#tab-duties .inline{display:inline-flex;gap:4px;align-items:center}
#tab-duties .inline input:not([type=checkbox]){min-width:6em}
#tab-duties .result{background:#f4f8f4;padding:4px 8px;margin:.3em 0}
`;

const DAY = 86400000;
const pad = (n) => String(n).padStart(2, "0");
// Times are entered and shown in the browser's local time (the form helper sends them as UTC).
export const localInput = (d) => {
  const t = new Date(d);
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
};
const lt = (iso) => (iso ? localInput(iso).replace("T", " ") : "-");
const hm = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}`;
const zone = () => {
  const m = -new Date().getTimezoneOffset();
  return `UTC${m < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
};
const dayStart = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate());
const monday = (d) => { const s = dayStart(d); return new Date(s.getTime() - ((s.getDay() + 6) % 7) * DAY); };

// A group of checkboxes, read back with checkedOf(form, name).
function checks(name, options, label) {
  return h("label", {}, label, h("span", {class: "checks", dataset: {name}},
    options.length ? options.map(([v, text]) => h("label", {}, h("input", {type: "checkbox", name, value: String(v)}), text))
      : h("span", {class: "empty"}, L("none", "无"))));
}
const checkedOf = (el, name) => [...el.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
function extend(f, ...nodes) {  // add inputs that the form helper does not make, before its submit button
  const button = f.querySelector("button[type=submit]");
  for (const n of nodes) f.insertBefore(n, button);
  return f;
}

export async function mount(section, app) {
  if (!document.getElementById("custos-duties-style")) document.head.append(h("style", {id: "custos-duties-style"}, STYLE));
  const me = app.me;
  const st = {unit: null, units: [], cameras: [], personnel: [], sites: [], week: monday(new Date()), allHolds: false};
  const camName = (id) => (st.cameras.find((c) => c.id === id) || {name: `#${id}`}).name;
  const isStaff = () => st.unit && me.unit_id === st.unit.id && ["operator", "unit_admin"].includes(me.role);
  const isAdmin = () => isStaff() && me.role === "unit_admin";

  const unitError = h("p", {class: "error"});
  const unitSelect = h("select", {id: "duties-unit", onchange: () => choose(Number(unitSelect.value))});
  const parts = {
    personnel: h("section", {class: "part", id: "duties-personnel"}),
    roster: h("section", {class: "part", id: "duties-roster"}),
    log: h("section", {class: "part", id: "duties-log"}),
    inspections: h("section", {class: "part", id: "duties-inspections"}),
    reports: h("section", {class: "part", id: "duties-reports"}),
    holds: h("section", {class: "part", id: "duties-holds"}),
  };
  section.replaceChildren(
    h("h2", {}, L("Duties and reports", "值守与报告")),
    h("div", {class: "bar"}, h("label", {}, L("Unit", "单位"), " ", unitSelect),
      h("button", {type: "button", onclick: () => reload()}, L("Refresh", "刷新")),
      h("span", {class: "muted"}, L(`Times in local time (${zone()})`, `时间为本地时间 (${zone()})`))),
    unitError, ...Object.values(parts));

  try {
    st.units = (await get("units?limit=500")).items;
  } catch (e) { showProblem(unitError, e); return; }
  const own = st.units.find((u) => u.id === me.unit_id && u.kind === "using_unit");
  const first = own || st.units.find((u) => u.kind === "using_unit") || st.units[0];
  unitSelect.replaceChildren(...st.units.map((u) => h("option", {value: String(u.id), selected: first && u.id === first.id}, `${u.name} (${u.kind})`)));
  if (first) await choose(first.id);
  // The shell shows the tab right after mounting it: that first "tabshow" finds everything just loaded.
  let fresh = true;
  section.addEventListener("tabshow", () => { if (fresh) fresh = false; else if (st.unit) reload(); });

  async function choose(id) {
    st.unit = st.units.find((u) => u.id === id);
    await reload();
  }

  async function reload() {
    showProblem(unitError, null);
    const u = st.unit.id;
    try {
      const [cams, sites] = await Promise.all([get(`registry/cameras?unit_id=${u}&limit=500`), get(`units/${u}/sites`).catch(() => [])]);
      st.cameras = cams.items;
      st.sites = sites;
    } catch (e) { showProblem(unitError, e); }
    await loadPersonnel();  // the roster's form offers the personnel
    await Promise.all([loadRoster(), loadLog(), loadInspections(), loadReports(), loadHolds()]);
  }

  // --- personnel (HB-17.2, BJ-12.1, CN-16) ----------------------------------------------------------------
  async function loadPersonnel() {
    const el = parts.personnel, err = h("p", {class: "error"});
    el.replaceChildren(h("h3", {}, L("Personnel: vetting and training", "人员：审查与培训")), err);
    try { st.personnel = await get(`units/${st.unit.id}/personnel`); } catch (e) { showProblem(err, e); st.personnel = []; }
    el.append(table(st.personnel, [
      ["#", (p) => p.id],
      [L("Name", "姓名"), (p) => p.full_name],
      [L("Post", "岗位"), (p) => p.post],
      [L("Vetted on", "审查日期"), (p) => p.vetted_on ? `${p.vetted_on} (${p.vetting_ref || "-"})` : h("span", {class: "warn"}, L("not vetted", "未审查"))],
      [L("Trained on", "培训日期"), (p) => p.trained ? `${p.trained_on} (${p.training_ref || "-"})` : h("span", {class: "bad"}, L("not trained", "未培训"))],
      [L("Active", "在岗"), (p) => isAdmin() ? activeToggle(p) : (p.active ? "✓" : "✗")],
      [L("Ledger", "账本"), (p) => p.seq],
      [L("Record vetting (CN-16)", "登记审查"), (p) => isAdmin() ? datedForm(p, "vetting") : ""],
      [L("Record training", "登记培训"), (p) => isAdmin() ? datedForm(p, "training") : ""],
    ], {empty: L("No personnel recorded.", "尚无人员记录。")}));
    if (isAdmin()) {
      el.append(h("h3", {}, L("Add personnel", "新增人员")), form([
        {name: "full_name", label: L("Full name", "姓名"), required: true},
        {name: "post", label: L("Post", "岗位"), required: true, placeholder: "monitoring"},
        {name: "vetted_on", label: L("Vetted on", "审查日期"), type: "date"},
        {name: "vetting_ref", label: L("Vetting reference", "审查编号")},
        {name: "trained_on", label: L("Trained on", "培训日期"), type: "date"},
        {name: "training_ref", label: L("Training reference", "培训编号")},
      ], L("Add", "添加"), async (v) => {
        await post(`units/${st.unit.id}/personnel`, v);
        await loadPersonnel();
        await loadRoster();
      }, {id: "personnel-form"}));
    }
  }

  // A dated record of a person: their training or their vetting (POST /personnel/{id}/training or /vetting).
  function datedForm(p, what) {
    const [on, ref] = what === "vetting" ? ["vetted_on", "vetting_ref"] : ["trained_on", "training_ref"];
    const err = h("span", {class: "error"});
    const day = h("input", {type: "date", name: on, required: true});
    const number = h("input", {name: ref, placeholder: L("reference", "编号"), required: true});
    const f = h("form", {class: `inline ${what}`, dataset: {personnel: String(p.id)}}, day, number,
      h("button", {type: "submit"}, L("Save", "保存")), err);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showProblem(err, null);
      try {
        await post(`personnel/${p.id}/${what}`, {[on]: day.value, [ref]: number.value});
        await loadPersonnel();
        await loadRoster();
      } catch (e) { showProblem(err, e); }
    });
    return f;
  }

  // Staff who leave stay on record (past rosters name them) but are no longer put on duty.
  function activeToggle(p) {
    const err = h("span", {class: "error"});
    const b = h("button", {type: "button", class: "active-toggle", dataset: {personnel: String(p.id)}, onclick: async () => {
      showProblem(err, null);
      b.disabled = true;
      try {
        await post(`personnel/${p.id}/active`, {active: !p.active});
        await loadPersonnel();
        await loadRoster();
      } catch (e) { showProblem(err, e); b.disabled = false; }
    }}, p.active ? L("left the post", "已离岗") : L("back on the post", "恢复在岗"));
    return h("span", {class: "inline"}, p.active ? "✓" : "✗", b, err);
  }

  // --- the duty roster (HB-17.1, BJ-12.2) ------------------------------------------------------------------
  async function loadRoster() {
    const el = parts.roster, err = h("p", {class: "error"});
    const start = st.week, end = new Date(start.getTime() + 7 * DAY);
    const move = (days) => { st.week = monday(new Date(st.week.getTime() + days * DAY + DAY / 2)); loadRoster(); };  // DST-proof
    el.replaceChildren(h("h3", {}, L("Duty roster", "值班表")),
      h("div", {class: "bar"},
        h("button", {type: "button", onclick: () => move(-7)}, L("◀ Previous week", "上一周")),
        h("button", {type: "button", onclick: () => { st.week = monday(new Date()); loadRoster(); }}, L("This week", "本周")),
        h("button", {type: "button", onclick: () => move(7)}, L("Next week ▶", "下一周")),
        h("b", {}, `${lt(start.toISOString()).slice(0, 10)} – ${lt(new Date(end.getTime() - 1).toISOString()).slice(0, 10)}`)),
      err);
    let shifts = [];
    try {
      shifts = await get(`units/${st.unit.id}/roster?start=${encodeURIComponent(start.toISOString())}&end=${encodeURIComponent(end.toISOString())}`);
    } catch (e) { showProblem(err, e); }
    const days = [...Array(7)].map((_, i) => new Date(start.getTime() + i * DAY));
    const names = ["Mon 一", "Tue 二", "Wed 三", "Thu 四", "Fri 五", "Sat 六", "Sun 日"];
    const today = dayStart(new Date()).getTime();
    el.append(h("table", {class: "week"},
      h("thead", {}, h("tr", {}, days.map((d, i) => h("th", {}, `${names[i]} ${pad(d.getMonth() + 1)}-${pad(d.getDate())}`)))),
      h("tbody", {}, h("tr", {}, days.map((d) => {
        const a = dayStart(d).getTime(), b = a + DAY;
        const here = shifts.filter((s) => new Date(s.start_utc).getTime() < b && new Date(s.end_utc).getTime() > a);
        return h("td", {class: a === today ? "today" : ""}, here.map((s) => h("div", {class: "shift", dataset: {shift: String(s.id)}},
          `${hm(new Date(s.start_utc))}–${hm(new Date(s.end_utc))} ${s.full_name} · ${s.post}`)));
      })))));
    el.append(table(shifts, [
      ["#", (s) => s.id], [L("Person", "人员"), (s) => s.full_name], [L("Post", "岗位"), (s) => s.post],
      [L("Start", "开始"), (s) => lt(s.start_utc)], [L("End", "结束"), (s) => lt(s.end_utc)], [L("Ledger", "账本"), (s) => s.seq],
    ], {empty: L("No shifts this week.", "本周无排班。")}));
    if (isAdmin()) {
      const now = new Date(); now.setMinutes(0, 0, 0);
      el.append(h("h3", {}, L("Add a shift", "新增班次")), form([
        {name: "personnel_id", label: L("Person", "人员"), required: true,
          options: st.personnel.filter((p) => p.active).map((p) => [p.id, `${p.full_name} (${p.post})${p.trained ? "" : " — not trained 未培训"}`])},
        {name: "post", label: L("Post", "岗位"), required: true, placeholder: "monitoring room"},
        {name: "start", label: L("Start", "开始"), type: "datetime-local", step: 1, required: true, value: localInput(now.getTime() + 3600000)},
        {name: "end", label: L("End", "结束"), type: "datetime-local", step: 1, required: true, value: localInput(now.getTime() + 9 * 3600000)},
      ], L("Add shift", "排班"), async (v) => {
        await post(`units/${st.unit.id}/roster`, {...v, personnel_id: Number(v.personnel_id)});
        await Promise.all([loadRoster(), loadLog()]);
      }, {id: "shift-form"}));
    }
  }

  // --- the shift log (HB-17.1, BJ-12.2) --------------------------------------------------------------------
  async function loadLog() {
    const el = parts.log, err = h("p", {class: "error"});
    el.replaceChildren(h("h3", {}, L("Shift log", "值班日志")), err);
    const now = new Date();
    let current = [], entries = [];
    try {
      current = await get(`units/${st.unit.id}/roster?start=${encodeURIComponent(now.toISOString())}&end=${encodeURIComponent(new Date(now.getTime() + 1000).toISOString())}`);
    } catch (e) { showProblem(err, e); }
    const since = current.length ? new Date(Math.min(...current.map((s) => new Date(s.start_utc).getTime()))) : new Date(now.getTime() - DAY);
    el.append(h("p", {class: "muted"}, current.length
      ? L(`On duty now: ${current.map((s) => `${s.full_name} (${s.post}, ${hm(new Date(s.start_utc))}–${hm(new Date(s.end_utc))})`).join("; ")}. Entries of the current shift:`,
        "当前班次的日志：")
      : L("Nobody is on the roster now; the last 24 hours:", "当前无人值班；最近24小时：")));
    try {
      entries = await get(`units/${st.unit.id}/shift-log?since=${encodeURIComponent(since.toISOString())}&limit=200`);
    } catch (e) { showProblem(err, e); }
    el.append(table(entries, [
      [L("At", "时间"), (e) => lt(e.at)], [L("Kind", "类别"), (e) => e.kind], [L("Shift", "班次"), (e) => e.shift_id ?? "-"],
      [L("Entry", "内容"), (e) => e.text], [L("Ledger", "账本"), (e) => e.seq],
    ], {empty: L("No entries.", "暂无记录。")}));
    if (isStaff()) {
      el.append(form([
        {name: "kind", label: L("Kind", "类别"), required: true, options: [["observation", "observation 观察"], ["handover", "handover 交接"], ["fault", "fault 故障"], ["other", "other 其他"]]},
        {name: "shift_id", label: L("Shift", "班次"), options: [["", L("none", "无")], ...current.map((s) => [s.id, `#${s.id} ${s.full_name} · ${s.post}`])], value: current.length ? current[0].id : ""},
        {name: "text", label: L("Entry", "内容"), type: "textarea", required: true},
      ], L("Write in the log", "写入日志"), async (v) => {
        await post(`units/${st.unit.id}/shift-log`, {...v, shift_id: v.shift_id ? Number(v.shift_id) : undefined});
        await loadLog();
      }, {id: "log-form"}));
    }
  }

  // --- inspections (HB-17.1, BJ-12.2; CN-8) ----------------------------------------------------------------
  async function loadInspections() {
    const el = parts.inspections, err = h("p", {class: "error"});
    el.replaceChildren(h("h3", {}, L("Inspections", "检查记录")), err);
    let rows = [];
    try { rows = await get(`units/${st.unit.id}/inspections`); } catch (e) { showProblem(err, e); }
    const site = (id) => (st.sites.find((s) => s.id === id) || {name: id ?? "-"}).name;
    el.append(table(rows, [
      [L("Performed", "时间"), (i) => lt(i.performed_at)], [L("Kind", "类别"), (i) => i.kind], [L("By", "执行人"), (i) => i.performed_by],
      [L("Cameras", "摄像机"), (i) => i.cameras.map(camName).join(", ")], [L("Site", "场所"), (i) => site(i.site_id)],
      [L("Result", "结果"), (i) => i.result],
      [L("Problems", "问题"), (i) => i.problems_found ? h("span", {class: "bad"}, L("yes", "有")) : L("no", "无")],
      [L("Cameras found", "发现摄像机"), (i) => i.cameras_found ?? "-"], [L("Ledger", "账本"), (i) => i.seq],
    ], {empty: L("No inspections recorded.", "尚无检查记录。")}));
    if (!isStaff()) return;
    const f = form([
      {name: "kind", label: L("Kind", "类别"), required: true, options: [["safety", "safety 安全"], ["maintenance", "maintenance 维护"], ["private_space", "private space 隐私场所 (CN-8)"]]},
      {name: "performed_at", label: L("Performed at", "检查时间"), type: "datetime-local", step: 1, required: true, value: localInput(Date.now())},
      {name: "performed_by", label: L("Performed by", "执行人"), required: true},
      {name: "result", label: L("Result", "结果"), type: "textarea", required: true},
      {name: "site_id", label: L("Site", "场所"), options: [["", "-"], ...st.sites.map((s) => [s.id, s.name])]},
      {name: "cameras_found", label: L("Hidden cameras found (private space)", "发现的隐藏摄像机数"), type: "number", min: 0},
    ], L("Record inspection", "登记检查"), async (v, formEl) => {
      await post(`units/${st.unit.id}/inspections`, {
        ...v, site_id: v.site_id ? Number(v.site_id) : undefined,
        problems_found: formEl.querySelector("input[name=problems_found]").checked,
        camera_ids: checkedOf(formEl, "camera_ids").map(Number),
      });
      await Promise.all([loadInspections(), loadReports()]);
    }, {id: "inspection-form"});
    el.append(extend(f, checks("camera_ids", st.cameras.map((c) => [c.id, c.name]), L("Cameras checked", "检查的摄像机")),
      h("label", {}, L("Problems found", "发现问题"), h("input", {type: "checkbox", name: "problems_found"}))));
  }

  // --- reports to the filing PSB (HB-17.4, HB-17.5, BJ-12.3, BJ-13.1) ------------------------------------
  async function loadReports() {
    const el = parts.reports, err = h("p", {class: "error"});
    el.replaceChildren(h("h3", {}, L("Reports to the PSB", "向公安机关报告")), err);
    let list = {items: []}, outages = [];
    try {
      [list, outages] = await Promise.all([
        get(`reports?unit_id=${st.unit.id}&limit=200`),
        isStaff() ? get(`units/${st.unit.id}/outages/unreported`) : Promise.resolve([]),
      ]);
    } catch (e) { showProblem(err, e); }
    el.append(table(list.items, [
      ["#", (r) => r.id], [L("Kind", "类别"), (r) => r.kind], [L("Cameras", "摄像机"), (r) => r.cameras.map(camName).join(", ")],
      [L("From", "自"), (r) => lt(r.start_utc)], [L("To", "至"), (r) => (r.end_utc ? lt(r.end_utc) : L("ongoing", "持续中"))],
      [L("Description", "说明"), (r) => r.description],
      [L("Outages", "中断"), (r) => r.outages.join(", ")],
      [L("Holds", "保全"), (r) => r.holds.map((id) => `#${id}`).join(", ")],
      [L("Submitted", "提交"), (r) => lt(r.submitted_at)],
      [L("Received by the PSB", "公安机关签收"), (r) => r.received_at ? lt(r.received_at)
        : me.role === "psb_officer" && me.unit_id === r.psb_unit_id ? receiveButton(r) : h("span", {class: "warn"}, L("not yet", "未签收"))],
      [L("Ledger", "账本"), (r) => r.seq],
    ], {empty: L("No reports.", "暂无报告。")}));
    if (!isStaff()) return;
    const cams = () => checks("camera_ids", st.cameras.map((c) => [c.id, c.name]), L("Cameras", "摄像机"));

    // Outages the recorder wrote that no report lists yet.
    el.append(h("h3", {}, L("Unreported outages", "未报告的中断")), table(outages, [
      ["", (o) => h("input", {type: "checkbox", name: "outage_ids", value: String(o.id), form: "outage-form"})],
      ["#", (o) => o.id], [L("Camera", "摄像机"), (o) => camName(o.camera_id)], [L("From", "自"), (o) => lt(o.start_utc)],
      [L("To", "至"), (o) => (o.end_utc ? lt(o.end_utc) : L("ongoing", "持续中"))], [L("Cause", "原因"), (o) => o.cause],
    ], {empty: L("No unreported outages.", "没有未报告的中断。")}));
    if (outages.length) {
      el.append(form([{name: "description", label: L("Description (none ticked: all of them)", "说明（未勾选即全部）"), required: true}],
        L("Report outages", "报告中断"), async (v) => {
          const ids = [...document.querySelectorAll("input[name=outage_ids][form=outage-form]:checked")].map((i) => Number(i.value));
          await post("reports/outage", {unit_id: st.unit.id, description: v.description, outage_ids: ids.length ? ids : undefined});
          await loadReports();
        }, {id: "outage-form"}));
    }

    el.append(h("h3", {}, L("Maintenance stop or moved camera", "维护停机或摄像机移位")));
    const stop = form([
      {name: "kind", label: L("Kind", "类别"), required: true, options: [["maintenance_stop", "maintenance stop 维护停机"], ["moved_camera", "moved camera 摄像机移位"]]},
      {name: "start", label: L("From", "自"), type: "datetime-local", step: 1, required: true, value: localInput(Date.now())},
      {name: "end", label: L("To (if known)", "至（如已知）"), type: "datetime-local", step: 1},
      {name: "description", label: L("Description", "说明"), type: "textarea", required: true},
    ], L("Report", "报告"), async (v, formEl) => {
      await post("reports/stop", {...v, unit_id: st.unit.id, camera_ids: checkedOf(formEl, "camera_ids").map(Number)});
      await loadReports();
    }, {id: "stop-form"});
    el.append(extend(stop, cams()));

    el.append(h("h3", {}, L("Incident: suspicious information (its footage goes on hold)", "事件报告：可疑情况（录像将被保全）")));
    const result = h("div", {id: "incident-result"});
    const incident = form([
      {name: "start", label: L("From", "自"), type: "datetime-local", step: 1, required: true, value: localInput(Date.now() - 1800000)},
      {name: "end", label: L("To", "至"), type: "datetime-local", step: 1, required: true, value: localInput(Date.now())},
      {name: "description", label: L("What happened", "情况说明"), type: "textarea", required: true},
    ], L("Report incident", "报告事件"), async (v, formEl) => {
      const r = await post("reports/incident", {...v, unit_id: st.unit.id, camera_ids: checkedOf(formEl, "camera_ids").map(Number)});
      await Promise.all([loadReports(), loadHolds()]);
      const holds = await get("holds");
      const mine = holds.filter((x) => x.report_id === r.id);  // the holds this report placed
      parts.reports.querySelector("#incident-result").replaceChildren(h("div", {class: "result"},
        h("b", {}, L(`Incident report #${r.id} filed (ledger ${r.seq}); footage on hold:`, `事件报告 #${r.id} 已提交；已保全录像：`)),
        h("ul", {}, mine.map((x) => h("li", {dataset: {hold: String(x.id)}},
          `${L("hold", "保全")} #${x.id}: ${x.camera} ${lt(x.start_utc)} – ${lt(x.end_utc)}` + (x.retention_class ? ` (${x.retention_class})` : "")
          + (x.keys && x.keys.length ? ` [${x.keys.join(", ")}]` : ""))))));
    }, {id: "incident-form"});
    el.append(extend(incident, cams()), result);
  }

  function receiveButton(r) {
    const err = h("span", {class: "error"});
    return h("span", {}, h("button", {type: "button", class: "receive", onclick: async () => {
      showProblem(err, null);
      try { await post(`reports/${r.id}/receive`); await loadReports(); } catch (e) { showProblem(err, e); }
    }}, L("Receive", "签收")), err);
  }

  // --- holds (HB-17.5, HB-17.6) ------------------------------------------------------------------------------
  async function loadHolds() {
    const el = parts.holds, err = h("p", {class: "error"});
    const all = h("input", {type: "checkbox", checked: st.allHolds, onchange: () => { st.allHolds = all.checked; loadHolds(); }});
    el.replaceChildren(h("h3", {}, L("Holds on this unit's cameras", "本单位摄像机的录像保全")),
      h("label", {class: "inline"}, all, L("include released holds", "含已解除的保全")), err);
    let rows = [];
    try { rows = await get(st.allHolds ? "holds" : "holds?active=true"); } catch (e) { showProblem(err, e); }
    const names = new Set(st.cameras.map((c) => c.name));
    rows = rows.filter((x) => names.has(x.camera));
    const mayRelease = (x) => !x.released_at && (x.owner === me.username || me.role === "psb_approver" || (me.role === "unit_admin" && isStaff()));
    el.append(table(rows, [
      ["#", (x) => x.id], [L("Camera", "摄像机"), (x) => x.camera],
      [L("From", "自"), (x) => lt(x.start_utc)], [L("To", "至"), (x) => lt(x.end_utc)],
      [L("Reason", "原因"), (x) => x.reason], [L("Case", "案件"), (x) => x.case_ref || "-"],
      [L("Retention class", "保存类别"), (x) => x.retention_class || L("until released", "至解除")],
      [L("Keys", "条款"), (x) => h("span", {class: "keys"}, (x.keys || []).join(", "))],
      [L("Placed by", "来源"), (x) => x.report_id != null ? h("span", {class: "hold-report", dataset: {report: String(x.report_id)}},
        L(`incident report #${x.report_id}`, `事件报告 #${x.report_id}`)) : L("by hand", "手动")],
      [L("Owner", "责任人"), (x) => x.owner], [L("Placed", "设置"), (x) => lt(x.created_at)], [L("Ledger", "账本"), (x) => x.seq],
      [L("Release", "解除"), (x) => x.released_at ? `${lt(x.released_at)}: ${x.release_reason}` : mayRelease(x) ? releaseForm(x) : ""],
    ], {empty: st.allHolds ? L("No holds.", "没有保全。") : L("No active holds.", "没有生效的保全。")}));
  }

  function releaseForm(x) {
    const err = h("span", {class: "error"});
    const reason = h("input", {name: "reason", required: true, minLength: 4, placeholder: L("why", "原因")});
    const f = h("form", {class: "inline release", dataset: {hold: String(x.id)}}, reason, h("button", {type: "submit"}, L("Release", "解除")), err);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showProblem(err, null);
      try { await post(`holds/${x.id}/release`, {reason: reason.value}); await loadHolds(); } catch (e) { showProblem(err, e); }
    });
    return f;
  }
}
