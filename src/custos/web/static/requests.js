// The "requests" tab: requests for footage from creation to viewing (HB-15, HB-16, BJ-16, BJ-17, CN-20,
// CN-21). An authority's request is created by an officer, joined by a second officer in their own session
// with their credential, given the PSB's approval document, submitted, and decided by an approver who is
// none of its people; only then does the gate serve its cameras, span and modes. "View footage" asks the
// gate in every state, so before approval it shows the gate's refusal and its keys.
"use strict";
import {api, get, post, h, L, showProblem, Problem} from "/static/common.js";

const STYLE = `
#tab-requests .bar{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:.4em 0}
#tab-requests article.request{border:1px solid #ccc;border-left:4px solid #888;border-radius:4px;padding:6px 10px;margin:8px 0}
#tab-requests article.request.open{border-left-color:#a60}
#tab-requests article.request.submitted{border-left-color:#36a}
#tab-requests article.request.approved{border-left-color:#070}
#tab-requests article.request.rejected,#tab-requests article.request.withdrawn,#tab-requests article.request.expired{border-left-color:#b00;opacity:.85}
#tab-requests article.request header{display:flex;gap:10px;align-items:baseline;justify-content:flex-start}
#tab-requests dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.4em 0;font-size:13px}
#tab-requests dt{color:#555}#tab-requests dd{margin:0}
#tab-requests .actions{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;border-top:1px dashed #ddd;padding-top:6px}
#tab-requests .actions form{display:inline-flex;gap:4px;align-items:center;flex-wrap:wrap}
#tab-requests .actions input{min-width:8em}
#tab-requests .viewer{border-top:1px dashed #ddd;margin-top:6px;padding-top:6px}
#tab-requests .viewer video{max-width:480px;display:block;margin-top:4px}
#tab-requests .checks{display:flex;flex-wrap:wrap;gap:2px 10px;border:1px solid #ddd;padding:4px}
#tab-requests .checks label{flex-direction:row;gap:3px;font-size:13px}
#tab-requests input[type=checkbox]{min-width:0}
#tab-requests [hidden]{display:none!important}
#tab-requests .pill.open{background:#fec}#tab-requests .pill.submitted{background:#def}#tab-requests .pill.approved{background:#dfd}
#tab-requests .pill.rejected,#tab-requests .pill.withdrawn,#tab-requests .pill.expired{background:#fdd}
`;

const OFFICERS = ["psb_officer", "authority_officer"];
const STAFF = ["operator", "unit_admin"];
const DECIDERS = ["psb_approver", "unit_admin"];
const COPY_MODES = ["playback", "thumbnail", "download", "export", "copy"];
const VIEW_MODES = ["playback", "thumbnail"];
const KINDS = {
  authority: L("authority (case)", "机关调取"),
  emergency: L("emergency", "紧急调取"),
  data_subject: L("data subject's viewing", "当事人查看"),
};
const STATUS = {
  open: L("open", "待提交"), submitted: L("submitted", "待审批"), approved: L("approved", "已批准"),
  rejected: L("rejected", "已驳回"), withdrawn: L("withdrawn", "已撤回"), expired: L("expired", "已过期"),
};
// A viewing is fetched whole before it plays (so that a refusal can be shown with its keys and every click
// is exactly one access record); a longer span is asked for in parts.
const MAX_VIEW_MS = 30 * 60 * 1000;
const DEFAULT_VIEW_MS = 60 * 1000;  // the span offered first: a minute loads fast; the officer widens it as needed

