// The registry tab: a unit's facts, sites, cameras as registered things, a map of what they see, and the
// unit's filings with its PSB. Every change is the API's to allow: this screen only asks, and shows each
// refusal where it happened with its sentence and article keys (HB-8, BJ-9, CN-8, HB-11, CN-14, ...).
"use strict";
import {api, get, post, h, L, showProblem, table, ymdhms} from "/static/common.js";

// The vocabularies themselves (categories, parts, system classes) and what the packs in force say of each
// category come from GET /registry/vocabularies; these are only their Chinese labels. A word without a
// label here (a category a deployment's own pack adds) is shown as it is.
export const CATEGORIES = {
  airport: "机场", archive: "档案馆", ballot_box: "投票箱", bath: "浴室", bridge: "桥梁", car_park: "停车场",
  changing_room: "更衣室", corridor: "走廊", crime_prone_area: "治安复杂区域", crowded_place: "人员密集场所",
  cultural_relic_unit: "文物保护单位", cultural_venue: "文化场馆", defence_industry: "国防科技工业单位",
  dormitory: "宿舍", dwelling: "住宅", entertainment_venue: "娱乐场所", financial_data_spot: "金融信息区域",
  financial_institution: "金融机构", fitting_room: "试衣间", hazardous_materials: "危险物品单位", hotel: "旅馆",
  hotel_room: "旅馆客房", internet_cafe: "网吧", key_construction_project: "重点建设工程",
  key_unit_surroundings: "重点单位周边", kindergarten: "幼儿园", lobby: "大堂", logistics_centre: "物流中心",
  main_road: "主要道路", material_reserve: "物资储备库", medical_institution: "医疗机构", metro: "地铁",
  museum: "博物馆", news_media: "新闻媒体", nursing_room: "哺乳室", office: "办公室", other: "其他",
  park: "公园", parking_lot: "停车场所", pathogen_lab: "病原微生物实验室", perimeter: "周界",
  polling_station: "投票站", port: "港口", postal: "邮政", power_facility: "电力设施",
  private_dining_room: "包间", private_place: "私密场所", public_road: "公共道路", public_vehicle: "公共交通工具",
  railway_station: "火车站", report_box: "举报箱", research_institution: "科研机构", residential_area: "居民区",
  restaurant: "餐馆", scenic_area: "景区", school: "学校", service_area: "服务区", service_unit: "服务单位",
  shop: "商店", sports_venue: "体育场馆", square: "广场", staff_rest_room: "员工休息室", state_organ: "国家机关",
  telecommunications: "电信", toilet: "厕所", trade_centre: "商贸中心", traffic_junction: "交通路口",
  transport_hub: "交通枢纽", tunnel: "隧道", underpass: "地下通道", utility: "公用设施", warehouse: "仓库",
  water_conservancy: "水利设施",
};
export const PARTS = {entrance: "出入口", main_channel: "主要通道", key_part: "重要部位", interior: "内部", other: "其他"};
export const CLASSES = {
  government_built: "政府建设", operator_built: "经营者建设", other_public: "其他公共场所", non_public: "非公共场所",
};
// What a category is on, as the vocabularies say (each with the keys of the packs whose lists name it).
const SAYS = {
  forbidden: L("forbidden", "禁止安装"), mandatory: L("mandatory", "应当安装"),
  government_only: L("government only", "仅限政府"), government_built: L("government-built", "政府建设"),
  operator_built: L("operator-built", "经营者建设"),
};
const STATUS = {registered: "登记", active: "在用", dismantled: "已拆除"};
const FILING_KINDS = {initial: "初次备案", change: "变更备案", dismantle: "拆除备案", personnel: "人员备案"};
const CAMERA_KINDS = ["dome", "bullet", "ptz", "fisheye", "box", "panoramic"];

const STYLE = `
.reg-bar{display:flex;gap:10px;align-items:center;flex-wrap:wrap}
.reg-grid{display:grid;grid-template-columns:minmax(320px,640px) minmax(320px,1fr);gap:18px;align-items:start}
@media (max-width:900px){.reg-grid{grid-template-columns:1fr}}
#reg-map svg{width:100%;height:auto;border:1px solid #bbb;background:#fcfcf8;display:block;user-select:none}
#reg-map svg.picking{cursor:crosshair}
.m-boundary{fill:#eaf1fb;stroke:#246;stroke-width:2}
.m-site{fill:#f3ecd8;stroke:#a80;stroke-width:1;stroke-dasharray:4 2}
.m-site-label{font-size:11px;fill:#864}
.m-fov{fill:rgba(0,140,60,.18);stroke:#0a6;stroke-width:1}
.m-mask{fill:url(#reg-hatch);stroke:#555;stroke-width:1}
.m-pos{stroke:#fff;stroke-width:1.5}
.m-heading{stroke-width:2}
.m-label{font-size:11px;fill:#222;paint-order:stroke;stroke:#fff;stroke-width:3px}
.m-camera.st-active .m-pos,.m-camera.st-active .m-heading{fill:#070;stroke:#070}
.m-camera.st-active .m-pos{stroke:#fff}
.m-camera.st-registered .m-pos{fill:#d80}.m-camera.st-registered .m-heading{stroke:#d80}
.m-camera.st-registered .m-fov{fill:rgba(220,140,0,.15);stroke:#d80}
.m-camera.st-dismantled{opacity:.45}.m-camera.st-dismantled .m-pos{fill:#888}.m-camera.st-dismantled .m-heading{stroke:#888}
.m-camera.st-dismantled .m-fov{fill:none;stroke:#888;stroke-dasharray:3 3}
.m-camera.unregistered .m-pos{fill:#b00}
.m-draft .m-fov,.m-draft-area,.m-draft-boundary{fill:rgba(200,0,160,.12);stroke:#c0a;stroke-dasharray:5 3;stroke-width:1.5}
.m-draft .m-pos{fill:#c0a}.m-draft .m-heading{stroke:#c0a}.m-draft .m-mask{stroke:#c0a}
.m-draft-dot{fill:#c0a}
.m-scale{stroke:#333;stroke-width:2}.m-scale-label,.m-north{font-size:11px;fill:#333}
#reg-legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin:4px 0}
#reg-legend svg{vertical-align:middle;margin-right:4px}
.reg-target{font-size:12px;margin:4px 0;min-height:1.4em}
.reg-pick{font-size:11px;padding:1px 6px;margin-left:4px}
.reg-pick.active{background:#c0a;color:#fff;border-color:#c0a}
.reg-side .form{flex-direction:column;align-items:stretch;border:1px solid #ddd;padding:8px;background:#fafafa}
.reg-side .form label{flex-direction:column}
.reg-side textarea{font-family:monospace;font-size:12px}
.reg-side .row{display:flex;gap:8px;align-items:flex-end;flex-wrap:wrap}
.reg-side .check{flex-direction:row !important;align-items:center;gap:6px}
.reg-side .check input{min-width:0}
.reg-msg{font-size:12px}
td .error{margin:0;font-size:12px}
.reg-facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px}
.reg-facts dt{color:#555}.reg-facts dd{margin:0}
.pill.status-active{background:#dfd;color:#060}.pill.status-registered{background:#fec;color:#840}
.pill.status-dismantled{background:#eee;color:#666}
`;

