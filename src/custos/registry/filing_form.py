"""The filing form (备案表) as handed to the PSB: canonical JSON and an A4 PDF (CN-14, HB-11, BJ-11).

Both are printed from `Filing.content`, the fields exactly as submitted and entered in the ledger, never
from the registry as it is now, so the form still says what was filed after cameras move. The PDF prints
every field: the CN-14 fields in labelled rows, the cameras in a table that runs over pages, and any
other field of the content under "Other fields", so nothing is dropped silently.

Chinese needs a CJK font; reportlab's built-in CID font STSong-Light needs no font file, but text in it is
only extractable where the reader has the Adobe-GB1 tables, so runs of Latin text stay in Helvetica.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from custos.catalog.models import Filing
from custos.ledger import log

CJK = "STSong-Light"
LATIN = "Helvetica"
TITLE_ZH = "公共安全视频图像信息系统备案表"
TITLE_EN = "Filing of a public security video image information system"
# One labelled row per CN-14 field, bilingual.
LABELS = {
    "unit": ("单位", "Unit"),
    "locations": ("安装位置", "Locations"),
    "camera_count": ("摄像机数量", "Camera count"),
    "camera_types": ("摄像机类型", "Camera types"),
    "retention_period": ("存储期限", "Retention period"),
    "personnel": ("监控人员", "Personnel"),
    "personnel_count": ("人员数量", "Personnel count"),
}
KIND_LABELS = {
    "initial": ("首次备案", "initial"),
    "change": ("变更备案", "change"),
    "dismantle": ("拆除备案", "dismantle"),
    "personnel": ("人员备案", "personnel"),
}
# Shown in the header or in their own rows; everything else in the content goes under "Other fields".
SHOWN = {"kind", "unit", "locations", "camera_count", "camera_types", "retention_period", "personnel"}
SHOWN |= {"personnel_count", "packs", "keys"}
CAMERA_COLUMNS = ("camera", "registration", "kind", "site", "category", "part", "system_class", "position")
STAFF_COLUMNS = ("name", "post", "vetted_on", "vetting_ref", "trained_on", "training_ref")


def _header(filing: Filing, unit_name: str, psb_name: str) -> dict[str, Any]:
    return {
        "filing_id": filing.id,
        "kind": filing.kind,
        "unit": unit_name,
        "psb": psb_name,
        "submitted_at": log.utc_text(filing.submitted_at),
        "ledger_seq": filing.seq,
        "received_at": log.utc_text(filing.received_at),
        "receipt_seq": filing.receipt_seq,
        "note": filing.note,
        "cameras": filing.cameras,
    }


def filing_json(filing: Filing, unit_name: str, psb_name: str) -> bytes:
    """The filing as canonical, indented JSON (sorted keys, UTF-8): header fields and the content as filed."""
    doc = {**_header(filing, unit_name, psb_name), "content": filing.content}
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _register_cjk() -> None:
    if CJK not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK))


def _mark(text: str) -> str:
    """Paragraph markup for `text`: escaped, with runs beyond Latin-1 set in the CJK font."""
    out: list[str] = []
    run: list[str] = []
    cjk = False
    for ch in text:
        wide = ord(ch) > 0xFF
        if run and wide != cjk:
            out.append(_run("".join(run), cjk))
            run = []
        cjk = wide
        run.append(ch)
    if run:
        out.append(_run("".join(run), cjk))
    return "".join(out).replace("\n", "<br/>")


def _run(text: str, cjk: bool) -> str:
    return f'<font name="{CJK}">{escape(text)}</font>' if cjk else escape(text)


def _say(value: Any) -> str:
    """A value in words; structured values as compact JSON so that every part of them is printed."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class _Form:
    def __init__(self) -> None:
        _register_cjk()
        self.body = ParagraphStyle("body", fontName=LATIN, fontSize=8.5, leading=11)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5)
        self.title = ParagraphStyle("title", fontName=LATIN, fontSize=15, leading=20, alignment=1)
        self.subtitle = ParagraphStyle("subtitle", fontName=LATIN, fontSize=11, leading=15, alignment=1)
        self.heading = ParagraphStyle("heading", fontName=LATIN, fontSize=10, leading=14, spaceBefore=6)
        self.grid = TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
            ]
        )
        self.table = TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ]
        )

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(_mark(text), style or self.body)

    def rows(self, rows: Sequence[tuple[str, str]]) -> Table:
        """Label | value rows; values wrap, so long ones are printed whole."""
        data = [[self.p(label), self.p(value)] for label, value in rows]
        t = LongTable(data, colWidths=[48 * mm, 126 * mm], repeatRows=0)
        t.setStyle(self.grid)
        return t

    def listing(self, columns: Sequence[str], items: Sequence[dict[str, Any]]) -> Table:
        """A table that splits over pages and repeats its header row."""
        width = 174 * mm / len(columns)
        head = [self.p(c.replace("_", " "), self.small) for c in columns]
        data = [head] + [[self.p(_say(it.get(c)), self.small) for c in columns] for it in items]
        t = LongTable(data, colWidths=[width] * len(columns), repeatRows=1)
        t.setStyle(self.table)
        return t


