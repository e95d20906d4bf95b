// Live view: a grid of 1, 4, 9 or 16 cameras over one WebSocket (web/api_live.py), each tile a <video>
// fed through Media Source Extensions. Opening a grid is one access through the gate, with the purpose
// chosen once per viewing session (HB-17.3, BJ-13.2, CN-16); closing the grid or leaving the tab ends it.
"use strict";
import {L, h, showProblem} from "/static/common.js";

const LAYOUTS = [1, 4, 9, 16];
const MAX_DELAY_S = 0.25;  // behind the newest picture by more than this: jump to it
const KEEP_S = 8;          // buffered pictures older than this are dropped (memory on a video wall)
const PURPOSE_KEY = "custos.live.purpose";

// The simulator's clock camera carries the wall-clock time it made each frame (custos/sim/clock.py): two
// rows of 32 blocks of 16 px, the second the complement of the first. Returns the 32-bit millisecond
// stamp, or null when the picture carries none.
export function readClock(video, canvas = document.createElement("canvas")) {
  const w = video.videoWidth, hgt = video.videoHeight;
  if (w < 512 || hgt < 32) return null;
  canvas.width = 512; canvas.height = 32;
  const g = canvas.getContext("2d", {willReadFrequently: true});
  g.drawImage(video, 0, 0, 512, 32, 0, 0, 512, 32);
  const px = g.getImageData(0, 0, 512, 32).data;
  let ms = 0;
  for (let i = 0; i < 32; i++) {
    const a = px[(8 * 512 + i * 16 + 8) * 4] > 128, b = px[(24 * 512 + i * 16 + 8) * 4] > 128;
    if (a === b) return null;
    ms = ms * 2 + (a ? 1 : 0);
  }
  return ms;
}

export const clockAge = (ms) => ((Date.now() % 2 ** 32) - ms + 2 ** 32) % 2 ** 32;

class Tile {
  constructor(camera) {
    this.camera = camera;
    this.video = h("video", {muted: true, autoplay: true, playsInline: true, dataset: {camera}});
    this.label = h("span", {class: "cam"}, camera);
    this.state = h("span", {class: "state"}, L("connecting…", "连接中…"));
    this.delay = h("span", {class: "delay"});
    this.el = h("div", {class: "tile", dataset: {camera}}, this.video, h("div", {class: "bar"}, this.label, this.state, this.delay));
    this.queue = [];
    this.source = null;
    this.buffer = null;
    this.delays = [];
    this.canvas = document.createElement("canvas");
  }

  stream(info) {
    // A new init segment (first picture, or new parameter sets): a fresh MediaSource with its codec.
    const type = `video/mp4; codecs="${info.codec}"`;
    if (!window.MediaSource || !MediaSource.isTypeSupported(type)) {
      this.setState("bad", L(`this browser cannot play ${info.codec}`, "浏览器不支持此编码"));
      return;
    }
    this.queue = [];
    this.buffer = null;
    this.source = new MediaSource();
    this.video.src = URL.createObjectURL(this.source);
    this.source.addEventListener("sourceopen", () => {
      this.buffer = this.source.addSourceBuffer(type);
      this.buffer.mode = "segments";
      this.buffer.addEventListener("updateend", () => this.pump());
      this.pump();
    }, {once: true});
    this.setState("ok", info.proxy ? L("live (H.264 proxy)", "实时（转码）") : L("live", "实时"));
    this.watchDelay();
  }

  append(data) {
    this.queue.push(data);
    if (this.queue.length > 200) this.queue.splice(1, this.queue.length - 100);  // keep the init segment
    this.pump();
  }

  pump() {
    const b = this.buffer;
    if (!b || b.updating || !this.queue.length) return;
    const v = this.video;
    if (b.buffered.length && v.currentTime - b.buffered.start(0) > KEEP_S * 2) {
      b.remove(0, v.currentTime - KEEP_S);
      return;
    }
    try { b.appendBuffer(this.queue.shift()); } catch (e) { this.setState("bad", String(e)); return; }
    if (b.buffered.length) {
      const end = b.buffered.end(b.buffered.length - 1);
      // Live means the newest picture: a tile that fell behind (a stall, a hidden window) jumps ahead.
      if (end - v.currentTime > MAX_DELAY_S || v.currentTime < b.buffered.start(b.buffered.length - 1)) {
        v.currentTime = Math.max(b.buffered.start(b.buffered.length - 1), end - 0.02);
      }
      if (v.paused) v.play().catch(() => {});
    }
  }