function injectStyle(id, css) {
  if (document.getElementById(id)) return;
  document.head.append(h("style", {id}, css));
}

// --- geometry as text ---------------------------------------------------------------------------------
// Points are typed or clicked as "x,y x,y ...": any run of numbers is read in pairs, so [[x, y], ...]
// pasted from the API works too. Privacy masks are one polygon per line.
const NUM = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/g;
export function parsePoints(text) {
  const n = (String(text || "").match(NUM) || []).map(Number);
  const out = [];
  for (let i = 0; i + 1 < n.length; i += 2) out.push([n[i], n[i + 1]]);
  return out;
}
const parsePoint = (text) => parsePoints(text)[0] || null;
const parsePolygons = (text) => String(text || "").split("\n").map(parsePoints).filter((p) => p.length);
const fmt = (v, dec = 6) => String(Number(Number(v).toFixed(dec)));
const pointText = (p, dec) => (p ? `${fmt(p[0], dec)},${fmt(p[1], dec)}` : "");
const pointsText = (pts, dec) => (pts || []).map((p) => pointText(p, dec)).join(" ");
const polygonsText = (polys, dec) => (polys || []).map((p) => pointsText(p, dec)).join("\n");
const centroid = (pts) => [pts.reduce((a, p) => a + p[0], 0) / pts.length, pts.reduce((a, p) => a + p[1], 0) / pts.length];

// A field of view as a sector: from the position, `angle` degrees wide around the heading, `range` long.
function sector(pos, heading, angle, range, steps = 6) {
  const pts = [pos];
  for (let i = 0; i <= steps; i++) {
    const a = ((heading - angle / 2 + (angle * i) / steps) * Math.PI) / 180;
    pts.push([pos[0] + range * Math.sin(a), pos[1] + range * Math.cos(a)]);
  }
  return pts;
}

// --- SVG ----------------------------------------------------------------------------------------------
const SVGNS = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  for (const c of kids.flat()) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

// World coordinates ([x, y], y to the north, heading clockwise from north) onto a W×H drawing, scaled to fit.
function makeView(shapes, W = 640, H = 440, pad = 30) {
  let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
  for (const pts of shapes) for (const [x, y] of pts) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minx = Math.min(minx, x); maxx = Math.max(maxx, x); miny = Math.min(miny, y); maxy = Math.max(maxy, y);
  }
  if (!Number.isFinite(minx)) [minx, miny, maxx, maxy] = [0, 0, 100, 100];
  let span = Math.max(maxx - minx, maxy - miny);
  if (!(span > 0)) span = Math.max(Math.abs(minx), Math.abs(miny)) * 1e-3 || 1;
  const m = span * 0.06;
  minx -= m; maxx += m; miny -= m; maxy += m;
  let sx = maxx - minx, sy = maxy - miny;
  if (sx < span * 0.2) { minx -= (span * 0.2 - sx) / 2; sx = span * 0.2; }
  if (sy < span * 0.2) { maxy += (span * 0.2 - sy) / 2; sy = span * 0.2; miny = maxy - sy; }
  const k = Math.min((W - 2 * pad) / sx, (H - 2 * pad) / sy);
  const ox = pad + (W - 2 * pad - sx * k) / 2, oy = pad + (H - 2 * pad - sy * k) / 2;
  return {
    W, H, k,
    dec: Math.max(0, Math.min(9, Math.ceil(Math.log10(k)))),
    project: ([x, y]) => [ox + (x - minx) * k, oy + (maxy - y) * k],
    unproject: (px, py) => [minx + (px - ox) / k, maxy - (py - oy) / k],
  };
}
const ptsAttr = (view, pts) => pts.map((p) => view.project(p).map((v) => v.toFixed(2)).join(",")).join(" ");

function niceLength(target) {
  const p = 10 ** Math.floor(Math.log10(target));
  for (const f of [1, 2, 5, 10]) if (f * p >= target) return f * p;
  return 10 * p;
}

function cameraShapes(view, c, {draft = false} = {}) {
  const g = s("g", draft ? {class: "m-draft"} : {
    class: `m-camera st-${c.status}${c.registration === 0 ? " unregistered" : ""}`,
    "data-camera": c.name, "data-status": c.status,
  });
  if (c.fov && c.fov.length >= 3) g.append(s("polygon", {class: "m-fov", points: ptsAttr(view, c.fov)}));
  else if (c.fov && c.fov.length) g.append(s("polyline", {class: "m-fov", points: ptsAttr(view, c.fov), fill: "none"}));
  for (const m of c.privacy_masks || []) {
    if (m.length >= 3) g.append(s("polygon", {class: "m-mask", points: ptsAttr(view, m)}));
    else if (m.length) g.append(s("polyline", {class: "m-mask", points: ptsAttr(view, m), fill: "none"}));
  }
  if (draft) for (const p of [...(c.fov || []), ...(c.privacy_masks || []).flat()]) {
    const [x, y] = view.project(p);
    g.append(s("circle", {class: "m-draft-dot", cx: x, cy: y, r: 2.5}));
  }
  if (c.position) {
    const [x, y] = view.project(c.position);
    if (c.heading_deg !== null && c.heading_deg !== undefined && Number.isFinite(c.heading_deg)) {
      const a = (c.heading_deg * Math.PI) / 180;
      g.append(s("line", {class: "m-heading", x1: x, y1: y, x2: x + 34 * Math.sin(a), y2: y - 34 * Math.cos(a),
        "marker-end": draft ? "url(#reg-arrow-draft)" : "url(#reg-arrow)"}));
    }
    g.append(s("circle", {class: "m-pos", cx: x.toFixed(2), cy: y.toFixed(2), r: 5}));
    g.append(s("text", {class: "m-label", x: x + 8, y: y - 8}, draft ? `${c.name || "new"} (draft 草稿)` : c.name));
  }
  if (!draft) g.append(s("title", {}, `${c.name} · ${c.status} ${STATUS[c.status] || ""} · No. ${c.registration}` +
    (c.heading_deg != null ? ` · ${c.heading_deg}°` : "")));
  return g;
}

