"""Rendering rows the way RQ Data Connect does, in each ``Response=`` format (reference
C.3; shapes from the seed's examples). Used by the emulator.

CSV comes in two flavours: ``quoting="none"`` writes fields as they are, exactly
like the seed's own sample (so ``Activations,Smart Phones`` yields one field too
many); ``quoting="minimal"`` quotes fields with commas, as the guide promises.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "jsondatatable": "application/json; charset=utf-8",
    "xml": "text/xml; charset=utf-8",
    "xmldatatable": "text/xml; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "excel": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

#: SQL type -> (Type, SafeType, Length) for the DataTable schema blocks.
_SCHEMA_TYPES = {
    "INT": ("int", "Int32", 4),
    "MONEY": ("money", "Decimal", 8),
}


def _schema(columns: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    out = []
    for name, sql_type in columns:
        base = sql_type.split("(")[0]
        if base in _SCHEMA_TYPES:
            kind, safe, length = _SCHEMA_TYPES[base]
        else:
            size = sql_type[len(base) + 1:-1] if "(" in sql_type else ""
            kind, safe, length = base.lower(), "String", (-1 if size in ("", "MAX") else int(size))
        out.append({"Column_Name": name, "Type": kind, "SafeType": safe, "Length": length})
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    return str(value)


def _json_value(value: Any, numbers_as_strings: bool) -> Any:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        if numbers_as_strings:
            return _text(value)
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
    return value


def render(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], fmt: str, *,
           csv_quoting: str = "none", numbers_as_strings: bool = False,
           report_name: str = "report", day: str = "") -> tuple[bytes, dict[str, str]]:
    """``rows`` as the body of format ``fmt`` and the headers to send with it.

    :param columns: (name, SQL type) in order; NULLs are ``null`` in JSON, missing
        elements in XML and empty fields in CSV.
    """
    names = [name for name, _ in columns]
    headers = {"Content-Type": CONTENT_TYPES[fmt]}
    if fmt in ("json", "jsondatatable"):
        records = [{n: _json_value(r.get(n), numbers_as_strings) for n in names} for r in rows]
        data: Any = records if fmt == "json" else {"Records": records,
                                                    "Schema": _schema(columns)}
        return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"), headers
    if fmt in ("xml", "xmldatatable"):
        table = ET.Element("Table")
        for r in rows:
            record = ET.SubElement(table, "Record")
            for n in names:
                if r.get(n) is not None:
                    ET.SubElement(record, n).text = _text(r[n])
        if fmt == "xmldatatable":
            for entry in _schema(columns):
                schema = ET.SubElement(table, "Schema")
                for key, value in entry.items():
                    ET.SubElement(schema, key).text = str(value)
        ET.indent(table)
        return ET.tostring(table, encoding="utf-8", xml_declaration=False), headers
    if fmt == "csv":
        return _csv(rows, names, csv_quoting).encode("utf-8"), headers
    if fmt == "excel":
        headers["Content-Disposition"] = f"attachment;filename={report_name}-{day}.xlsx"
        return _xlsx(rows, names), headers
    raise ValueError(f"unknown format {fmt}")


def _csv(rows: Sequence[dict[str, Any]], names: Sequence[str], quoting: str) -> str:
    if quoting == "none":  # the seed's sample: fields joined as they are
        lines = [",".join(names)] + [",".join(_text(r.get(n)) for n in names) for r in rows]
        return "\r\n".join(lines) + "\r\n"
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(names)
    for r in rows:
        writer.writerow([_text(r.get(n)) for n in names])
    return out.getvalue()


def _xlsx(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> bytes:
    """A minimal Office Open XML workbook: one sheet, inline strings and numbers."""

    def cell(value: Any) -> str:
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return f"<c><v>{_text(value)}</v></c>"
        return f'<c t="inlineStr"><is><t>{escape(_text(value))}</t></is></c>'

    sheet_rows = ["<row>" + "".join(cell(n) for n in names) + "</row>"]
    sheet_rows += ["<row>" + "".join(cell(r.get(n)) for n in names) + "</row>" for r in rows]
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    parts = {
        "[Content_Types].xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{pkg}/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.worksheet+xml"/></Types>'),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {ns} xmlns:r="{rel}"><sheets>'
            '<sheet name="Report" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{pkg}/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            "</Relationships>"),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {ns}><sheetData>'
            + "".join(sheet_rows) + "</sheetData></worksheet>"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return out.getvalue()
