"""Parsing the API's response formats into rows of raw values.

Each parser returns :class:`Parsed`: rows (column name -> raw value), a label per
row for messages ("CSV line 7", "record 3"), rows rejected while parsing, and how
many CSV rows were repaired. Typing happens afterwards in :mod:`plugins.rq.schema`,
the same for every format.

``Response=`` values (seed and reference C.3): ``Json`` (the default) is an array of
row objects; ``JsonDataTable`` wraps it as ``{"Records": [...], "Schema": [...]}``;
``Xml`` is ``<Table><Record><Col>...</Col></Record>...</Table>`` and ``XmlDataTable``
adds ``<Schema>`` elements; ``Csv`` is a header row plus rows (see
:mod:`plugins.rq.csv_repair` for rows with unquoted commas).
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from plugins.rq.csv_repair import fix_row

#: The ``Response=`` value sent for each format offramp reads.
RESPONSE_PARAM: dict[str, str] = {
    "json": "Json",
    "jsondatatable": "JsonDataTable",
    "xml": "Xml",
    "xmldatatable": "XmlDataTable",
    "csv": "Csv",
}


class FormatError(ValueError):
    """The body is not what the format promises (the message never quotes row values)."""


@dataclass
class Parsed:
    """Rows read from one response."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (label, reason)
    repaired: int = 0

    def add(self, row: dict[str, Any], label: str) -> None:
        self.rows.append(row)
        self.labels.append(label)


def decode(body: bytes, content_type: str | None) -> str:
    """The body as text, in the charset the Content-Type names (UTF-8 by default)."""
    charset = "utf-8"
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"').lower()
    if charset in ("utf-8", "utf8"):
        charset = "utf-8-sig"  # tolerate a byte-order mark
    try:
        return body.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FormatError(f"the body is not valid {charset} text ({type(exc).__name__})") from None


def error_message(text: str) -> str | None:
    """The ``Message`` of an ``{"Error": true, "Message": ...}`` body, if it is one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("Error") is True:
        return str(data.get("Message") or "no message")
    return None


def _records(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise FormatError(f"the {what} body is not an array of row objects")
    return data


def parse_json(text: str) -> Parsed:
    """``Response=Json``: an array of row objects. Numbers keep their exact decimal value."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise FormatError(f"the JSON body does not parse ({exc.msg} at {exc.pos})") from None
    if isinstance(data, dict) and "Records" in data:
        data = data["Records"]  # tolerate a DataTable where a plain array was asked for
    parsed = Parsed()
    for i, row in enumerate(_records(data, "JSON"), start=1):
        parsed.add(row, f"record {i}")
    return parsed


def parse_json_datatable(text: str) -> Parsed:
    """``Response=JsonDataTable``: ``{"Records": [...], "Schema": [...]}``."""
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise FormatError(f"the JSON body does not parse ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, dict) or "Records" not in data:
        raise FormatError("the JsonDataTable body has no Records array")
    parsed = Parsed()
    for i, row in enumerate(_records(data["Records"], "JsonDataTable"), start=1):
        parsed.add(row, f"record {i}")
    return parsed


def parse_xml(text: str) -> Parsed:
    """``Response=Xml`` or ``XmlDataTable``: ``<Record>`` children of ``<Table>``;
    ``<Schema>`` blocks are ignored. A missing element reads as NULL."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise FormatError(f"the XML body does not parse ({exc})") from None
    if root.tag != "Table":
        raise FormatError(f"the XML body's root is <{root.tag}>, not <Table>")
    parsed = Parsed()
    for i, record in enumerate(root.iterfind("Record"), start=1):
        parsed.add({child.tag: child.text or "" for child in record}, f"record {i}")
    return parsed


def parse_csv(text: str) -> Parsed:
    """``Response=Csv``: a header row, then rows. Quoted fields are read normally;
    rows with too many or too few fields go through :func:`fix_row`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    parsed = Parsed()
    header: list[str] | None = None
    for fields in reader:
        if not fields or fields == [""]:
            continue
        if header is None:
            header = [name.strip() for name in fields]
            continue
        label = f"CSV line {reader.line_num}"
        fix = fix_row(header, fields)
        if fix.values is None:
            parsed.rejected.append((label, f"{label} {fix.reason}"))
            continue
        parsed.repaired += fix.repaired
        parsed.add(dict(fix.values), label)
    return parsed


_PARSERS = {
    "json": parse_json,
    "jsondatatable": parse_json_datatable,
    "xml": parse_xml,
    "xmldatatable": parse_xml,
    "csv": parse_csv,
}


def parse(body: bytes, fmt: str, content_type: str | None = None) -> Parsed:
    """Parse one response body of format ``fmt`` (a key of :data:`RESPONSE_PARAM`)."""
    text = decode(body, content_type)
    if fmt not in _PARSERS:
        raise FormatError(f"unknown format {fmt!r}: use one of {', '.join(_PARSERS)}")
    return _PARSERS[fmt](text)