function legend() {
  const sw = (...kids) => s("svg", {width: 22, height: 14, viewBox: "0 0 22 14"}, ...kids);
  const item = (icon, text) => h("span", {}, icon, text);
  return [
    item(sw(s("rect", {class: "m-boundary", x: 1, y: 1, width: 20, height: 12})), L("Unit boundary (BJ-6)", "单位边界")),
    item(sw(s("rect", {class: "m-site", x: 1, y: 1, width: 20, height: 12})), L("Site area", "场所区域")),
    item(sw(s("g", {class: "m-camera st-active"}, s("circle", {class: "m-pos", cx: 7, cy: 7, r: 5}))), L("Active camera", "在用摄像机")),
    item(sw(s("g", {class: "m-camera st-registered"}, s("circle", {class: "m-pos", cx: 7, cy: 7, r: 5}))), L("Registered, not in use", "已登记未启用")),
    item(sw(s("g", {class: "m-camera st-dismantled"}, s("circle", {class: "m-pos", cx: 7, cy: 7, r: 5}))), L("Dismantled", "已拆除")),
    item(sw(s("line", {x1: 2, y1: 7, x2: 20, y2: 7, stroke: "#070", "stroke-width": 2, "marker-end": "url(#reg-arrow)"})), L("Heading", "朝向")),
    item(sw(s("polygon", {class: "m-fov", points: "1,13 11,1 21,13"})), L("Field of view", "视野范围")),
    item(sw(s("rect", {class: "m-mask", x: 1, y: 1, width: 20, height: 12})), L("Privacy mask", "隐私遮挡")),
    item(sw(s("rect", {class: "m-draft-area", x: 1, y: 1, width: 20, height: 12})), L("Being entered", "正在录入")),
  ];
}

// --- the tab ------------------------------------------------------------------------------------------
let pendingUnit = null;
let reopen = null;
// Another tab (the PSB overview) asks for one unit's registry: shown when this tab is next shown.
export function showUnit(unitId) {
  pendingUnit = Number(unitId);
  if (reopen) reopen(pendingUnit);
}

