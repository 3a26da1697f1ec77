"""Secrets come from the environment only and never show: not in output, logs, state,
errors or exception text, even when the API echoes them back."""

from __future__ import annotations

import json
import logging
import traceback

import pytest

from connector import Fault
from connector.engines.warehouse import connect_state
from connector.kit.errors import ConfigError, Fatal, OfframpError, ValidationError
from connector.kit.secrets import MASK, RedactingFilter, Secret, from_env, redact, remember
from connector.run import pipeline as pl

from .conftest import SinkDestination

#: A token in the shape OAuth servers hand out: characters that URLs and JSON escape.
TOKEN = "EAAB+tok/en=Secret_42-x"


def test_a_secret_never_prints_itself() -> None:
    secret = Secret("hunter2-is-my-password", "MY_TOKEN")
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r}", str([secret]),
                 str({"token": secret})):
        assert "hunter2" not in text
    assert repr(secret) == "Secret(env='MY_TOKEN')"
    assert secret.reveal() == "hunter2-is-my-password"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFRAMP_TEST_TOKEN", "  padded-token-value \n")
    secret = from_env("OFFRAMP_TEST_TOKEN", "the test destination")
    assert secret.reveal() == "padded-token-value" and secret.env == "OFFRAMP_TEST_TOKEN"
    assert redact("x padded-token-value y") == f"x {MASK} y"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_secret_says_which_variable_to_set(monkeypatch, value) -> None:
    if value is None:
        monkeypatch.delenv("OFFRAMP_MISSING_TOKEN", raising=False)
    else:
        monkeypatch.setenv("OFFRAMP_MISSING_TOKEN", value)
    with pytest.raises(ConfigError) as info:
        from_env("OFFRAMP_MISSING_TOKEN", "the meta destination")
    assert str(info.value) == ("the meta destination needs a secret: set the environment "
                               "variable OFFRAMP_MISSING_TOKEN")


def test_redact() -> None:
    remember("short-secret-aaaa")
    remember("short-secret-aaaa-and-longer")
    remember("abc")  # too short to scrub safely: ignored
    assert redact("") == ""
    assert redact("k=short-secret-aaaa-and-longer&j=short-secret-aaaa") == f"k={MASK}&j={MASK}"
    assert redact("short-secret-aaaa short-secret-aaaa") == f"{MASK} {MASK}"
    assert redact("abc abc") == "abc abc"
    assert redact("nothing known here") == "nothing known here"


def test_redact_catches_the_escaped_forms_of_a_secret() -> None:
    remember(TOKEN)
    url = "https://api.example.com/x?access_token=EAAB%2Btok%2Fen%3DSecret_42-x"
    assert TOKEN not in redact(url) and "EAAB%2Btok" not in redact(url)
    form = "access_token=EAAB%2Btok%2Fen%3DSecret_42-x"
    assert "Secret_42" not in redact(form)
    assert "Secret_42" not in redact(json.dumps({"token": TOKEN}))


def test_the_logging_filter_scrubs_messages_arguments_and_tracebacks() -> None:
    remember(TOKEN)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("offramp-test-secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token %s", TOKEN)
        logger.warning(f"inline {TOKEN}")
        try:
            raise RuntimeError(f"login failed for {TOKEN}")
        except RuntimeError:
            logger.exception("while logging in")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(lines)
    assert "Secret_42" not in text
    assert text.count(MASK) == 3 and "RuntimeError: login failed for" in text


def test_offramp_errors_never_carry_a_secret_in_their_text() -> None:
    remember(TOKEN)
    for exc in (Fatal(f"token {TOKEN} expired"), ConfigError(f"bad {TOKEN}"),
                ValidationError([f"setting has {TOKEN}"])):
        assert "Secret_42" not in str(exc)
    assert isinstance(Fatal("x"), OfframpError)


# -- everything a run writes ---------------------------------------------------------------------

