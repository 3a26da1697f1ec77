"""Addresses and durations in settings are checked when the job is validated: an
address that requests cannot send to (``file://``, ``ftp://``) or a timeout that no
socket accepts (``inf``, ``nan``, ``1e300``) is refused by ``offramp validate``,
not found out by the run."""

from __future__ import annotations

import pydantic
import pytest

from plugins.google.settings import GoogleSettings
from plugins.iqm.settings import IqmSettings
from plugins.meta.settings import MetaSettings
from plugins.microsoft.settings import MicrosoftSettings
from plugins.rq.source import RqSettings

URLS = {MetaSettings: ["base_url"], GoogleSettings: ["base_url", "token_uri"],
        IqmSettings: ["base_url", "pixel_base_url"],
        MicrosoftSettings: ["base_url", "token_url"], RqSettings: ["base_url"]}
TIMEOUTS = {MetaSettings: "timeout", GoogleSettings: "timeout", RqSettings: "timeout"}


def _errors(model: type[pydantic.BaseModel], settings: dict) -> dict[str, str]:
    try:
        model.model_validate(settings)
    except pydantic.ValidationError as exc:
        return {".".join(map(str, e["loc"])): e["msg"] for e in exc.errors()}
    return {}


@pytest.mark.parametrize(("model", "field"), [(m, f) for m, fs in URLS.items() for f in fs],
                         ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "example.com",
                                 "https://", "http://exa mple.com"])
def test_an_address_must_be_http_or_https(model, field: str, url: str) -> None:
    errors = _errors(model, {field: url})
    assert field in errors, f"{model.__name__}.{field} took {url!r}"
    assert "http:// or https://" in errors[field]


@pytest.mark.parametrize(("model", "field"), [(m, f) for m, fs in URLS.items() for f in fs],
                         ids=lambda x: getattr(x, "__name__", x))
def test_an_http_address_passes(model, field: str) -> None:
    assert field not in _errors(model, {field: "http://127.0.0.1:8765/v1"})
    assert field not in _errors(model, {field: "https://graph.facebook.com"})


@pytest.mark.parametrize(("model", "field"), TIMEOUTS.items(), ids=lambda x: getattr(
    x, "__name__", x))
@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e300, 0, -1])
def test_a_timeout_must_be_finite_and_positive(model, field: str, value: float) -> None:
    errors = _errors(model, {field: value})
    assert field in errors, f"{model.__name__}.{field} took {value!r}"


def test_offramp_validate_refuses_them_naming_the_setting(project, cli_runner) -> None:
    project.write_job("meta_job", "SELECT 'o-1' AS order_id", "meta", dataset_id="1234567890",
                      base_url="file:///etc/passwd")
    path = project.queries / "meta_job.sql"
    path.write_text(path.read_text().replace("[settings]", "[settings]\ntimeout = inf"))
    result = cli_runner("validate", "meta_job")
    assert result.exit_code == 1
    text = " ".join(result.stderr.split())
    assert "setting `base_url` in meta_job.sql: base_url must be an http:// or https://" in text
    assert "setting `timeout` in meta_job.sql: timeout is seconds" in text
