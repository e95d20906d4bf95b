// Playback: a camera's timeline (recordings, outages, holds, reported events, a thumbnail strip), scrub and
// seek to any instant, play at ×1/×2/×4, jump between events, keyboard shortcuts. Pictures come through the
// gate: each clip and each thumbnail strip is an access record with the purpose given once for the session.
"use strict";
import {L, Problem, api, get, h, problemOf, showProblem} from "/static/common.js";

const ZOOMS = [[60, "1 min"], [600, "10 min"], [3600, "1 h"], [6 * 3600, "6 h"], [24 * 3600, "24 h"]];
const CLIP_S = 300;         // each clip asked for covers this much from the chosen instant
const PURPOSE_KEY = "custos.playback.purpose";
// Times on screen and in the inputs are the browser's local time (the users' own clock); the API takes UTC.
const pad = (n) => String(n).padStart(2, "0");
const fmt = (ms) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
const isoZ = (ms) => new Date(ms).toISOString();

export async function mount(section, app) {
  section.append(h("style", {}, `
    .pb-top{display:flex;gap:10px;flex-wrap:wrap;align-items:flex-end}
    .pb-top label{display:flex;flex-direction:column;font-size:12px}
    #pb-stage{position:relative;background:#000;max-width:960px;aspect-ratio:16/9}
    #pb-video{width:100%;height:100%;background:#000}
    #pb-clock{position:absolute;left:8px;top:8px;color:#fff;background:rgba(0,0,0,.6);padding:2px 6px;font:13px monospace}
    .pb-controls{display:flex;gap:6px;align-items:center;flex-wrap:wrap;margin:6px 0}
    .pb-controls button.on{background:#246;color:#fff}
    #pb-timeline{position:relative;height:96px;background:#eee;border:1px solid #bbb;cursor:crosshair;user-select:none;margin:6px 0}
    #pb-timeline .thumbs{position:absolute;left:0;right:0;top:0;height:48px;background-size:100% 100%;opacity:.9}
    #pb-timeline .lane{position:absolute;height:14px}
    #pb-timeline .rec{top:52px;background:#3a3;}
    #pb-timeline .out{top:52px;background:repeating-linear-gradient(45deg,#c33,#c33 4px,#faa 4px,#faa 8px)}
    #pb-timeline .hold{top:68px;background:#e90;height:8px}
    #pb-timeline .event{top:48px;width:3px;height:32px;background:#36f;margin-left:-1px}
    #pb-timeline .head{position:absolute;top:0;bottom:0;width:2px;background:#d00;margin-left:-1px;pointer-events:none}
    #pb-timeline .hover{position:absolute;top:0;bottom:0;width:1px;background:#333;pointer-events:none}
    #pb-timeline .ticks{position:absolute;left:0;right:0;bottom:0;height:16px;font-size:10px;color:#333}
    #pb-timeline .ticks span{position:absolute;transform:translateX(-50%)}
    #pb-tip{position:absolute;top:-22px;background:#333;color:#fff;font:11px monospace;padding:1px 4px;pointer-events:none;white-space:nowrap}
    .pb-legend span{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px;vertical-align:middle}
    .pb-keys{font-size:12px;color:#555}`));

  const cams = () => app.cameras().map((c) => c.name);
  const camSel = h("select", {id: "pb-camera"}, cams().map((c) => h("option", {value: c}, c)));
  const purpose = h("input", {id: "pb-purpose", minlength: 4, size: 36, value: sessionStorage.getItem(PURPOSE_KEY) || "",
    placeholder: "e.g. review of the reported theft at the gate"});
  const zoomSel = h("select", {id: "pb-zoom"}, ZOOMS.map(([s, t]) => h("option", {value: s}, t)));
  zoomSel.value = "3600";
  const at = h("input", {id: "pb-at", type: "datetime-local", step: 1});
  const go = h("button", {id: "pb-go", type: "submit"}, L("Show", "显示"));
  const err = h("p", {class: "error", id: "pb-error"});
  const video = h("video", {id: "pb-video", muted: true, playsInline: true});
  const clock = h("div", {id: "pb-clock"}, "--");
  const record = h("span", {class: "muted", id: "pb-record"});
  const seekInfo = h("span", {class: "muted", id: "pb-seek"});
  const speedButtons = [1, 2, 4].map((r) => h("button", {type: "button", class: r === 1 ? "on" : "", dataset: {rate: r},
    onclick: () => setRate(r)}, `×${r}`));
  const playBtn = h("button", {type: "button", id: "pb-play", onclick: () => togglePlay()}, "▶ / ❚❚");
  const tl = h("div", {id: "pb-timeline", tabindex: 0});
  const del = h("button", {type: "button", id: "pb-delete"}, L("Delete the segment under the playhead", "删除当前片段"));
  const delErr = h("p", {class: "error", id: "pb-delete-error"});

  section.append(
    h("h2", {}, L("Playback", "回放")),
    h("form", {class: "pb-top", id: "pb-form", onsubmit: (e) => { e.preventDefault(); show(); }},
      h("label", {}, L("Camera", "摄像机"), camSel),
      h("label", {}, L("Purpose of this viewing session", "本次调阅目的"), purpose),
      h("label", {}, L("Around (local time)", "时间（本地）"), at),
      h("label", {}, L("Timeline span", "时间轴范围"), zoomSel), go),
    err,
    h("div", {id: "pb-stage"}, video, clock),
    h("div", {class: "pb-controls"},
      h("button", {type: "button", onclick: () => jumpEvent(-1), title: "["}, L("⏮ previous event", "上一事件")),
      h("button", {type: "button", onclick: () => seekBy(-10), title: "←"}, "−10 s"),
      playBtn,
      h("button", {type: "button", onclick: () => seekBy(10), title: "→"}, "+10 s"),
      h("button", {type: "button", onclick: () => jumpEvent(1), title: "]"}, L("next event ⏭", "下一事件")),
      L("Speed", "倍速"), speedButtons, record, seekInfo),
    tl,
    h("div", {class: "pb-legend muted"},
      h("span", {style: "background:#3a3"}), L("recorded", "有录像"),
      h("span", {style: "background:#c33"}), L("outage", "中断"),
      h("span", {style: "background:#e90"}), L("hold", "保全"),
      h("span", {style: "background:#36f"}), L("event", "事件")),
    h("p", {class: "pb-keys"}, L("Keys: space play/pause · ← → 10 s (shift: 1 min) · , . one frame · [ ] previous/next event · 1 2 4 speed · + − zoom",
      "快捷键：空格 播放/暂停 · ← → 10 秒（Shift：1 分钟）· , . 单帧 · [ ] 上/下一事件 · 1 2 4 倍速 · + − 缩放")),
    h("div", {}, del), delErr);

  // State: the visible window of the timeline, what it holds, and the clip being played.
  let viewStart = 0, viewEnd = 0, data = null, segments = [];
  let clip = null;     // {start: ms of the first picture, seconds, record, ctrl, source}
  let rate = 1;
  const camera = () => camSel.value;

  function nowMs() { return clip ? clip.start + video.currentTime * 1000 : viewStart; }

  async function show(centre) {
    showProblem(err, null);
    sessionStorage.setItem(PURPOSE_KEY, purpose.value.trim());
    const span = Number(zoomSel.value) * 1000;
    const c = centre ?? (at.value ? new Date(at.value).getTime() : null);
    if (c === null || Number.isNaN(c)) {
      const cam = app.cameras().find((x) => x.name === camera());
      const last = cam && cam.last_utc ? Date.parse(cam.last_utc) : Date.now();
      viewEnd = last + span * 0.05; viewStart = viewEnd - span;
    } else {
      viewStart = c - span / 2; viewEnd = c + span / 2;
    }
    await loadTimeline();
    if (centre === undefined) {
      const first = c ?? (data.recorded.length ? Date.parse(data.recorded[data.recorded.length - 1].end) - 30_000 : viewStart);
      await seek(Math.max(first, viewStart));
    }
  }

  async function loadTimeline() {
    const q = new URLSearchParams({start: isoZ(viewStart), end: isoZ(viewEnd)});
    try {
      [data, segments] = await Promise.all([
        get(`cameras/${encodeURIComponent(camera())}/timeline?${q}`),
        get(`cameras/${encodeURIComponent(camera())}/segments?${q}`),
      ]);
    } catch (e) { showProblem(err, e); return; }
    draw();
    loadThumbs();
  }

  const x = (ms) => `${((ms - viewStart) / (viewEnd - viewStart)) * 100}%`;
  const w = (a, b) => `${((Math.min(b, viewEnd) - Math.max(a, viewStart)) / (viewEnd - viewStart)) * 100}%`;

  function draw() {
    const thumbs = tl.querySelector(".thumbs") || h("div", {class: "thumbs"});
    const parts = [thumbs];
    const lane = (cls, a, b, title) => {
      const s = Math.max(Date.parse(a), viewStart), e = b ? Math.min(Date.parse(b), viewEnd) : viewEnd;
      if (e > s) parts.push(h("div", {class: `lane ${cls}`, style: `left:${x(s)};width:${w(s, e)}`, title}));
    };
    for (const r of data.recorded) lane("rec", r.start, r.end, L("recorded", "有录像"));
    for (const o of data.outages) lane("out", o.start, o.end, `${L("outage", "中断")}: ${o.cause}`);
    for (const hd of data.holds) lane("hold", hd.start, hd.end, `${L("hold", "保全")}: ${hd.reason} (${hd.retention_class})`);
    for (const ev of events()) parts.push(h("div", {class: "event", style: `left:${x(ev.at)}`, title: ev.text}));
    const ticks = h("div", {class: "ticks"});
    const step = (viewEnd - viewStart) / 6;
    for (let i = 1; i < 6; i++) ticks.append(h("span", {style: `left:${(i / 6) * 100}%`}, fmt(viewStart + i * step).slice(11, 16)));
    parts.push(ticks, h("div", {class: "hover", hidden: true}), h("div", {class: "head"}), h("div", {id: "pb-tip", hidden: true}));
    tl.replaceChildren(...parts);
    tl.dataset.start = String(viewStart); tl.dataset.end = String(viewEnd);
    moveHead();
  }

  function events() {
    const out = [];
    if (!data) return out;
    for (const e of data.events) out.push({at: Date.parse(e.start), text: `${e.kind}: ${e.text || ""}`});
    for (const o of data.outages) {
      out.push({at: Date.parse(o.start), text: `${L("outage", "中断")}: ${o.cause}`});
      if (o.end) out.push({at: Date.parse(o.end), text: L("recording resumed", "恢复录像")});
    }
    for (const hd of data.holds) out.push({at: Date.parse(hd.start), text: `${L("hold", "保全")}: ${hd.reason}`});
    return out.filter((e) => e.at >= viewStart && e.at <= viewEnd).sort((a, b) => a.at - b.at);
  }

  function loadThumbs() {
    const box = tl.querySelector(".thumbs");
    const p = purpose.value.trim();
    if (!box || p.length < 4) return;
    const count = Math.max(4, Math.min(32, Math.floor(tl.clientWidth / 86)));
    const q = new URLSearchParams({start: isoZ(viewStart), end: isoZ(viewEnd), count, height: 48, purpose: p});
    const url = `/api/v1/cameras/${encodeURIComponent(camera())}/thumbnails.jpg?${q}`;
    fetch(url).then(async (r) => {
      if (!r.ok) throw await problemOf(r);
      const blob = await r.blob();
      box.style.backgroundImage = `url(${URL.createObjectURL(blob)})`;
      box.dataset.record = r.headers.get("X-Custos-Access-Record") || "";
    }).catch((e) => showProblem(err, e));
  }

  function moveHead() {
    const head = tl.querySelector(".head");
    if (!head) return;
    const t = nowMs();
    head.style.left = x(t);
    head.hidden = t < viewStart || t > viewEnd;
    clock.textContent = clip ? fmt(t) : "--";
    video.dataset.wallMs = String(Math.round(t));
  }

  // Seeking: within the clip being played when it holds the instant, otherwise a new clip from the keyframe at
  // or before it (one access record). The time from the request to the picture on screen is measured.
  async function seek(t) {
    const t0 = performance.now();
    showProblem(err, null);
    if (clip && t >= clip.start && t <= clip.start + clip.seconds * 1000 - 500 && buffered(t)) {
      await placeAt(t, t0, false);
      return;
    }
    await openClip(t, t0);
  }

  function buffered(t) {
    const off = (t - clip.start) / 1000;
    for (let i = 0; i < video.buffered.length; i++) if (off >= video.buffered.start(i) && off <= video.buffered.end(i)) return true;
    return false;
  }

  async function openClip(t, t0) {
    if (clip && clip.ctrl) clip.ctrl.abort();
    const p = purpose.value.trim();
    const q = new URLSearchParams({start: isoZ(t), end: isoZ(t + CLIP_S * 1000), purpose: p});
    const ctrl = new AbortController();
    let r;
    try {
      r = await fetch(`/api/v1/cameras/${encodeURIComponent(camera())}/clip.mp4?${q}`, {signal: ctrl.signal});
      if (!r.ok) throw await problemOf(r);
    } catch (e) {
      if (e.name !== "AbortError") showProblem(err, e);
      return;
    }
    const codec = r.headers.get("X-Custos-Codec");
    const type = `video/mp4; codecs="${codec}"`;
    if (!MediaSource.isTypeSupported(type)) {
      showProblem(err, new Problem(415, {detail: `this browser cannot play ${codec} 浏览器不支持此编码`}));
      ctrl.abort();
      return;
    }
    const source = new MediaSource();
    clip = {start: Date.parse(r.headers.get("X-Custos-Clip-Start")), seconds: Number(r.headers.get("X-Custos-Clip-Seconds")),
      record: r.headers.get("X-Custos-Access-Record"), ctrl, source};
    const mine = clip;
    record.textContent = `${L("access record", "调阅记录")} #${clip.record}`;
    video.dataset.record = clip.record;
    video.src = URL.createObjectURL(source);
    await new Promise((ok) => source.addEventListener("sourceopen", ok, {once: true}));
    const sb = source.addSourceBuffer(type);
    const reader = r.body.getReader();
    const append = (chunk) => new Promise((ok, bad) => {
      sb.addEventListener("updateend", ok, {once: true});
      sb.addEventListener("error", bad, {once: true});
      sb.appendBuffer(chunk);
    });
    // Feed the clip as it arrives; show the chosen instant as soon as it is buffered.
    let placed = false;
    try {
      for (;;) {
        const {done, value} = await reader.read();
        if (done) break;
        if (clip !== mine) return;
        await append(value);
        if (!placed && buffered(t)) { placed = true; placeAt(t, t0, true); }
      }
      if (clip === mine && source.readyState === "open") source.endOfStream();
      if (!placed) placeAt(t, t0, true);
    } catch (e) {
      if (e.name !== "AbortError" && clip === mine) showProblem(err, e);
    }
  }

  async function placeAt(t, t0, fresh) {
    const off = Math.max(0, (t - clip.start) / 1000);
    const play = !video.paused || fresh;
    // The picture is on screen: when playing, the next presented frame; when paused, the end of the seek
    // (the frame at the new position is decoded and painted).
    const shown = new Promise((ok) => {
      if (play && video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => ok());
      else video.addEventListener("seeked", () => ok(), {once: true});
    });
    video.currentTime = off;
    video.playbackRate = rate;
    if (play) video.play().catch(() => {});
    await shown;
    const ms = Math.round(performance.now() - t0);
    video.dataset.seekMs = String(ms);
    video.dataset.seekTo = String(Math.round(t));
    seekInfo.textContent = ` · ${L("seek", "定位")} ${ms} ms${fresh ? "" : L(" (buffered)", "（缓存）")}`;
    moveHead();
  }

  function togglePlay() { if (video.paused) video.play().catch(() => {}); else video.pause(); }
  function setRate(r) {
    rate = r; video.playbackRate = r;
    for (const b of speedButtons) b.classList.toggle("on", Number(b.dataset.rate) === r);
  }
  function seekBy(s) { seek(nowMs() + s * 1000); }
  function jumpEvent(dir) {
    const t = nowMs();
    const evs = events();
    const next = dir > 0 ? evs.find((e) => e.at > t + 1000) : [...evs].reverse().find((e) => e.at < t - 1000);
    if (next) seek(next.at);
  }
  function zoom(dir) {
    const i = ZOOMS.findIndex(([s]) => String(s) === zoomSel.value);
    const j = Math.max(0, Math.min(ZOOMS.length - 1, i + dir));
    if (j === i) return;
    zoomSel.value = String(ZOOMS[j][0]);
    show(nowMs());
  }

  // Scrubbing: hover shows the time, a click or a drag's release seeks there.
  const msAt = (ev) => {
    const r = tl.getBoundingClientRect();
    return viewStart + ((ev.clientX - r.left) / r.width) * (viewEnd - viewStart);
  };
  tl.addEventListener("mousemove", (ev) => {
    const tip = tl.querySelector("#pb-tip"), hover = tl.querySelector(".hover");
    if (!tip) return;
    const t = msAt(ev);
    tip.hidden = false; hover.hidden = false;
    tip.style.left = x(t); hover.style.left = x(t);
    tip.textContent = fmt(t).slice(11);
  });
  tl.addEventListener("mouseleave", () => { const tip = tl.querySelector("#pb-tip"); if (tip) tip.hidden = true; });
  tl.addEventListener("click", (ev) => seek(msAt(ev)));
  tl.addEventListener("wheel", (ev) => { ev.preventDefault(); zoom(ev.deltaY > 0 ? 1 : -1); }, {passive: false});

  video.addEventListener("timeupdate", moveHead);
  video.addEventListener("ended", () => {  // the clip ran out: go on with the next one, if recorded
    if (!clip) return;
    const end = clip.start + clip.seconds * 1000;
    const more = data && data.recorded.some((r) => Date.parse(r.end) > end + 1000);
    if (more) seek(end + 40);
  });

  del.addEventListener("click", async () => {
    showProblem(delErr, null);
    const t = nowMs();
    const seg = segments.find((s) => Date.parse(s.start) <= t && t < Date.parse(s.end));
    if (!seg) { delErr.textContent = L("No segment under the playhead.", "当前位置没有片段。"); return; }
    if (!confirm(`Delete segment ${seg.id} (${seg.start} – ${seg.end})? 删除片段？`)) return;
    try {
      await api("DELETE", `segments/${seg.id}?${new URLSearchParams({reason: "removed from the playback screen"})}`);
      delErr.textContent = L("Deleted.", "已删除。");
      await loadTimeline();
    } catch (e) { showProblem(delErr, e); }
  });

  section.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
    const k = ev.key;
    const acts = {
      " ": () => togglePlay(),
      ArrowLeft: () => seekBy(ev.shiftKey ? -60 : -10),
      ArrowRight: () => seekBy(ev.shiftKey ? 60 : 10),
      ",": () => { video.pause(); seek(nowMs() - 40); },
      ".": () => { video.pause(); seek(nowMs() + 40); },
      "[": () => jumpEvent(-1),
      "]": () => jumpEvent(1),
      1: () => setRate(1), 2: () => setRate(2), 4: () => setRate(4),
      "+": () => zoom(-1), "=": () => zoom(-1), "-": () => zoom(1),
    };
    if (acts[k]) { ev.preventDefault(); acts[k](); }
  });
  section.tabIndex = -1;
  section.addEventListener("tabshow", () => {
    if (!camSel.options.length) camSel.replaceChildren(...cams().map((c) => h("option", {value: c}, c)));
  });
  section.addEventListener("tabhide", () => { video.pause(); });
  camSel.addEventListener("change", () => { if (data) show(); });
  zoomSel.addEventListener("change", () => { if (data) show(nowMs()); });
  app.playback = {seek, show};
}
