"""The emulator checks what RQ Data Connect checks and answers as it answers (reference D.3)."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import zipfile
import zlib

import pytest
import requests

from plugins.rq import fixtures
from plugins.rq.emulator import DEMO_BASIC, DEMO_BEARER, DEMO_USER, RqEmulator

REPORT = "/partner/FacebookOfflineConversions/MarketingReport"
BEARER = {"Authorization": f"Bearer {DEMO_BEARER}"}
ONE_DAY = {"CompanyID": "14682", "StartDate": "2024-05-01T00:00:00",
           "StopDate": "2024-05-02T00:00:00"}


def get(emu: RqEmulator, path: str = REPORT, params: dict | None = None,
        headers: dict | None = None) -> requests.Response:
    return requests.get(emu.url + path, params=params if params is not None else ONE_DAY,
                        headers=BEARER if headers is None else headers, timeout=5)


@pytest.mark.parametrize(("params", "message"), [
    ({"StartDate": "2024-05-01", "StopDate": "2024-05-02"}, "CompanyID"),
    ({"CompanyID": "14682", "StopDate": "2024-05-02"}, "StartDate"),
    ({"CompanyID": "14682", "StartDate": "2024-05-01"}, "StopDate"),
    ({**ONE_DAY, "CompanyID": "KENTEL"}, "CompanyID must be an integer"),
    ({**ONE_DAY, "StartDate": "yesterday"}, "must be a date"),
    ({**ONE_DAY, "StopDate": "2024-04-01"}, "StopDate is before StartDate"),
    ({**ONE_DAY, "Response": "Pdf"}, "Unknown Response option"),
])
def test_bad_requests_get_400(emu: RqEmulator, params: dict, message: str) -> None:
    answer = get(emu, params=params)
    assert answer.status_code == 400
    assert answer.json()["Error"] is True and message in answer.json()["Message"]


def test_an_unrelated_company_gets_403(emu: RqEmulator) -> None:
    answer = get(emu, params={**ONE_DAY, "CompanyID": "99999"})
    assert answer.status_code == 403
    emu.related.add(99999)
    assert get(emu, params={**ONE_DAY, "CompanyID": "99999"}).status_code == 200


@pytest.mark.parametrize(("headers", "params", "status"), [
    ({}, {}, 401),
    ({"Authorization": "Bearer nope"}, {}, 401),
    ({"Authorization": f"Basic {DEMO_BASIC}"}, {}, 200),
    ({}, {"Auth": DEMO_BASIC}, 200),
    ({}, {"Auth": "nope"}, 401),
    # Priority: a bad Bearer is not rescued by a good Auth= parameter.
    ({"Authorization": "Bearer nope"}, {"Auth": DEMO_BASIC}, 401),
    ({"Authorization": f"Bearer {DEMO_BEARER}"}, {"Auth": "nope"}, 200),
])
def test_auth_priority(emu: RqEmulator, headers: dict, params: dict, status: int) -> None:
    answer = get(emu, path="/partner/relationships", params=params, headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert answer.json()["Error"] is True


def test_session_gives_the_basic_token_and_a_cookie_follows(emu: RqEmulator) -> None:
    login = base64.b64encode(":".join(DEMO_USER).encode()).decode()
    answer = get(emu, "/session", params={}, headers={"Authorization": f"Basic {login}"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["basic_token"] == DEMO_BASIC and body["PreferredEndpoint"] == emu.url
    assert get(emu, "/session", params={}, headers={}).status_code == 401
    data = get(emu, params={**ONE_DAY, "Auth": body["basic_token"]}, headers={})
    assert data.status_code == 200 and "ASP.NET_SessionId" in data.cookies


def test_post_takes_parameters_from_the_body_and_the_url_wins(emu: RqEmulator) -> None:
    answer = requests.post(emu.url + REPORT, data={**ONE_DAY, "Response": "Xml"},
                           params={"Response": "Csv"}, headers=BEARER, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize(("response", "content_type", "start"), [
    (None, "application/json; charset=utf-8", b"["),
    ("Json", "application/json; charset=utf-8", b"["),
    ("JsonDataTable", "application/json; charset=utf-8", b'{\n "Records"'),
    ("Xml", "text/xml; charset=utf-8", b"<Table>"),
    ("XmlDataTable", "text/xml; charset=utf-8", b"<Table>"),
    ("Csv", "text/csv; charset=utf-8", b"Email,Phone,FirstName"),
    ("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
])
def test_every_response_format(emu: RqEmulator, response: str | None, content_type: str,
                               start: bytes) -> None:
    params = dict(ONE_DAY) if response is None else {**ONE_DAY, "Response": response}
    answer = get(emu, params=params)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.content.startswith(start)


def test_datatable_schema_and_excel_workbook(emu: RqEmulator) -> None:
    schema = get(emu, params={**ONE_DAY, "Response": "JsonDataTable"}).json()["Schema"]
    assert {"Column_Name": "UnitPrice", "Type": "money", "SafeType": "Decimal",
            "Length": 8} in schema
    assert {"Column_Name": "Category", "Type": "nvarchar", "SafeType": "String",
            "Length": -1} in schema
    xml = get(emu, params={**ONE_DAY, "Response": "XmlDataTable"}).text
    assert "<Schema>" in xml and "<Column_Name>Quantity</Column_Name>" in xml
    excel = get(emu, params={**ONE_DAY, "Response": "Excel"})
    assert excel.headers["Content-Disposition"] == (
        "attachment;filename=MarketingReport-2024-05-01.xlsx")
    with zipfile.ZipFile(io.BytesIO(excel.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "ProductLibraryCanonicalName" in sheet


def test_csv_reproduces_the_seeds_unquoted_comma_or_quotes_it(emu: RqEmulator) -> None:
    emu.set_rows(14682, dt.date(2024, 5, 1), [fixtures.SEED_ROW])
    seed_line = ("johntest@kentel.com,5555555555,John,Test,Regina,SK,H0H0H0,Canada,Activations,"
                 "Smart Phones,M5592-E12435,250,299.99,1,Galaxy Gear Watch - Black,Smartphones")
    csv = get(emu, params={**ONE_DAY, "Response": "Csv"}).text.splitlines()
    assert csv[1] == seed_line  # byte for byte the seed's sample
    emu.csv_quoting = "minimal"
    csv = get(emu, params={**ONE_DAY, "Response": "Csv"}).text.splitlines()
    assert '"Activations,Smart Phones"' in csv[1]


def test_compression_follows_accept_encoding(emu: RqEmulator) -> None:
    raw = {**BEARER, "Accept-Encoding": "identity"}
    plain = requests.get(emu.url + REPORT, params=ONE_DAY, headers=raw, stream=True, timeout=5)
    assert "Content-Encoding" not in plain.headers
    body = plain.raw.read()
    for asked, served, undo in (("gzip", "gzip", gzip.decompress),
                                ("deflate", "deflate", zlib.decompress),
                                ("gzip, deflate", "gzip", gzip.decompress),
                                ("br;q=1, gzip;q=0, deflate", "deflate", zlib.decompress)):
        answer = requests.get(emu.url + REPORT, params=ONE_DAY, stream=True, timeout=5,
                              headers={**BEARER, "Accept-Encoding": asked})
        assert answer.headers["Content-Encoding"] == served
        assert undo(answer.raw.read(decode_content=False)) == body


def test_rows_are_filtered_by_their_hidden_time(emu: RqEmulator) -> None:
    day = dt.date(2024, 5, 1)
    whole = get(emu, params={**ONE_DAY}).json()
    assert len(whole) == len(fixtures.rows_for(14682, day))
    times = sorted(when for when, _ in fixtures.rows_for(14682, day))
    cut = times[len(times) // 2].isoformat()
    morning = get(emu, params={**ONE_DAY, "StopDate": cut}).json()
    evening = get(emu, params={**ONE_DAY, "StartDate": cut}).json()
    assert len(morning) + len(evening) == len(whole) and 0 < len(morning) < len(whole)
    week = get(emu, params={**ONE_DAY, "StopDate": "2024-05-08"}).json()
    assert len(week) == sum(len(fixtures.rows_for(14682, day + dt.timedelta(days=n)))
                            for n in range(7))


def test_demo_data_is_deterministic_and_realistic() -> None:
    day = dt.date(2024, 5, 1)
    assert fixtures.rows_for(14682, day) == fixtures.rows_for(14682, day)
    month = [row for n in range(31) for _, row in fixtures.rows_for(21090, day.replace(day=1)
                                                                     + dt.timedelta(days=n))]
    assert len(month) > 50
    assert any(r["Quantity"] < 0 for r in month)  # returns
    assert any(r["Email"] is None for r in month) and any(r["Country"] is None for r in month)
    assert any("," in r["Category"] for r in month)
    empty_days = [n for n in range(31)
                  if not fixtures.rows_for(21090, day + dt.timedelta(days=n))]
    assert empty_days  # some days have no sales
    assert fixtures.rows_for(99999, day) == []


def test_the_control_api_reports_state(emu: RqEmulator) -> None:
    get(emu)
    state = requests.get(emu.url + "/__emulator__/state", timeout=5).json()
    assert state["requests"] == 1 and state["throttled"] == 0 and state["peak_in_flight"] == 1
    fault = requests.post(emu.url + "/__emulator__/faults", timeout=5,
                          json={"status": 503, "path": REPORT}).json()
    assert fault["status"] == 503
    assert get(emu).status_code == 503 and get(emu).status_code == 200


def test_unknown_paths_and_methods(emu: RqEmulator) -> None:
    assert get(emu, "/partner/nothing", params={}).status_code == 404
    assert requests.delete(emu.url + REPORT, headers=BEARER, timeout=5).status_code == 405