def _label(field: str) -> str:
    zh, en = LABELS.get(field, ("", field.replace("_", " ")))
    return f"{zh} {en}".strip()


def _unit_text(u: dict[str, Any]) -> str:
    parts = [
        f"{u.get('name')}",
        f"address: {_say(u.get('address'))}",
        f"county: {_say(u.get('county'))}",
        f"filing PSB: {_say(u.get('psb'))}",
        f"government body: {_say(u.get('government'))}",
    ]
    known = {"id", "name", "address", "county", "psb", "psb_id", "government"}
    parts += [f"{k}: {_say(v)}" for k, v in sorted(u.items()) if k not in known]
    return "\n".join(parts)


def _locations_text(locs: Sequence[dict[str, Any]]) -> str:
    if not locs:
        return "none"
    sites = sorted({str(loc.get("site") or "not set") for loc in locs})
    return f"{len(locs)} camera(s) at: {', '.join(sites)}; each camera's location is listed below"


def _retention_text(periods: Sequence[dict[str, Any]]) -> str:
    lines = []
    for r in periods:
        flag = ", uncertain" if r.get("uncertain") else ""
        lines.append(f"{r.get('class')}: {r.get('text')} ({', '.join(r.get('keys') or [])}{flag})")
    return "\n".join(lines) or "not set"


def _types_text(types: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in sorted(types.items())) or "none"


def filing_pdf(filing: Filing, unit_name: str, psb_name: str) -> bytes:
    """The filing form as an A4 PDF: title in Chinese and English, the header, one labelled row per field,
    the cameras (or staff) table, and every other field of the content."""
    f = _Form()
    c = filing.content
    head = _header(filing, unit_name, psb_name)
    zh, en = KIND_LABELS.get(filing.kind, ("", filing.kind))
    story: list[Any] = [
        f.p(TITLE_ZH, f.title),
        f.p(TITLE_EN, f.subtitle),
        Spacer(1, 4 * mm),
        f.rows(
            [
                ("备案编号 Filing id", str(filing.id)),
                ("备案类型 Kind", f"{zh} {en}".strip()),
                ("备案机关 Filed with", psb_name),
                ("提交时间 Submitted (UTC)", _say(head["submitted_at"])),
                ("账本序号 Ledger seq", str(filing.seq)),
                ("接收时间 Received (UTC)", head["received_at"] or "not yet received"),
                (
                    "接收账本序号 Receipt seq",
                    "not yet received" if filing.receipt_seq is None else str(filing.receipt_seq),
                ),
                ("备注 Note", _say(filing.note)),
                ("已备案摄像机 Cameras filed [id, registration]", _say(filing.cameras)),
            ]
        ),
        Spacer(1, 4 * mm),
    ]
    fields: list[tuple[str, str]] = [(_label("unit"), _unit_text(c.get("unit") or {"name": unit_name}))]
    if filing.kind == "personnel":
        fields.append((_label("personnel_count"), _say(c.get("personnel_count"))))
    else:
        fields += [
            (_label("locations"), _locations_text(c.get("locations") or [])),
            (_label("camera_count"), _say(c.get("camera_count"))),
            (_label("camera_types"), _types_text(c.get("camera_types") or {})),
            (_label("retention_period"), _retention_text(c.get("retention_period") or [])),
        ]
    story.append(f.rows(fields))
    if filing.kind == "personnel":
        story += [f.p(_label("personnel"), f.heading), f.listing(STAFF_COLUMNS, c.get("personnel") or [])]
    else:
        story += [f.p("摄像机及安装位置 Cameras and locations", f.heading)]
        story.append(f.listing(CAMERA_COLUMNS, c.get("locations") or []))
        extra_cols = sorted({k for loc in c.get("locations") or [] for k in loc} - set(CAMERA_COLUMNS))
        if extra_cols:  # every location field is printed, the less used ones in a second table
            story += [Spacer(1, 3 * mm), f.listing(("camera", *extra_cols), c.get("locations") or [])]
    other = [(k.replace("_", " "), _say(v)) for k, v in sorted(c.items()) if k not in SHOWN]
    if other:
        story += [f.p("其他字段 Other fields", f.heading), f.rows(other)]
    story += [
        f.p("依据 Basis", f.heading),
        f.rows([("政策包 Packs", ", ".join(c.get("packs") or [])), ("条款 Keys", ", ".join(c.get("keys") or []))]),
    ]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{TITLE_EN} #{filing.id}",
        author=unit_name,
        subject=f"filed with {psb_name}",
    )
    doc.build(story, onFirstPage=_footer(filing), onLaterPages=_footer(filing))
    return buf.getvalue()


def _footer(filing: Filing) -> Any:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(LATIN, 7)
        canvas.drawString(18 * mm, 9 * mm, f"Filing {filing.id} - ledger seq {filing.seq} - page {doc.page}")
        canvas.restoreState()

    return draw