  watchDelay() {
    // Glass-to-glass delay, measured on pictures that carry a clock (the simulator's clock camera).
    if (!this.video.requestVideoFrameCallback || this.watching) return;
    this.watching = true;
    const onFrame = () => {
      const ms = readClock(this.video, this.canvas);
      if (ms !== null) {
        const age = clockAge(ms);
        this.delays.push(age);
        if (this.delays.length > 250) this.delays.shift();
        this.delay.textContent = ` · ${L("delay", "延迟")} ${age} ms`;
        this.el.dataset.delay = String(age);
      }
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  setState(kind, text) {
    this.state.textContent = ` · ${text}`;
    this.el.dataset.state = kind;
  }

  close() {
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.video.removeAttribute("src");
    this.video.load();
  }
}

export async function mount(section, app) {
  const style = h("style", {}, `
    #live-grid{display:grid;gap:4px;background:#111;padding:4px}
    #live-grid .tile{position:relative;background:#000;aspect-ratio:16/9;overflow:hidden}
    #live-grid video{width:100%;height:100%;object-fit:contain;background:#000}
    #live-grid .bar{position:absolute;left:0;right:0;bottom:0;background:rgba(0,0,0,.55);color:#fff;font-size:12px;padding:2px 6px}
    #live-grid .tile[data-state=bad] .state{color:#f88}
    #live-grid:fullscreen{height:100vh;align-content:center}
    .live-tools{display:flex;gap:8px;align-items:center;flex-wrap:wrap}`);
  const err = h("p", {class: "error", id: "live-error"});
  const record = h("span", {class: "muted", id: "live-record"});
  const purposeInput = h("input", {id: "live-purpose", required: true, minlength: 4,
    placeholder: "e.g. watching the school gate at dismissal", value: sessionStorage.getItem(PURPOSE_KEY) || ""});
  const layoutSel = h("select", {id: "live-layout"}, LAYOUTS.map((n) => h("option", {value: n}, `${n}`)));
  layoutSel.value = String(Number(localStorage.getItem("custos.live.layout")) || 4);
  const camerasInput = h("input", {id: "live-cameras", placeholder: L("all, in order", "全部，按顺序"), size: 28,
    title: "cam01, cam02, … (empty: the first cameras in order)"});
  const grid = h("div", {id: "live-grid"});
  const start = h("button", {type: "submit", id: "live-start"}, L("Open live view", "打开实时画面"));
  const stop = h("button", {type: "button", id: "live-stop", hidden: true}, L("Close", "关闭"));
  const wall = h("button", {type: "button", id: "live-wall"}, L("Video wall (full screen)", "电视墙（全屏）"));
  const purposeForm = h("form", {class: "live-tools", id: "live-form"},
    h("label", {}, L("Purpose of this viewing session", "本次调阅目的"), " ", purposeInput),
    h("label", {}, L("Cameras", "摄像机"), " ", camerasInput),
    h("label", {}, L("Layout", "布局"), " ", layoutSel), start, stop, wall, record);
  section.append(style, h("h2", {}, L("Live view", "实时画面")), purposeForm, err, grid);

  let ws = null, tiles = [], chosen = null;

  function layout(n) {
    const cols = Math.ceil(Math.sqrt(n));
    grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
  }

  function close() {
    if (ws) { ws.onclose = null; ws.close(); ws = null; }
    for (const t of tiles) t.close();
    tiles = [];
    grid.replaceChildren();
    stop.hidden = true;
    record.textContent = "";
  }

  function open(cameras) {
    close();
    const purpose = purposeInput.value.trim();
    sessionStorage.setItem(PURPOSE_KEY, purpose);
    showProblem(err, null);
    tiles = cameras.map((c) => new Tile(c));
    layout(Number(layoutSel.value));
    grid.replaceChildren(...tiles.map((t) => t.el));
    for (const t of tiles) {
      t.el.addEventListener("dblclick", () => {  // one camera large; double-click again for the grid
        if (cameras.length > 1) { chosen = t.camera; layoutSel.value = "1"; open([t.camera]); }
        else { chosen = null; layoutSel.value = localStorage.getItem("custos.live.layout") || "4"; open(pick()); }
      });
    }
    const q = new URLSearchParams({cameras: cameras.join(","), purpose});
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/live?${q}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        const bytes = new Uint8Array(ev.data);
        const t = tiles[bytes[0]];
        if (t) t.append(bytes.subarray(1));
        return;
      }
      const m = JSON.parse(ev.data);
      if (m.type === "granted") {
        record.textContent = `${L("access record", "调阅记录")} #${m.record}`;
        grid.dataset.record = String(m.record);
        stop.hidden = false;
      } else if (m.type === "problem") {
        err.replaceChildren(h("span", {class: "detail"}, m.detail), " ",
          m.keys && m.keys.length ? h("span", {class: "keys"}, m.keys.join(", ")) : "");
        for (const t of tiles) t.setState("bad", L("refused", "拒绝"));
      } else if (m.type === "stream") {
        tiles[m.tile] && tiles[m.tile].stream(m);
      } else if (m.type === "state" && tiles[m.tile]) {
        const t = tiles[m.tile];
        if (m.state === "offline") t.setState("bad", `${L("offline", "离线")}: ${m.cause}`);
        else if (m.state === "not-recorded") t.setState("bad", L("not recorded here", "未在录像"));
      }
    };
    ws.onclose = () => { for (const t of tiles) if (t.el.dataset.state !== "bad") t.setState("bad", L("closed", "已断开")); };
  }

  function pick() {
    const n = Number(layoutSel.value);
    const typed = camerasInput.value.split(",").map((c) => c.trim()).filter(Boolean);
    const cams = typed.length ? typed : app.cameras().filter((c) => c.status !== "dismantled").map((c) => c.name);
    if (chosen && n === 1) return [chosen];
    return cams.slice(0, n);
  }

  purposeForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const cams = pick();
    if (!cams.length) { err.textContent = L("No camera to show.", "没有可显示的摄像机。"); return; }
    open(cams);
  });
  layoutSel.addEventListener("change", () => {
    localStorage.setItem("custos.live.layout", layoutSel.value);
    if (ws) open(pick());
  });
  stop.addEventListener("click", close);
  wall.addEventListener("click", () => grid.requestFullscreen && grid.requestFullscreen());
  // Leaving the tab ends the viewing (and its access record); coming back opens a new one.
  section.addEventListener("tabhide", () => { if (ws) { section.dataset.resume = "1"; close(); } });
  section.addEventListener("tabshow", () => {
    if (section.dataset.resume === "1" && purposeInput.value.trim().length >= 4) { delete section.dataset.resume; open(pick()); }
  });
  layout(Number(layoutSel.value));
  app.live = {tiles: () => tiles};
}