def _everything_written(project) -> list[str]:
    """Every text value in every table of every state file, and every file's raw bytes."""
    found: list[str] = []
    for path in sorted(project.root.rglob("*")):
        if path.is_file():
            found.append(path.read_bytes().decode("latin-1"))
    for state in sorted((project.root / ".offramp" / "state").glob("*.duckdb")):
        con = connect_state(state)
        try:
            tables = con.execute("SELECT table_name FROM information_schema.tables "
                                 "WHERE table_catalog = 'state'").fetchall()
            for (table,) in tables:
                rows = con.execute(f"SELECT * FROM state.{table}").fetchall()
                found += [str(v) for row in rows for v in row]
        finally:
            con.close()
    return found


def _leaks(texts: list[str]) -> list[str]:
    needles = (TOKEN, "Secret_42", "tok%2Fen", "tok/en")
    return [t[:200] for t in texts if any(n in t for n in needles)]


@pytest.mark.parametrize("in_query", [False, True], ids=["header", "query-string"])
def test_a_run_writes_the_token_nowhere(project, sink, cli_runner, caplog, monkeypatch,
                                        in_query: bool) -> None:
    monkeypatch.setenv("SINK_TOKEN", TOKEN)
    sink.token = TOKEN
    sink.echo_credentials = True  # every error and rejection echoes the credentials
    sink.refuse = {"a2": "refused"}
    sink.bad = {"a5"}
    settings = {"url": sink.url, "max_events": 2, "max_attempts": 2, "concurrency": 1,
                "token_in_query": in_query}
    project.write_job("leaky", "SELECT amperity_id AS id, email FROM Customer_360", "sink",
                      **settings)
    caplog.set_level(logging.DEBUG)
    for handler in (caplog.handler, *logging.getLogger().handlers):
        handler.addFilter(RedactingFilter())  # what `offramp` (connector.cli.app.main) installs

    outputs = []
    first = cli_runner("--verbose", "run", "leaky", "--quiet")
    outputs += [first.stdout, first.stderr]
    assert first.exit_code == 0, first.output
    assert "delivered 4 | rejected 2" in first.stdout
    # the API then refuses the credentials, and later fails with them in its answers
    sink.token = "rotated"
    denied = cli_runner("--verbose", "run", "leaky", "--full", "--quiet")
    outputs += [denied.stdout, denied.stderr]
    assert denied.exit_code == 1 and "refused the token" in denied.stdout
    sink.token = TOKEN
    sink.inject(Fault(500, {"error": "boom"}, times=10))
    down = cli_runner("--verbose", "run", "leaky", "--full", "--quiet")
    outputs += [down.stdout, down.stderr]
    assert down.exit_code == 1 and "kept failing" in down.stdout
    for command in (("runs", "leaky", "--format", "json"),
                    ("rejects", "leaky", "--run", "1", "--format", "json"),
                    ("rejects", "leaky", "--run", "3", "--format", "csv")):
        listed = cli_runner(*command)
        assert listed.exit_code == 0
        outputs += [listed.stdout, listed.stderr]

    assert any(MASK in text for text in outputs)  # the echoes were there, and scrubbed
    assert _leaks(outputs) == []
    assert any("events/default" in r.getMessage() for r in caplog.records) or not in_query
    assert _leaks([caplog.text]) == []
    written = _everything_written(project)
    assert any(MASK in text for text in written)
    assert _leaks(written) == []
    # the emulator did receive it: the test is not vacuous
    assert any(TOKEN in (c.header("authorization") or "") or TOKEN == c.arg("access_token")
               for c in sink.calls)


def test_exceptions_raised_by_a_run_do_not_carry_the_token(project, sink, monkeypatch) -> None:
    monkeypatch.setenv("SINK_TOKEN", TOKEN)

    def login_refused(self, http) -> None:
        token = self.secret(self.settings.token_env).reveal()
        raise Fatal(f"login refused for token {token}")

    monkeypatch.setattr(SinkDestination, "open", login_refused)
    project.write_job("login", "SELECT amperity_id AS id FROM Customer_360", "sink", url=sink.url)
    with pytest.raises(OfframpError) as info:
        pl.run(project.project, "login", sleep=lambda s: None)
    text = "".join(traceback.format_exception(info.value))
    assert "login refused for token" in text
    assert _leaks([str(info.value), text]) == []
    assert _leaks(_everything_written(project)) == []
