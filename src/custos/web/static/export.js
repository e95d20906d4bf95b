// Evidence export: choose cameras, a time range, a purpose and a destination; the package is made as a job
// with a progress bar (web/api_exports.py). The access record is written when the job starts (HB-18.2,
// HB-21.5); `custos verify-export PACKAGE` checks the package offline on any machine.
"use strict";
import {L, get, h, post, showProblem} from "/static/common.js";

// datetime-local inputs hold the browser's local time; the API takes UTC.
const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);

export async function mount(section, app) {
  section.append(h("style", {}, `
    #ex-cams{display:flex;flex-wrap:wrap;gap:4px 14px;margin:4px 0}
    #ex-cams label{font-size:13px}
    .ex-form{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:flex-end}
    .ex-form label.col{display:flex;flex-direction:column;font-size:12px}
    .ex-job{border:1px solid #ccc;padding:6px 10px;margin:6px 0;max-width:760px}
    .ex-job progress{width:320px;vertical-align:middle}`));
  const camBox = h("div", {id: "ex-cams"});
  const now = Date.now();
  const start = h("input", {id: "ex-start", type: "datetime-local", step: 1, value: local(now - 600_000), required: true});
  const end = h("input", {id: "ex-end", type: "datetime-local", step: 1, value: local(now), required: true});
  const purpose = h("input", {id: "ex-purpose", required: true, minlength: 4, size: 40,
    placeholder: "e.g. evidence of the theft reported on 23 Nov, case 2026-118"});
  const destination = h("input", {id: "ex-destination", required: true, size: 30,
    placeholder: "e.g. Jianghan PSB case file 2026-118"});
  const requestId = h("input", {id: "ex-request", type: "number", min: 1, size: 6});
  const redacted = h("input", {id: "ex-redacted", type: "checkbox"});
  const publicRelease = h("input", {id: "ex-public", type: "checkbox"});
  const err = h("p", {class: "error", id: "ex-error"});
  const jobs = h("div", {id: "ex-jobs"});
  publicRelease.addEventListener("change", () => { if (publicRelease.checked) redacted.checked = true; });

  function fillCameras() {
    const have = new Set([...camBox.querySelectorAll("input:checked")].map((i) => i.value));
    camBox.replaceChildren(...app.cameras().map((c) => h("label", {},
      h("input", {type: "checkbox", value: c.name, checked: have.has(c.name)}), ` ${c.name}`)));
  }

  const formEl = h("form", {class: "ex-form", id: "ex-form"},
    h("div", {style: "flex-basis:100%"}, h("b", {}, L("Cameras", "摄像机")), camBox),
    h("label", {class: "col"}, L("From (local time)", "开始（本地）"), start),
    h("label", {class: "col"}, L("To (local time)", "结束（本地）"), end),
    h("label", {class: "col"}, L("Purpose", "用途"), purpose),
    h("label", {class: "col"}, L("Destination (who receives it)", "去向（接收方）"), destination),
    h("label", {class: "col"}, L("Request no. (authorities)", "调取申请编号（机关）"), requestId),
    h("label", {}, redacted, " ", L("Redacted copy (masks, watermark; no originals)", "脱敏副本（遮挡、水印，不含原始录像）")),
    h("label", {}, publicRelease, " ", L("For public release: blur faces (CN-22)", "公开发布：人脸模糊（CN-22）")),
    h("button", {type: "submit", id: "ex-start-button"}, L("Export", "导出")));
  formEl.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showProblem(err, null);
    const cameras = [...camBox.querySelectorAll("input:checked")].map((i) => i.value);
    if (!cameras.length) { err.textContent = L("Choose at least one camera.", "请至少选择一个摄像机。"); return; }
    const body = {cameras, start: new Date(start.value).toISOString(), end: new Date(end.value).toISOString(),
      purpose: purpose.value.trim(), destination: destination.value.trim(),
      redacted: redacted.checked, public_release: publicRelease.checked};
    if (requestId.value) body.request_id = Number(requestId.value);
    try {
      const job = await post("exports", body);
      follow(job);
    } catch (e) { showProblem(err, e); }
  });

  function follow(job) {
    const bar = h("progress", {max: 1, value: 0});
    const text = h("span", {class: "muted"});
    const link = h("span");
    const box = h("div", {class: "ex-job", dataset: {job: job.id, record: job.access_record}},
      h("div", {}, `${L("Export job", "导出任务")} ${job.id} · ${L("access record", "调阅记录")} #${job.access_record}`
        + (job.redacted ? ` · ${L("redacted", "脱敏")}` : "")),
      bar, " ", text, h("div", {}, link));
    jobs.prepend(box);
    const tick = async () => {
      let j;
      try { j = await get(`exports/${job.id}`); } catch (e) { showProblem(text, e); return; }
      bar.value = j.progress;
      box.dataset.state = j.state;
      text.textContent = ` ${Math.round(j.progress * 100)} % · ${(j.done_bytes / 1e6).toFixed(1)} / ${(j.total_bytes / 1e6).toFixed(1)} MB · ${j.state}`;
      if (j.state === "done") {
        link.replaceChildren(
          h("a", {href: `/api/v1/exports/${j.id}/package.zip`, download: j.file, id: `ex-download-${j.id}`},
            `${L("Download the package", "下载证据包")} ${j.file} (${(j.size_bytes / 1e6).toFixed(1)} MB)`),
          h("div", {class: "muted"}, L("Check it anywhere: custos verify-export " + j.file, "离线核验：custos verify-export " + j.file)));
        return;
      }
      if (j.state === "failed") { text.textContent += ` · ${j.error}`; box.classList.add("error"); return; }
      setTimeout(tick, 300);
    };
    tick();
  }

  section.append(h("h2", {}, L("Evidence export", "证据导出")),
    h("p", {class: "muted"}, L("The originals are copied byte for byte with their ledger proofs and a signed manifest; every export is an access record (HB-18.2, HB-21.5).",
      "原始录像逐字节复制，附账本证明与签名清单；每次导出均登记（HB-18.2、HB-21.5）。")),
    formEl, err, jobs);
  fillCameras();
  section.addEventListener("tabshow", fillCameras);
  app.exportTo = (cams, a, b) => {
    fillCameras();
    for (const i of camBox.querySelectorAll("input")) i.checked = cams.includes(i.value);
    start.value = local(a); end.value = local(b);
  };
}