const pad = (n) => String(n).padStart(2, "0");
const localInput = (d) => {
  const t = new Date(d);
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
};
const lt = (iso) => (iso ? localInput(iso).replace("T", " ") : "-");
const zone = () => {
  const m = -new Date().getTimezoneOffset();
  return `UTC${m < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(m) / 60))}:${pad(Math.abs(m) % 60)}`;
};
const checkedOf = (el, name) => [...el.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
const refusal = (detail) => new Problem(0, {detail});

async function upload(file, kind) {
  const q = new URLSearchParams({kind, filename: file.name});
  return api("POST", `documents?${q}`, file);  // the body is the file; the server hashes and keeps it
}

export async function mount(section, app) {
  if (!document.getElementById("custos-requests-style")) document.head.append(h("style", {id: "custos-requests-style"}, STYLE));
  const me = app.me;
  const kinds = [...(OFFICERS.includes(me.role) ? ["authority", "emergency"] : []), ...(STAFF.includes(me.role) ? ["data_subject"] : [])];
  const listErr = h("p", {class: "error"});
  const list = h("div", {id: "request-list"});
  const status = h("select", {id: "request-status", onchange: () => load()},
    [["", L("all", "全部")], ...Object.entries(STATUS).filter(([k]) => k !== "expired")].map(([v, t]) => h("option", {value: v}, t)));
  section.replaceChildren(
    h("h2", {}, L("Requests for footage", "调取申请")),
    h("p", {class: "muted"}, L(
      "An authority's request needs two officers, each joining in their own session with their credential, the PSB's approval document and an approver who is none of them; nothing in its scope is served before approval. Times in local time",
      "机关调取需两名以上工作人员各自登录并出示证件、公安机关审批文书，并由非申请人审批；批准前不提供任何录像。本地时间"), ` (${zone()}).`),
    kinds.length ? createForm() : h("p", {class: "muted"}, L("Your role does not file requests.", "您的角色不提交调取申请。")),
    h("h3", {}, L("Requests", "申请列表")),
    h("div", {class: "bar"}, h("label", {}, L("Status", "状态"), " ", status),
      h("button", {type: "button", id: "request-refresh", onclick: () => load()}, L("Refresh", "刷新"))),
    listErr, list);
  await load();
  // The shell shows the tab right after mounting it: that first "tabshow" finds the list just loaded.
  let fresh = true;
  section.addEventListener("tabshow", () => { if (fresh) fresh = false; else load(); });

  async function load() {
    showProblem(listErr, null);
    try {
      const rows = await get(`requests?limit=200${status.value ? `&status=${status.value}` : ""}`);
      list.replaceChildren(...(rows.length ? rows.map(card) : [h("p", {class: "empty"}, L("No requests.", "暂无申请。"))]));
    } catch (e) { showProblem(listErr, e); }
  }

  // --- a new request ----------------------------------------------------------------------------------------
  function createForm() {
    const err = h("p", {class: "error"});
    const done = h("p", {class: "ok", id: "request-created"});
    const cams = app.cameras().map((c) => c.name);
    const row = (only, label, input) => h("label", {dataset: {kinds: only.join(" ")}}, label, " ", input);
    const kind = h("select", {name: "kind", id: "request-kind", onchange: () => show()},
      kinds.map((k) => h("option", {value: k}, KINDS[k])));
    const modes = h("span", {class: "checks", id: "request-modes"});
    const now = Date.now();
    const f = h("form", {class: "form", id: "request-form"},
      h("label", {}, L("Kind", "类别"), " ", kind),
      h("label", {}, L("Cameras", "摄像机"), h("span", {class: "checks"}, cams.length
        ? cams.map((c) => h("label", {}, h("input", {type: "checkbox", name: "cameras", value: c}), c))
        : h("span", {class: "empty"}, L("none listed", "无")))),
      h("label", {}, L("Other cameras (names, comma-separated)", "其他摄像机（名称，逗号分隔）"), " ", h("input", {name: "more_cameras"})),
      h("label", {}, L("From", "自"), " ", h("input", {type: "datetime-local", step: 1, name: "start", required: true, value: localInput(now - 3600000)})),
      h("label", {}, L("To", "至"), " ", h("input", {type: "datetime-local", step: 1, name: "end", required: true, value: localInput(now)})),
      h("label", {}, L("Purpose", "用途"), " ", h("input", {name: "purpose", required: true, minLength: 4, placeholder: "case 2026-117: theft at the gate"})),
      row(["authority", "emergency"], L("Legal basis", "法律依据"), h("input", {name: "legal_basis", placeholder: "PRC Criminal Procedure Law art. 54"})),
      row(["emergency"], L("The emergency", "紧急情况"), h("input", {name: "emergency"})),
      row(["data_subject"], L("Person concerned", "当事人"), h("input", {name: "subject_name"})),
      row(["data_subject"], L("Relation", "关系"), h("select", {name: "subject_relation"},
        [["self", "self 本人"], ["close_relative", "close relative 近亲属"], ["guardian", "guardian 监护人"]].map(([v, t]) => h("option", {value: v}, t)))),
      h("label", {}, L("Modes", "方式"), modes),
      h("label", {}, L("Valid for (days)", "有效天数"), " ", h("input", {type: "number", name: "valid_days", min: 1, value: "7"})),
      row(["authority", "emergency"], L("Your credential (warrant card / work document no.)", "您的证件号（警官证/工作证）"), h("input", {name: "credential_ref"})),
      row(["authority", "emergency"], L("Credential scan (optional)", "证件扫描件（可选）"), h("input", {type: "file", name: "credential_file"})),
      h("button", {type: "submit", id: "request-create"}, L("Create request", "创建申请")), err, done);
    function show() {
      for (const l of f.querySelectorAll("label[data-kinds]")) l.hidden = !l.dataset.kinds.split(" ").includes(kind.value);
      const allowed = kind.value === "data_subject" ? VIEW_MODES : COPY_MODES;
      modes.replaceChildren(...allowed.map((m) => h("label", {}, h("input", {type: "checkbox", name: "modes", value: m, checked: m === "playback"}), m)));
    }
    show();
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showProblem(err, null);
      done.textContent = "";
      const el = f.elements, k = kind.value, officer = k !== "data_subject";
      const cameras = [...checkedOf(f, "cameras"), ...el.more_cameras.value.split(",").map((s) => s.trim()).filter(Boolean)];
      const body = {
        kind: k, cameras, purpose: el.purpose.value,
        start: new Date(el.start.value).toISOString(), end: new Date(el.end.value).toISOString(),
        modes: checkedOf(f, "modes"), valid_days: Number(el.valid_days.value || 7),
      };
      if (officer) Object.assign(body, {legal_basis: el.legal_basis.value || undefined, credential_ref: el.credential_ref.value || undefined});
      if (k === "emergency") body.emergency = el.emergency.value || undefined;
      if (k === "data_subject") Object.assign(body, {subject_name: el.subject_name.value || undefined, subject_relation: el.subject_relation.value});
      if (!body.modes.length) delete body.modes;  // none ticked: every mode the kind permits
      const button = f.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const file = officer && el.credential_file.files[0];
        if (file) body.credential_document_id = (await upload(file, "credential")).id;
        const r = await post("requests", body);
        done.textContent = L(`Request #${r.id} created (ledger ${r.seq}).`, `申请 #${r.id} 已创建。`);
        await load();
      } catch (e) { showProblem(err, e); } finally { button.disabled = false; }
    });
    return h("details", {open: true, id: "request-new"}, h("summary", {}, h("b", {}, L("New request", "新建申请"))), f);
  }

  // --- one request, with what the person logged in may do with it -------------------------------------------
  function card(r) {
    const mine = r.officers.some((o) => o.username === me.username);
    const creator = !!r.created_by && r.created_by.username === me.username;
    const err = h("p", {class: "error action-error"});
    const art = h("article", {class: `request ${r.status}`, dataset: {request: String(r.id), status: r.status}});
    const act = async (fn) => {  // run an action; on success the card shows the request as it is now
      showProblem(err, null);
      for (const b of art.querySelectorAll(".actions button")) b.disabled = true;
      try {
        const updated = await fn();
        art.replaceWith(card(updated || await get(`requests/${r.id}`)));
      } catch (e) {
        showProblem(err, e);
        for (const b of art.querySelectorAll(".actions button")) b.disabled = false;
      }
    };
    const small = (cls, children, submit) => {
      const f = h("form", {class: cls}, ...children);
      f.addEventListener("submit", (ev) => { ev.preventDefault(); act(() => submit(f)); });
      return f;
    };
    const details = [
      [L("Requested by", "申请单位"), h("span", {class: "requested-by"}, `${r.requesting_unit || "-"}`,
        r.created_by ? ` · ${r.created_by.full_name} (${r.created_by.username})` : "", r.created_at ? ` · ${lt(r.created_at)}` : "")],
      [L("Cameras", "摄像机"), r.cameras.join(", ")],
      [L("Span", "时段"), `${lt(r.start_utc)} – ${lt(r.end_utc)}`],
      [L("Modes", "方式"), r.modes.join(", ")],
      [L("Purpose", "用途"), r.purpose],
      r.legal_basis && [L("Legal basis", "法律依据"), r.legal_basis],
      r.emergency && [L("Emergency", "紧急情况"), r.emergency],
      r.subject_name && [L("Person concerned", "当事人"), `${r.subject_name} (${r.subject_relation})`],
      r.kind !== "data_subject" && [L("Officers joined", "已加入的工作人员"), r.officers.length
        ? h("ul", {class: "officers"}, r.officers.map((o) => h("li", {dataset: {username: o.username}},
          `${o.full_name} (${o.username}) · ${L("credential", "证件")} ${o.credential_ref} · ${lt(o.joined_at)}`)))
        : L("none", "无")],
      r.kind !== "data_subject" && [L("Approval document", "审批文书"), r.approval_document
        ? h("span", {class: "document"},
          h("a", {href: `/api/v1/documents/${r.approval_document.id}`, download: r.approval_document.filename}, r.approval_document.filename),
          " · SHA-256 ", h("code", {title: r.approval_document.sha256}, r.approval_document.sha256.slice(0, 16) + "…"))
        : h("span", {class: "warn"}, L("not attached", "未附"))],
      r.submitted_at && [L("Submitted", "提交"), lt(r.submitted_at)],
      r.decided_at && [L("Decided", "审批"), `${lt(r.decided_at)}: ${r.decision_reason}`],
      r.valid_until && [L("Valid until", "有效期至"), lt(r.valid_until)],
      [L("Ledger", "账本"), String(r.seq)],
    ].filter(Boolean);
    const actions = [];
    if (r.status === "open" && r.kind !== "data_subject" && OFFICERS.includes(me.role) && !mine) {
      const cred = h("input", {name: "credential_ref", class: "credential", required: true, placeholder: L("your credential no.", "您的证件号")});
      actions.push(small("join", [cred, h("button", {type: "submit", class: "join"}, L("Join as officer", "作为工作人员加入"))],
        () => post(`requests/${r.id}/join`, {credential_ref: cred.value})));
    }
    if (r.status === "open" && r.kind !== "data_subject" && mine) {
      const file = h("input", {type: "file", name: "approval", class: "approval-file", required: true});
      actions.push(small("attach", [h("span", {}, L("PSB approval document", "公安机关审批文书")), file,
        h("button", {type: "submit", class: "attach"}, L("Upload and attach", "上传并附加"))], async () => {
        if (!file.files[0]) throw refusal(L("choose the file of the approval document", "请选择审批文书文件"));
        const doc = await upload(file.files[0], "approval_document");
        return post(`requests/${r.id}/approval-document`, {document_id: doc.id});
      }));
    }
    if (r.status === "open" && (mine || (r.kind === "data_subject" && STAFF.includes(me.role)))) {
      actions.push(h("button", {type: "button", class: "submit", onclick: () => act(() => post(`requests/${r.id}/submit`))},
        L("Submit for approval", "提交审批")));
    }
    if (r.status === "submitted" && DECIDERS.includes(me.role)) {
      const reason = h("input", {name: "reason", class: "reason", required: true, minLength: 4, placeholder: L("reason for the decision", "审批理由")});
      const ack = h("input", {type: "checkbox", name: "subject_acknowledged", class: "acknowledged"});
      const decide = (approve) => act(() => {
        if (reason.value.trim().length < 4) throw refusal(L("state the reason for the decision", "请填写审批理由"));
        return post(`requests/${r.id}/decision`, {approve, reason: reason.value, subject_acknowledged: ack.checked});
      });
      actions.push(h("form", {class: "decide", onsubmit: (ev) => ev.preventDefault()}, reason,
        r.kind === "data_subject" ? h("label", {}, ack, L("the person acknowledged: view only, no copy, not passed on", "当事人已确认仅查看、不复制、不外传")) : null,
        h("button", {type: "button", class: "approve", onclick: () => decide(true)}, L("Approve", "批准")),
        h("button", {type: "button", class: "reject", onclick: () => decide(false)}, L("Reject", "驳回"))));
    }
    if (["open", "submitted", "approved"].includes(r.status) && creator) {  // only the creator withdraws
      const reason = h("input", {name: "reason", class: "withdraw-reason", required: true, placeholder: L("why", "原因")});
      actions.push(small("withdraw", [reason, h("button", {type: "submit", class: "withdraw"}, L("Withdraw", "撤回"))],
        () => post(`requests/${r.id}/withdraw`, {reason: reason.value})));
    }
    art.append(
      h("header", {}, h("b", {}, L(`Request #${r.id}`, `申请 #${r.id}`)), KINDS[r.kind] || r.kind,
        h("span", {class: `pill ${r.status}`}, STATUS[r.status] || r.status)),
      h("dl", {}, details.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      actions.length ? h("div", {class: "actions"}, actions) : null, err, viewer(r));
    return art;
  }

  // --- viewing through the gate with the request's id --------------------------------------------------------
  function viewer(r) {
    const err = h("p", {class: "error view-error"});
    const out = h("div", {class: "view-out"});
    const camera = h("select", {name: "camera", class: "view-camera"}, r.cameras.map((c) => h("option", {value: c}, c)));
    const start = new Date(r.start_utc), end = new Date(Math.min(new Date(r.end_utc).getTime(), start.getTime() + DEFAULT_VIEW_MS));
    const from = h("input", {type: "datetime-local", step: 1, class: "view-from", value: localInput(start)});
    const to = h("input", {type: "datetime-local", step: 1, class: "view-to", value: localInput(end)});
    const purpose = h("input", {name: "purpose", class: "view-purpose", value: r.purpose, minLength: 4});
    let touched = false;
    for (const i of [from, to]) i.addEventListener("input", () => { touched = true; });
    // Where the camera recorded inside the request's span (metadata, no footage): the first recording is the
    // default span to view.
    async function recordedSpan() {
      try {
        const q = new URLSearchParams({start: r.start_utc, end: r.end_utc});
        const t = await get(`cameras/${encodeURIComponent(camera.value)}/timeline?${q}`);
        if (!t.recorded.length || touched) return;
        const a = Math.max(new Date(t.recorded[0].start).getTime(), new Date(r.start_utc).getTime());
        const b = Math.min(new Date(t.recorded[0].end).getTime(), new Date(r.end_utc).getTime(), a + DEFAULT_VIEW_MS);
        from.value = localInput(Math.floor(a / 1000) * 1000);
        to.value = localInput(Math.ceil(b / 1000) * 1000);
      } catch (e) { /* no timeline for this camera: the request's span stays the default */ }
    }
    camera.addEventListener("change", () => { touched = false; recordedSpan(); });
    recordedSpan();
    let url = null;
    const button = h("button", {type: "submit", class: "view"}, L("View footage", "调阅"));
    const f = h("form", {class: "view-form"}, camera, from, to, purpose, button);
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showProblem(err, null);
      const a = new Date(from.value), b = new Date(to.value);
      if (!(b > a)) { showProblem(err, refusal(L("the end is not after the start", "结束时间应晚于开始时间"))); return; }
      if (b - a > MAX_VIEW_MS) { showProblem(err, refusal(L("view at most 30 minutes at a time", "每次最多调阅30分钟"))); return; }
      const q = new URLSearchParams({start: a.toISOString(), end: b.toISOString(), purpose: purpose.value, request_id: String(r.id)});
      button.disabled = true;
      try {
        const resp = await api("GET", `/api/v1/cameras/${encodeURIComponent(camera.value)}/clip.mp4?${q}`, undefined, {raw: true});
        const record = resp.headers.get("X-Custos-Access-Record");
        const blob = await resp.blob();
        if (url) URL.revokeObjectURL(url);
        url = URL.createObjectURL(blob);
        const video = h("video", {controls: true, muted: true, autoplay: true, playsInline: true, src: url,
          dataset: {camera: camera.value, request: String(r.id), record: record || ""}});
        out.replaceChildren(video, h("p", {class: "muted"},
          L(`${camera.value} ${lt(a.toISOString())} – ${lt(b.toISOString())} · access record #${record}`,
            `调阅记录 #${record}`)));
      } catch (e) {
        out.replaceChildren();
        showProblem(err, e);
      } finally { button.disabled = false; }
    });
    return h("div", {class: "viewer"}, f, err, out);
  }
}