export async function mount(section, app) {
  injectStyle("registry-style", STYLE);
  const me = app.me || {};
  // `loaded`: the unit's sites, cameras and filings are in; until then nothing offers to change them.
  const S = {units: [], unit: null, sites: [], cameras: [], status: null, filings: [], view: null, target: null, loaded: false,
    vocab: null};
  const isAdmin = () => me.role === "unit_admin" && S.unit && S.unit.id === me.unit_id;
  const isOfficer = () => me.role === "psb_officer";

  const unitSelect = h("select", {id: "reg-unit-select", onchange: () => select(Number(unitSelect.value))});
  const topMsg = h("p", {id: "reg-msg", class: "reg-msg"});
  const unitBox = h("div", {id: "reg-unit"});
  const mapBox = h("div", {id: "reg-map"});
  const targetLine = h("div", {class: "reg-target", id: "reg-target"});
  const side = h("div", {class: "reg-side", id: "reg-side"});
  const sitesBox = h("div", {id: "reg-sites"});
  const camerasBox = h("div", {id: "reg-cameras"});
  const filingsBox = h("div", {id: "reg-filings"});

  section.replaceChildren(
    h("h2", {}, L("Registry", "登记")),
    h("p", {class: "muted"}, L(
      "Where cameras are and may be (HB-7, HB-8, BJ-5..BJ-7, CN-8, CN-13), what is filed with the PSB and when (HB-11, BJ-11, CN-14).",
      "摄像机位置、视野与备案。")),
    h("div", {class: "reg-bar"}, h("label", {}, L("Unit", "单位"), " ", unitSelect),
      h("button", {type: "button", id: "reg-refresh", onclick: () => reload()}, L("Refresh", "刷新"))),
    topMsg,
    unitBox,
    h("div", {class: "reg-grid"},
      h("div", {}, h("h3", {}, L("Map", "平面图")), mapBox, targetLine, h("div", {id: "reg-legend"})),
      side),
    sitesBox, camerasBox, filingsBox,
  );

  section.querySelector("#reg-legend").append(...legend());

  // --- picking on the map ---
  // A geometry field of an open form can be the map's target: a click then sets (or adds to) its value.
  const picks = [];
  function setTarget(t) {
    S.target = t;
    for (const b of picks) b.classList.toggle("active", !!t && b._target === t);
    targetLine.replaceChildren(t
      ? h("span", {}, L("Clicking on the map sets:", "点击地图设置："), " ", h("b", {}, t.label), " ",
        h("button", {type: "button", class: "reg-pick", onclick: () => setTarget(null)}, L("stop", "停止")))
      : h("span", {class: "muted"}, L("Open a form and choose a field to set it by clicking on the map.", "打开表单并选择字段后，可点击地图设置。")));
    mapBox.querySelector("svg")?.classList.toggle("picking", !!t);
  }

  function geoField(name, label, kind, value, {rows = 2, placeholder = ""} = {}) {
    const input = kind === "point"
      ? h("input", {name, value: value ?? "", placeholder: placeholder || "x,y"})
      : kind === "heading"
        ? h("input", {name, type: "number", step: "any", min: 0, max: 359.999, value: value ?? "", placeholder: "0–360"})
        : h("textarea", {name, rows, placeholder: placeholder || "x,y x,y x,y"}, value ?? "");
    const t = {input, kind, label};
    const button = h("button", {type: "button", class: "reg-pick", id: `reg-pick-${name}`,
      onclick: () => setTarget(S.target === t ? null : t)}, L("pick on map", "图上选取"));
    button._target = t;
    picks.push(button);
    input.addEventListener("input", () => drawMap());
    return {label: h("label", {}, h("span", {}, label, button), input), input, target: t};
  }

  function mapClick(ev) {
    const svg = ev.currentTarget;
    if (!S.target || !S.view) {
      if (!S.target) targetLine.replaceChildren(h("span", {class: "warn"},
        L("Choose a field with “pick on map” first.", "请先点击“图上选取”选择字段。")));
      return;
    }
    if (!S.target.input.isConnected) { setTarget(null); return; }
    const pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(svg.getScreenCTM().inverse());
    const w = S.view.unproject(p.x, p.y);
    const text = pointText(w, S.view.dec);
    const {input, kind} = S.target;
    if (kind === "point") input.value = text;
    else if (kind === "polygon") input.value = (input.value.trim() ? `${input.value.trim()} ` : "") + text;
    else if (kind === "polygons") {
      const lines = input.value.split("\n");
      const last = lines.length - 1;
      lines[last] = (lines[last].trim() ? `${lines[last].trim()} ` : "") + text;
      input.value = lines.join("\n");
    } else if (kind === "heading") {
      const pos = parsePoint(input.form.elements.position.value);
      if (!pos) {
        targetLine.replaceChildren(h("span", {class: "warn"}, L("Set the position first.", "请先设置位置。")));
        return;
      }
      const deg = ((Math.atan2(w[0] - pos[0], w[1] - pos[1]) * 180) / Math.PI + 360) % 360;
      input.value = fmt(deg, 1);
    }
    input.dispatchEvent(new Event("input", {bubbles: true}));
  }

  // --- the map ---
  function drafts() {
    const out = {camera: null, boundary: null, area: null};
    const cf = side.querySelector("#reg-camera-form");
    if (cf) {
      const e = cf.elements;
      const heading = e.heading_deg.value === "" ? null : Number(e.heading_deg.value);
      out.camera = {name: e.name.value, position: parsePoint(e.position.value), heading_deg: heading,
        fov: parsePoints(e.fov.value), privacy_masks: parsePolygons(e.privacy_masks.value), _id: cf.dataset.cameraId};
    }
    const uf = side.querySelector("#reg-unit-form");
    if (uf) out.boundary = parsePoints(uf.elements.boundary.value);
    const sf = side.querySelector("#reg-site-form");
    if (sf) out.area = parsePoints(sf.elements.area.value);
    return out;
  }

  function drawMap() {
    const d = drafts();
    const boundary = d.boundary && d.boundary.length ? null : S.unit && S.unit.boundary;
    const shapes = [];
    if (S.unit && S.unit.boundary) shapes.push(S.unit.boundary);
    for (const site of S.sites) if (site.area) shapes.push(site.area);
    for (const c of S.cameras) {
      if (c.position) shapes.push([c.position]);
      if (c.fov) shapes.push(c.fov);
      for (const m of c.privacy_masks || []) shapes.push(m);
    }
    if (d.camera) {
      if (d.camera.position) shapes.push([d.camera.position]);
      shapes.push(d.camera.fov, ...d.camera.privacy_masks);
    }
    if (d.boundary) shapes.push(d.boundary);
    if (d.area) shapes.push(d.area);
    const view = makeView(shapes);
    S.view = view;
    const svg = s("svg", {viewBox: `0 0 ${view.W} ${view.H}`, role: "img", "aria-label": "registry map 平面图",
      class: S.target ? "picking" : null});
    svg.append(s("defs", {},
      s("marker", {id: "reg-arrow", viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse"},
        s("path", {d: "M0,0 L10,5 L0,10 z", fill: "#333"})),
      s("marker", {id: "reg-arrow-draft", viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse"},
        s("path", {d: "M0,0 L10,5 L0,10 z", fill: "#c0a"})),
      s("pattern", {id: "reg-hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)"},
        s("rect", {width: 6, height: 6, fill: "rgba(80,80,80,.35)"}), s("line", {x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#222", "stroke-width": 2}))));
    if (boundary && boundary.length >= 3) svg.append(s("polygon", {class: "m-boundary", "data-kind": "boundary", points: ptsAttr(view, boundary)},
      s("title", {}, L("Unit boundary", "单位边界"))));
    for (const site of S.sites) {
      if (!site.area || site.area.length < 3) continue;
      const [x, y] = view.project(centroid(site.area));
      svg.append(s("polygon", {class: "m-site", "data-site": site.name, points: ptsAttr(view, site.area)},
        s("title", {}, `${site.name} · ${site.category}`)));
      svg.append(s("text", {class: "m-site-label", x, y, "text-anchor": "middle"}, site.name));
    }
    const order = {dismantled: 0, registered: 1, active: 2};
    const editing = d.camera && d.camera._id;
    for (const c of [...S.cameras].sort((a, b) => (order[a.status] ?? 1) - (order[b.status] ?? 1))) {
      if (!c.position && !c.fov) continue;
      const g = cameraShapes(view, c);
      if (editing && String(c.id) === editing) g.setAttribute("opacity", "0.35");
      svg.append(g);
    }
    if (d.boundary && d.boundary.length) {
      svg.append(s(d.boundary.length >= 3 ? "polygon" : "polyline", {class: "m-draft-boundary", points: ptsAttr(view, d.boundary)}));
    }
    if (d.area && d.area.length) svg.append(s(d.area.length >= 3 ? "polygon" : "polyline", {class: "m-draft-area", points: ptsAttr(view, d.area)}));
    if (d.camera) svg.append(cameraShapes(view, d.camera, {draft: true}));
    // Scale bar and north.
    const len = niceLength(90 / view.k);
    const px = len * view.k;
    svg.append(s("line", {class: "m-scale", x1: 12, y1: view.H - 12, x2: 12 + px, y2: view.H - 12}),
      s("text", {class: "m-scale-label", x: 12, y: view.H - 17}, `${fmt(len, 9)} ${L("units", "坐标单位")}`),
      s("text", {class: "m-north", x: view.W - 22, y: 16}, "N ↑"));
    if (!boundary && !(d.boundary && d.boundary.length)) {
      svg.append(s("text", {x: view.W / 2, y: 18, "text-anchor": "middle", class: "m-scale-label"},
        L("No boundary registered (BJ-6)", "未登记单位边界")));
    }
    svg.addEventListener("click", mapClick);
    mapBox.replaceChildren(svg);
  }

  // --- the unit ---
  function psbName() {
    if (!S.unit || S.unit.psb_unit_id == null) return L("none set", "未设置");
    return S.unit.psb || `PSB #${S.unit.psb_unit_id}`;  // the unit's data names its PSB, seen or not
  }

  function renderUnit() {
    const u = S.unit;
    if (!u) { unitBox.replaceChildren(); return; }
    const fact = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? h("span", {class: "muted"}, L("not set", "未设置")))];
    unitBox.replaceChildren(
      h("h3", {}, L("Unit", "单位"), ": ", u.name),
      h("dl", {class: "reg-facts"},
        fact(L("Kind", "类型"), u.kind),
        fact(L("Government body (BJ-7)", "政府机关"), u.government ? L("yes", "是") : L("no", "否")),
        fact(L("Address", "地址"), u.address),
        fact(L("County", "区县"), u.county),
        fact(L("Filing PSB (HB-11, CN-14)", "备案公安机关"), psbName()),
        fact(L("Boundary (BJ-6)", "边界"), u.boundary ? `${u.boundary.length} ${L("points", "点")}: ${pointsText(u.boundary)}` : null)),
      isAdmin() ? h("button", {type: "button", id: "reg-edit-unit", onclick: openUnitForm}, L("Edit address and boundary", "编辑地址和边界")) : null,
    );
  }

  function closeSide() { side.replaceChildren(); setTarget(null); drawMap(); }

  function openUnitForm() {
    const b = geoField("boundary", L("Boundary (BJ-6)", "边界"), "polygon", pointsText(S.unit.boundary || []), {rows: 3});
    const err = h("p", {class: "error"});
    const f = h("form", {class: "form", id: "reg-unit-form"},
      h("h3", {}, L("Address and boundary", "地址和边界")),
      h("label", {}, L("Address", "地址"), h("input", {name: "address", value: S.unit.address || ""})),
      b.label,
      h("div", {class: "row"}, h("button", {type: "submit"}, L("Save", "保存")),
        h("button", {type: "button", onclick: closeSide}, L("Cancel", "取消"))), err);
    f.addEventListener("submit", (ev) => submitting(ev, f, err, async () => {
      const pts = parsePoints(f.elements.boundary.value);
      await api("PATCH", `units/${S.unit.id}`, {address: f.elements.address.value, boundary: pts.length ? pts : null});
      closeSide(); await reload();
    }));
    side.replaceChildren(f);
    setTarget(b.target);
    drawMap();
  }

  // A form's submit: errors and refusals land in its own error line.
  async function submitting(ev, f, err, fn) {
    ev.preventDefault();
    showProblem(err, null);
    const btn = f.querySelector("button[type=submit]");
    if (btn) btn.disabled = true;
    try { await fn(); } catch (e) { showProblem(err, e); } finally { if (btn) btn.disabled = false; }
  }

  // --- sites ---
  // The vocabularies as the server has them: its words, with the Chinese labels above where there are some.
  const word = (dict, v) => `${v} ${dict[v] || ""}`.trim();
  const category = (name) => (S.vocab ? S.vocab.categories.find((c) => c.name === name) : null);
  const systemClass = (name) => (S.vocab ? S.vocab.system_classes.find((c) => c.name === name) : null);
  const classText = (name) => {
    const c = systemClass(name);
    return word(CLASSES, name) + (c && c.keys.length ? ` (${c.keys.join(", ")})` : "");
  };
  // What the packs in force say of a category: "forbidden 禁止安装 (CN-8, HB-8) · ...", or "" when nothing.
  const categorySays = (name) => Object.keys(SAYS).filter((k) => (category(name) || {})[k])
    .map((k) => `${SAYS[k]} (${category(name)[k].keys.join(", ")}${category(name)[k].uncertain ? L(", uncertain", "，存疑") : ""})`).join(" · ");
  const option = (value, text, selected) => h("option", {value, selected: value === selected}, text);

  function consentDocument(x) {
    const cell = h("div", {});
    const msg = h("p", {class: "error reg-row-msg"});
    const file = h("input", {type: "file", name: "consent", class: "reg-consent-file"});
    const b = h("button", {type: "button", class: "reg-file-consent", onclick: async () => {
      showProblem(msg, null);
      if (!file.files[0]) { showProblem(msg, L("Choose the consent document first.", "请先选择同意书文件。")); return; }
      b.disabled = true;
      try {
        const doc = await upload("consent", file.files[0]);
        await post(`sites/${x.id}/consent`, {document_id: doc.id});
        await reload();
      } catch (e) { showProblem(msg, e); b.disabled = false; }
    }}, L("File consent (CN-10)", "提交同意书"));
    cell.append(h("span", {class: "bad"}, L("no consent", "无同意书")), " ", file, b, msg);
    return cell;
  }

  function renderSites() {
    const count = (id) => S.cameras.filter((c) => c.site_id === id && c.status !== "dismantled").length;
    const t = table(S.sites, [
      [L("Site", "场所"), (x) => x.name],
      [L("Category", "类别"), (x) => {
        const says = categorySays(x.category);
        return h("span", {}, word(CATEGORIES, x.category), says
          ? h("span", {class: `muted reg-says${(category(x.category) || {}).forbidden ? " bad" : ""}`}, ` · ${says}`) : null);
      }],
      [L("Part", "部位"), (x) => word(PARTS, x.part)],
      [L("System class", "系统类别"), (x) => classText(x.system_class)],
      [L("Next to a classified unit (CN-10)", "毗邻涉密单位"), (x) => x.near_classified_unit
        ? (x.consent_document_id ? h("span", {class: "ok"}, L(`consent #${x.consent_document_id}`, "已同意"))
          : isAdmin() ? consentDocument(x) : h("span", {class: "bad"}, L("no consent", "无同意书"))) : "-"],
      [L("Cameras", "摄像机"), (x) => String(count(x.id))],
    ], {empty: L("No sites yet.", "暂无场所。")});
    if (t.tagName === "TABLE") t.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.site = S.sites[i].name; });
    sitesBox.replaceChildren(h("h3", {}, L("Sites", "场所")), t,
      isAdmin() && S.loaded ? h("button", {type: "button", id: "reg-add-site", onclick: openSiteForm}, L("Add a site", "添加场所")) : null);
  }

  function openSiteForm() {
    const area = geoField("area", L("Area (optional)", "区域（可选）"), "polygon", "");
    const err = h("p", {class: "error"});
    const v = S.vocab || {categories: [], parts: [], system_classes: []};
    const says = h("span", {class: "muted", id: "reg-category-says"});
    const categories = h("select", {name: "category", required: true, onchange: () => {
      says.textContent = categories.value ? categorySays(categories.value) || L("no list of the packs in force names it", "现行规定未列出") : "";
    }}, option("", "—"), v.categories.map((c) => {
      const flags = Object.keys(SAYS).filter((k) => c[k]).map((k) => SAYS[k]).join(", ");
      return option(c.name, word(CATEGORIES, c.name) + (flags ? ` — ${flags}` : ""));
    }));
    const f = h("form", {class: "form", id: "reg-site-form"},
      h("h3", {}, L("New site", "新场所")),
      h("label", {}, L("Name", "名称"), h("input", {name: "name", required: true})),
      h("label", {}, L(`Category (${(S.vocab ? S.vocab.packs : []).join(" + ")})`, "类别"), categories, says),
      h("label", {}, L("Part", "部位"), h("select", {name: "part"}, v.parts.map((p) => option(p, word(PARTS, p), "other")))),
      h("label", {}, L("System class (CN-7, CN-9, CN-33)", "系统类别"), h("select", {name: "system_class", required: true},
        option("", "—"), v.system_classes.map((c) => option(c.name, `${classText(c.name)}: ${c.label}`)))),
      h("label", {class: "check"}, h("input", {type: "checkbox", name: "near_classified_unit"}),
        L("Next to a military or classified unit (CN-10)", "毗邻军事或涉密单位")),
      h("label", {}, L("That unit's consent (document)", "同意书"), h("input", {type: "file", name: "consent"})),
      area.label,
      h("div", {class: "row"}, h("button", {type: "submit"}, L("Add site", "添加场所")),
        h("button", {type: "button", onclick: closeSide}, L("Cancel", "取消"))), err);
    f.addEventListener("submit", (ev) => submitting(ev, f, err, async () => {
      const e = f.elements;
      const body = {name: e.name.value, category: e.category.value, part: e.part.value,
        system_class: e.system_class.value, near_classified_unit: e.near_classified_unit.checked};
      const pts = parsePoints(e.area.value);
      if (pts.length) body.area = pts;
      const file = e.consent.files[0];
      if (file) body.consent_document_id = (await upload("consent", file)).id;
      await post(`units/${S.unit.id}/sites`, body);
      closeSide(); await reload();
    }));
    side.replaceChildren(f);
    setTarget(null);
    drawMap();
  }

  const upload = (kind, file) => api("POST", `documents?kind=${encodeURIComponent(kind)}&filename=${encodeURIComponent(file.name)}`, file);

  // --- cameras ---
  function deadlineText(d) {
    if (!d) return null;
    if (d.status === "filed") return h("span", {class: "ok deadline", "data-status": "filed"}, L("filed", "已备案"));
    const days = Math.ceil((new Date(d.due) - new Date(S.status.as_of)) / 86400000);
    return d.status === "overdue"
      ? h("span", {class: "bad deadline", "data-status": "overdue"}, L(`overdue by ${-days} days`, `逾期 ${-days} 天`))
      : h("span", {class: "warn deadline", "data-status": "due"}, L(`due in ${days} days`, `${days} 天内备案`));
  }
  const deadlineOf = (c) => (S.status ? S.status.cameras.find((d) => d.camera_id === c.id) : null);

  function renderCameras() {
    const siteName = (id) => (S.sites.find((x) => x.id === id) || {}).name;
    const rec = new Map((app.cameras ? app.cameras() || [] : []).map((c) => [c.name, c]));
    const rows = S.cameras;
    const t = table(rows, [
      [L("Camera", "摄像机"), (c) => h("b", {}, c.name)],
      [L("Status", "状态"), (c) => c.registration === 0
        ? h("span", {class: "pill offline"}, L("recorder only, not registered", "仅录像，未登记"))
        : h("span", {class: `pill status-${c.status}`}, `${c.status} ${STATUS[c.status] || ""}`)],
      [L("Registration No.", "登记号"), (c) => String(c.registration)],
      [L("Site", "场所"), (c) => siteName(c.site_id) || "-"],
      [L("Type", "类型"), (c) => c.kind || "-"],
      [L("Position / heading", "位置/朝向"), (c) => c.position ? `${pointText(c.position)} · ${c.heading_deg ?? "-"}°` : "-"],
      [L("Sign (HB-9, BJ-15, CN-13)", "标识"), (c) => c.signage ? h("span", {class: "ok"}, "✓") : h("span", {class: "bad"}, "✗")],
      // Image masks (picture space, for redacted exports, CN-22) are kept as registered by a re-registration here.
      [L("Masks: map / picture", "遮挡：地图/画面"), (c) => `${(c.privacy_masks || []).length} / ${(c.image_masks || []).length}`],
      [L("In use since", "启用时间"), (c) => ymdhms(c.in_use_since)],
      [L("Recording", "录制"), (c) => rec.get(c.name) ? h("span", {class: `pill ${rec.get(c.name).state}`}, rec.get(c.name).state) : "-"],
      [L("Filing", "备案"), (c) => deadlineText(deadlineOf(c)) || "-"],
      [L("Actions", "操作"), (c) => cameraActions(c)],
    ], {empty: L("No cameras yet.", "暂无摄像机。")});
    if (t.tagName === "TABLE") t.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.camera = rows[i].name; });
    camerasBox.replaceChildren(h("h3", {}, L("Cameras", "摄像机")), t,
      isAdmin() && S.loaded ? h("button", {type: "button", id: "reg-register", onclick: () => openCameraForm(null)}, L("Register a camera", "登记摄像机")) : null);
  }

  function cameraActions(c) {
    const msg = h("p", {class: "error reg-row-msg"});
    const act = (label, cls, fn) => h("button", {type: "button", class: cls, onclick: async (ev) => {
      showProblem(msg, null);
      ev.target.disabled = true;
      try { await fn(); } catch (e) { showProblem(msg, e); } finally { ev.target.disabled = false; }
    }}, label);
    if (!isAdmin()) return msg;
    const out = [];
    if (c.status !== "dismantled") {
      if (c.registration === 0) out.push(act(L("Register", "登记"), "reg-do-register", () => openCameraForm(c)));
      else out.push(act(L("Re-register", "重新登记"), "reg-do-reregister", () => openCameraForm(c)));
      if (c.status === "registered") out.push(act(L("Activate", "启用"), "reg-do-activate", async () => {
        await post(`registry/cameras/${c.id}/activate`, {});
        await reload();
      }));
      out.push(act(L("File dismantling", "拆除备案"), "reg-do-file-dismantle", async () => {
        await post("filings", {unit_id: S.unit.id, kind: "dismantle", camera_ids: [c.id]});
        await reload();
      }));
      out.push(act(L("Dismantle", "拆除"), "reg-do-dismantle", async () => {
        if (!confirm(`${L("Dismantle camera", "拆除摄像机")} ${c.name}?`)) return;
        await post(`registry/cameras/${c.id}/dismantle`, {});
        await reload();
      }));
    }
    return h("div", {}, out, msg);
  }

  const siteOptions = (selected) => [h("option", {value: ""}, "—"), ...S.sites.map((x) => h("option",
    {value: x.id, selected: selected === x.id}, `${x.name} · ${x.category} ${CATEGORIES[x.category] || ""}`))];

  // Register a new camera (c null), register a recorder-only one (registration 0), or re-register.
  function openCameraForm(c) {
    const rereg = !!c && c.registration > 0;
    const dec = S.view ? S.view.dec : 6;
    const pos = geoField("position", L("Position", "位置"), "point", c && c.position ? pointText(c.position, dec) : "");
    const head = geoField("heading_deg", L("Heading, degrees clockwise from north", "朝向（度，正北顺时针）"), "heading", c ? c.heading_deg : "");
    const fov = geoField("fov", L("Field of view (polygon)", "视野范围（多边形）"), "polygon", c ? pointsText(c.fov || [], dec) : "");
    const masks = geoField("privacy_masks", L("Privacy masks, one polygon a line (HB-13, BJ-9)", "隐私遮挡（每行一个多边形）"), "polygons",
      c ? polygonsText(c.privacy_masks || [], dec) : "", {rows: 2});
    masks.label.firstChild.append(h("button", {type: "button", class: "reg-pick", id: "reg-new-mask", onclick: () => {
      const ta = masks.input;
      if (ta.value.trim()) ta.value = `${ta.value.replace(/\n+$/, "")}\n`;
      setTarget(masks.target);
    }}, L("new mask", "新遮挡")));
    const angle = h("input", {name: "sector_angle", type: "number", value: 60, min: 1, max: 360, style: "min-width:4em;width:5em"});
    const range = h("input", {name: "sector_range", type: "number", step: "any", placeholder: L("range", "距离"), style: "min-width:5em;width:7em"});
    const err = h("p", {class: "error"});
    const f = h("form", {class: "form", id: "reg-camera-form", dataset: c ? {cameraId: String(c.id)} : {}},
      h("h3", {}, rereg ? L(`Re-register ${c.name} (HB-18.1, BJ-12.4, CN-23)`, "重新登记") : L("Register a camera", "登记摄像机")),
      h("label", {}, L("Name", "名称"), h("input", {name: "name", required: true, value: c ? c.name : "", readOnly: !!c})),
      // A camera the recorder has already keeps its stored URL (with its password, never shown) unless one is typed.
      rereg ? null : h("label", {}, L("Stream URL (RTSP)", "视频流地址"), h("input", {name: "url", required: !c,
        placeholder: c ? L("leave empty to keep the stored URL", "留空则保留已存地址") : "rtsp://user:password@host/stream"})),
      h("label", {}, L("Site", "场所"), h("select", {name: "site_id"}, siteOptions(c ? c.site_id : null))),
      h("label", {}, L("Type (CN-14)", "类型"), h("input", {name: "kind", list: "reg-camera-kinds", value: c ? c.kind || "" : ""}),
        h("datalist", {id: "reg-camera-kinds"}, CAMERA_KINDS.map((k) => h("option", {value: k})))),
      pos.label, head.label, fov.label,
      h("div", {class: "row"}, h("span", {class: "muted"}, L("View from heading:", "按朝向生成视野：")),
        h("label", {}, L("angle °", "角度"), angle), h("label", {}, L("range", "距离"), range),
        h("button", {type: "button", id: "reg-sector", onclick: () => {
          const p = parsePoint(f.elements.position.value), hd = Number(f.elements.heading_deg.value);
          if (!p || f.elements.heading_deg.value === "") { showProblem(err, L("Set the position and heading first.", "请先设置位置和朝向。")); return; }
          const r = Number(range.value) || (S.view ? 80 / S.view.k : 10);
          f.elements.fov.value = pointsText(sector(p, hd, Number(angle.value) || 60, r), S.view ? S.view.dec : 6);
          drawMap();
        }}, L("Draw view", "生成视野"))),
      masks.label,
      h("label", {class: "check"}, h("input", {type: "checkbox", name: "signage", checked: !!(c && c.signage)}),
        L("A conspicuous sign is up (HB-9, BJ-15, CN-13)", "已设置醒目标识")),
      h("label", {}, L("Photo of the sign", "标识照片"), h("input", {type: "file", name: "signage_photo", accept: "image/*"})),
      rereg ? h("label", {}, L("Reason for the change", "变更原因"), h("input", {name: "reason", required: true, minLength: 4})) : null,
      h("div", {class: "row"}, h("button", {type: "submit", id: "reg-camera-submit"}, rereg ? L("Re-register", "重新登记") : L("Register", "登记")),
        h("button", {type: "button", onclick: closeSide}, L("Cancel", "取消"))),
      err);
    f.addEventListener("input", () => drawMap());
    f.addEventListener("submit", (ev) => submitting(ev, f, err, async () => {
      const e = f.elements;
      const fovPts = parsePoints(e.fov.value);
      const body = {
        site_id: e.site_id.value ? Number(e.site_id.value) : null,
        kind: e.kind.value.trim() || null,
        position: parsePoint(e.position.value),
        heading_deg: e.heading_deg.value === "" ? null : Number(e.heading_deg.value),
        fov: fovPts.length ? fovPts : null,
        privacy_masks: parsePolygons(e.privacy_masks.value),
        signage: e.signage.checked,
      };
      const file = e.signage_photo.files[0];
      if (file) body.signage_photo_id = (await upload("signage_photo", file)).id;
      if (rereg) await post(`registry/cameras/${c.id}/reregister`, {reason: e.reason.value, ...body});
      else {
        const url = e.url.value.trim();
        await post("registry/cameras", {unit_id: S.unit.id, name: e.name.value.trim(), ...(url || !c ? {url} : {}), ...body});
      }
      closeSide(); await reload();
    }));
    side.replaceChildren(f);
    setTarget(pos.target);
    drawMap();
    f.scrollIntoView({block: "nearest"});
  }

  // --- filings ---
  function renderFilings() {
    const st = S.status;
    const camName = (id) => (S.cameras.find((c) => c.id === id) || {}).name || `#${id}`;
    const deadlines = st ? table(st.cameras, [
      [L("Camera", "摄像机"), (d) => d.camera],
      [L("Filing", "备案"), (d) => deadlineText(d)],
      [L("Due", "期限"), (d) => (d.due ? ymdhms(d.due).slice(0, 10) : "-")],
      [L("Keys", "条款"), (d) => h("span", {class: "keys"}, d.keys.join(", "))],
      [L("Why", "说明"), (d) => d.reason],
    ], {empty: L("No camera in use has a filing duty.", "暂无需备案的在用摄像机。")}) : h("p", {class: "empty"}, "-");
    if (deadlines.tagName === "TABLE") deadlines.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.camera = st.cameras[i].camera; });
    deadlines.id = "reg-deadlines";
    const sum = st ? st.summary : null;
    const summary = sum ? h("p", {id: "reg-filing-summary"},
      h("span", {class: "ok"}, L(`${sum.filed} filed`, `已备案 ${sum.filed}`)), " · ",
      h("span", {class: "warn"}, L(`${sum.due} due`, `待备案 ${sum.due}`)), " · ",
      h("span", {class: "bad"}, L(`${sum.overdue} overdue`, `逾期 ${sum.overdue}`)),
      sum.next_due ? ` · ${L("next due", "最近期限")} ${ymdhms(sum.next_due).slice(0, 10)}` : "") : null;

    const list = table(S.filings, [
      [L("No.", "编号"), (f) => String(f.id)],
      [L("Kind", "类型"), (f) => `${f.kind} ${FILING_KINDS[f.kind] || ""}`],
      [L("Cameras", "摄像机"), (f) => (f.kind === "personnel" ? `${(f.content && f.content.personnel_count) ?? 0} ${L("staff", "人员")}`
        : (f.cameras || []).map(([id, reg]) => `${camName(id)} (No. ${reg})`).join(", "))],
      [L("Submitted", "提交时间"), (f) => ymdhms(f.submitted_at)],
      [L("PSB", "公安机关"), (f) => f.psb || "-"],
      [L("Status", "状态"), (f) => (f.received_at
        ? h("span", {class: "ok filing-status", "data-status": "received"}, L(`received ${ymdhms(f.received_at)}`, "已接收"))
        : h("span", {class: "warn filing-status", "data-status": "awaiting"}, L("awaiting receipt", "待接收")))],
      [L("Form", "表单"), (f) => h("span", {},
        h("a", {href: `/api/v1/filings/${f.id}/form.pdf`, download: `filing-${f.id}.pdf`, class: "form-pdf"}, "PDF"), " · ",
        h("a", {href: `/api/v1/filings/${f.id}/form.json`, download: `filing-${f.id}.json`, class: "form-json"}, "JSON"))],
      [L("Note", "备注"), (f) => f.note || ""],
      ["", (f) => filingActions(f)],
    ], {empty: L("Nothing filed yet.", "尚未备案。")});
    if (list.tagName === "TABLE") list.querySelectorAll("tbody tr").forEach((tr, i) => { tr.dataset.filing = String(S.filings[i].id); });
    list.id = "reg-filings-table";

    let fileForm = null;
    if (isAdmin()) {
      const err = h("p", {class: "error"});
      fileForm = h("form", {class: "form", id: "reg-file-form"},
        h("label", {}, L("File with the PSB", "向公安机关备案"), h("select", {name: "kind"},
          ["initial", "change", "personnel"].map((k) => h("option", {value: k}, `${k} ${FILING_KINDS[k]}`)))),
        h("label", {}, L("Note", "备注"), h("input", {name: "note"})),
        h("button", {type: "submit", id: "reg-file"}, L("File", "备案")), err,
        h("span", {class: "muted"}, L("Initial and change filings list every registered and active camera; dismantling is filed from the camera's row.",
          "初次和变更备案包括所有已登记和在用的摄像机；拆除备案在摄像机行中提交。")));
      fileForm.addEventListener("submit", (ev) => submitting(ev, fileForm, err, async () => {
        const e = fileForm.elements;
        await post("filings", {unit_id: S.unit.id, kind: e.kind.value, note: e.note.value || null});
        await reload();
      }));
    }
    filingsBox.replaceChildren(h("h3", {}, L("Filings with the PSB (HB-11, BJ-11, CN-14)", "备案")),
      h("h4", {}, L("Deadlines per camera", "各摄像机备案期限")), summary, deadlines,
      fileForm, h("h4", {}, L("Filings", "备案记录")), list);
  }

  function filingActions(f) {
    const msg = h("p", {class: "error reg-row-msg"});
    if (!(isOfficer() && !f.received_at && f.psb_unit_id === me.unit_id)) return msg;
    const b = h("button", {type: "button", class: "reg-receive", onclick: async () => {
      showProblem(msg, null);
      b.disabled = true;
      try { await post(`filings/${f.id}/receive`, {}); await reload(); } catch (e) { showProblem(msg, e); b.disabled = false; }
    }}, L("Acknowledge receipt", "确认接收"));
    return h("div", {}, b, msg);
  }

  // --- loading ---
  function renderAll() {
    renderUnit(); renderSites(); renderCameras(); renderFilings(); drawMap();
    // An open camera form offers the sites as they are now, keeping its choice.
    const sel = side.querySelector("#reg-camera-form select[name=site_id]");
    if (sel) {
      const was = sel.value ? Number(sel.value) : null;
      sel.replaceChildren(...siteOptions(was));
    }
  }

  async function reload() {
    if (!S.unit) return;
    const id = S.unit.id;
    showProblem(topMsg, null);
    // The packs in force do not change while the server runs: the vocabularies are asked for once.
    if (!S.vocab) S.vocab = await get("registry/vocabularies").catch((e) => { showProblem(topMsg, e); return null; });
    try {
      const [unit, sites, cams, status, filings] = await Promise.all([
        get(`units/${id}`), get(`units/${id}/sites`), get(`registry/cameras?unit_id=${id}&limit=500`),
        get(`units/${id}/filing-status`), get(`filings?unit_id=${id}&limit=1000`)]);
      if (!S.unit || S.unit.id !== id) return;
      Object.assign(S, {unit, sites, cameras: cams.items, status, filings: filings.items, loaded: true});
    } catch (e) {
      showProblem(topMsg, e);
    }
    renderAll();
  }

  async function select(id) {
    const u = S.units.find((x) => x.id === id);
    if (!u) return;
    if (!S.unit || S.unit.id !== id) {
      side.replaceChildren(); setTarget(null);
      Object.assign(S, {unit: u, sites: [], cameras: [], status: null, filings: [], loaded: false});
    }
    unitSelect.value = String(id);
    await reload();
  }

  try {
    const r = await get("units?limit=500");
    const using = r.items.filter((u) => u.kind === "using_unit");
    S.units = using.length ? using : r.items;
  } catch (e) {
    showProblem(topMsg, e);
  }
  const choices = S.units;
  unitSelect.replaceChildren(...choices.map((u) => h("option", {value: u.id}, u.name)));
  if (!choices.length) topMsg.replaceChildren(h("span", {class: "empty"}, L("No unit's registry is visible to you.", "没有可查看的单位登记。")));
  const first = pendingUnit ?? (choices.find((u) => u.id === me.unit_id) || choices[0] || {}).id;
  pendingUnit = null;
  if (first !== undefined) {
    S.unit = choices.find((u) => u.id === first) || null;
    if (S.unit) unitSelect.value = String(S.unit.id);
  }
  setTarget(null);
  renderAll();

  let visible = false;
  reopen = (id) => { if (visible) { pendingUnit = null; select(id); } };
  section.addEventListener("tabshow", () => {
    visible = true;
    if (pendingUnit !== null && pendingUnit !== (S.unit && S.unit.id)) { const id = pendingUnit; pendingUnit = null; select(id); return; }
    pendingUnit = null;
    reload();
  });
  section.addEventListener("tabhide", () => { visible = false; });
}
