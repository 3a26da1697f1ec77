"""Plugin machinery: entry points, isolation of broken plugins, switches, validation,
and the documented hook contract."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector import Destination, PluginError, Source, hookimpl, hookspecs, registry
from connector.cli.app import cli, register_plugin_commands

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"


def hookspec_functions() -> dict[str, Any]:
    marker = f"{hookspecs.NAME}_spec"
    return {name: f for name, f in vars(hookspecs).items() if hasattr(f, marker)}


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch):
    """A plugin manager that loads the entry points again, under this test's switches."""
    for name, value in (("_pm", None), ("_infos", {}), ("load_errors", {}),
                        ("_destinations", None), ("_sources", None)):
        monkeypatch.setattr(registry, name, value)
    monkeypatch.delenv("OFFRAMP_STRICT_PLUGINS", raising=False)
    return registry


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An installed distribution ``offramp-extras`` with two plugins: ``broken`` fails to
    import; ``fine`` registers a destination named ``fine``."""
    tag = uuid.uuid4().hex[:8]
    site = tmp_path / "site"
    info = site / "offramp_extras-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: offramp-extras\nVersion: 0.1\n")
    broken, fine = f"offramp_broken_{tag}", f"offramp_fine_{tag}"
    (info / "entry_points.txt").write_text(f"[offramp]\nbroken = {broken}\nfine = {fine}\n")
    (site / f"{broken}.py").write_text(
        "raise ImportError('offramp-extras needs the missing_sdk package')\n")
    (site / f"{fine}.py").write_text(
        "from __future__ import annotations\n"
        "from connector import Destination, hookimpl\n"
        "class Fine(Destination):\n    name = 'fine'\n"
        "@hookimpl\ndef register_destinations(register):\n    register(Fine)\n")
    monkeypatch.syspath_prepend(str(site))
    yield {"site": str(site), "broken": broken, "fine": fine}
    for module in (broken, fine):
        sys.modules.pop(module, None)


def _dest(name: str) -> type[Destination]:
    return type(f"D_{name}", (Destination,), {"name": name})


class Registers:
    def __init__(self, *classes: type) -> None:
        self.classes = classes

    @hookimpl
    def register_destinations(self, register):
        for cls in self.classes:
            register(cls)


# -- entry points -------------------------------------------------------------------------------

def test_jsonl_loads_through_its_entry_point() -> None:
    info = {p.name: p for p in registry.plugins()}
    assert info["jsonl"].distribution == "offramp"
    assert info["jsonl"].hooks == ["register_destinations"]
    cls, where = registry.destinations()["jsonl"]
    assert cls.__module__ == "plugins.jsonl" and where == "jsonl (offramp)"
    assert registry.destination("jsonl") is cls


def test_load_switch_keeps_only_the_named_plugins(fresh_plugins, monkeypatch) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "jsonl")
    assert [p.name for p in registry.plugins()] == ["jsonl"]
    assert registry.load_errors == {}


def test_load_switch_by_distribution_name(fresh_plugins, monkeypatch) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "offramp")
    assert "jsonl" in registry.destinations()


def test_an_empty_load_switch_loads_nothing(fresh_plugins, monkeypatch) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "")
    assert registry.plugins() == [] and registry.destinations() == {}
    with pytest.raises(PluginError, match=r"installed: none"):
        registry.destination("jsonl")


def test_disable_switch(fresh_plugins, monkeypatch) -> None:
    monkeypatch.delenv("OFFRAMP_LOAD_PLUGINS")
    monkeypatch.setenv("OFFRAMP_DISABLE_PLUGINS", " jsonl , nothing_else")
    assert "jsonl" not in {p.name for p in registry.plugins()}
    assert "jsonl" not in registry.load_errors and "jsonl" not in registry.destinations()


def test_a_broken_plugin_is_reported_and_the_others_load(fresh_plugins, fake_dist, monkeypatch,
                                                         capsys) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "jsonl,broken,fine")
    names = [p.name for p in registry.plugins()]
    assert names == ["fine", "jsonl"]
    assert registry.load_errors == {
        "broken": "ImportError: offramp-extras needs the missing_sdk package"}
    assert "plugin 'broken' (offramp-extras) failed to load" in capsys.readouterr().err
    assert set(registry.destinations()) == {"fine", "jsonl"}
    assert registry.destinations()["fine"][1] == "fine (offramp-extras)"


def test_strict_mode_makes_a_broken_plugin_an_error(fresh_plugins, fake_dist,
                                                    monkeypatch) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "broken")
    monkeypatch.setenv("OFFRAMP_STRICT_PLUGINS", "1")
    with pytest.raises(ImportError, match="missing_sdk"):
        registry.manager()


def test_the_cli_works_beside_a_broken_plugin(fresh_plugins, fake_dist, monkeypatch,
                                              project) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "jsonl,broken")
    project.jsonl_job("j", "SELECT amperity_id AS id FROM Customer_360")
    runner = CliRunner()
    listed = runner.invoke(cli, ["plugins", "--format", "json"])
    assert listed.exit_code == 0
    data = json.loads(listed.stdout)
    assert {"name": "broken",
            "error": "ImportError: offramp-extras needs the missing_sdk package"} in data
    assert any(p["name"] == "jsonl" for p in data)
    valid = runner.invoke(cli, ["--project", str(project.root), "validate", "j"])
    assert valid.exit_code == 0 and "valid: j -> jsonl" in valid.output


@pytest.mark.slow
def test_offramp_plugins_in_a_real_process(fake_dist, project) -> None:
    env = {**os.environ, "OFFRAMP_LOAD_PLUGINS": "jsonl,broken",
           "PYTHONPATH": os.pathsep.join([str(ROOT), fake_dist["site"]])}
    done = subprocess.run([sys.executable, "-c", "from connector.cli import main; main()",
                           "--project", str(project.root), "plugins", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [p["name"] for p in data] == ["jsonl", "broken"]
    assert "plugin 'broken' (offramp-extras) failed to load" in done.stderr
    assert "Traceback" not in done.stderr


# -- validation ---------------------------------------------------------------------------------

def test_a_misspelled_hook_is_a_plugin_error(registered) -> None:
    class Typo:
        @hookimpl
        def register_destination(self, register):  # no such hook: one letter short
            register(_dest("typo"))

    with pytest.raises(PluginError, match="implements a hook offramp does not know"):
        registered(Typo(), name="typo")
    assert registry.manager().get_plugin("typo") is None
    assert "typo" not in {p.name for p in registry.plugins()}


def test_a_misspelled_hook_argument_is_a_plugin_error(registered) -> None:
    class WrongArgument:
        @hookimpl
        def register_destinations(self, registrar):
            pass

    with pytest.raises(PluginError, match="takes arguments the hook does not pass"):
        registered(WrongArgument(), name="wrong-arg")
    assert registry.manager().get_plugin("wrong-arg") is None
    registered(Registers(_dest("after")), name="wrong-arg")  # the name is free again


def test_two_plugins_registering_one_name_is_an_error_naming_both(registered) -> None:
    registered(Registers(_dest("twin")), name="first-plugin")
    registered(Registers(_dest("twin")), name="second-plugin")
    with pytest.raises(PluginError) as info:
        registry.destinations()
    message = str(info.value)
    assert "two plugins register the destination 'twin'" in message
    assert "first-plugin" in message and "second-plugin" in message
    assert "OFFRAMP_DISABLE_PLUGINS" in message


def test_one_class_registered_twice_is_not_a_clash(registered) -> None:
    cls = _dest("shared")
    registered(Registers(cls), name="p1")
    registered(Registers(cls), name="p2")
    assert registry.destinations()["shared"][0] is cls


def test_a_destination_needs_a_name(registered) -> None:
    registered(Registers(_dest("")), name="nameless")
    with pytest.raises(PluginError, match="registered D_ without a name"):
        registry.destinations()


def test_registering_refreshes_and_unregistering_removes(registered) -> None:
    registered(Registers(_dest("fleeting")), name="fleeting-plugin")
    assert "fleeting" in registry.destinations()
    info = {p.name: p for p in registry.plugins()}["fleeting-plugin"]
    assert info.distribution == "(registered directly)"
    registry.unregister("fleeting-plugin")
    assert "fleeting" not in registry.destinations()


def test_unknown_destination_lists_the_installed_ones() -> None:
    with pytest.raises(PluginError) as info:
        registry.destination("nope")
    assert "no destination named 'nope' is installed (installed: " in str(info.value)
    assert "jsonl" in str(info.value)


def test_sources_register_and_list(registered, cli_runner) -> None:
    class Weather(Source):
        name = "weather"
        summary = "Daily weather"

    class Plugin:
        @hookimpl
        def register_sources(self, register):
            register(Weather)

    registered(Plugin(), name="weather-plugin")
    assert registry.source("weather") is Weather
    result = cli_runner("sources")
    assert result.exit_code == 0 and "weather" in result.output and "Daily weather" in result.output
    with pytest.raises(PluginError, match="no source named 'rain'"):
        registry.source("rain")


def test_plugin_commands_are_added_and_a_failing_hook_is_reported(registered) -> None:
    import click

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello-from-plugin")
            def hello() -> None:
                click.echo("hello")

    class Broken:
        @hookimpl
        def register_commands(self, cli):
            raise RuntimeError("cannot add")

    registered(Commands(), name="commands-plugin")
    registered(Broken(), name="broken-commands")
    try:
        problems = register_plugin_commands()
        assert problems == ["plugin 'broken-commands' failed to add its commands: "
                            "RuntimeError: cannot add"]
        result = CliRunner().invoke(cli, ["hello-from-plugin"])
        assert result.exit_code == 0 and result.output == "hello\n"
    finally:
        cli.commands.pop("hello-from-plugin", None)


def test_implementations_may_take_only_the_arguments_they_need(registered) -> None:
    """pluggy's opt-in arguments: an implementation that takes none of the hook's
    arguments is called all the same, and breaks neither listing nor the other plugins."""
    calls: list[str] = []

    class Quiet:
        @hookimpl
        def register_destinations(self):
            calls.append("destinations")

        @hookimpl
        def register_commands(self):
            calls.append("commands")

    registered(Quiet(), name="quiet-plugin")
    registered(Registers(_dest("optin")), name="optin-plugin")
    assert "optin" in registry.destinations() and "jsonl" in registry.destinations()
    assert register_plugin_commands() == []
    assert calls == ["destinations", "commands"]


def test_a_register_hook_that_raises_is_a_plugin_error_naming_the_plugin(registered) -> None:
    class Failing:
        @hookimpl
        def register_destinations(self, register):
            raise KeyError("boom")

    registered(Failing(), name="failing-plugin")
    with pytest.raises(PluginError, match="plugin 'failing-plugin' failed to register its "
                                          "destinations: KeyError: 'boom'"):
        registry.destinations()


def test_a_plugin_object_pluggy_cannot_keep_is_refused_clearly() -> None:
    import types

    with pytest.raises(PluginError, match="register a module or an instance of a class"):
        registry.register(types.SimpleNamespace(), name="unhashable")


# -- the documented contract ----------------------------------------------------------------------

def test_every_hookspec_is_documented_in_code_and_in_docs() -> None:
    specs = hookspec_functions()
    assert set(specs) == {"register_destinations", "register_sources", "register_commands",
                          "register_demos"}
    docs = DOCS.read_text(encoding="utf-8")
    for name, func in specs.items():
        doc = inspect.getdoc(func)
        assert doc and len(doc.splitlines()) >= 3, f"{name} needs a docstring"
        assert ":param" in doc and ":return:" in doc
        params = ", ".join(inspect.signature(func).parameters)
        assert f"### `{name}({params})`" in docs, f"docs/plugins.md lacks {name}({params})"
        first = doc.splitlines()[0].rstrip(".").replace("``", "`")  # reST -> Markdown
        assert first in docs, f"docs/plugins.md should say what {name} is for"


def test_hookspecs_hold_no_logic() -> None:
    for name, func in hookspec_functions().items():
        body = inspect.getsource(func).split('"""')[-1].strip()
        assert body == "", f"{name} has code after its docstring"


def test_loaded_hook_implementations_have_no_default_arguments() -> None:
    pm = registry.manager()
    checked = 0
    for hook in (pm.hook.register_destinations, pm.hook.register_sources,
                 pm.hook.register_commands):
        for impl in hook.get_hookimpls():
            params = inspect.signature(impl.function).parameters.values()
            defaults = [p.name for p in params if p.default is not inspect.Parameter.empty]
            assert not defaults, f"{impl.plugin_name}: {defaults} have defaults"
            checked += 1
    assert checked >= 1


def test_a_job_for_a_broken_plugin_says_the_plugin_failed(fresh_plugins, fake_dist, monkeypatch,
                                                          project, cli_runner) -> None:
    monkeypatch.setenv("OFFRAMP_LOAD_PLUGINS", "jsonl,broken")
    project.write_job("needs_broken", "SELECT amperity_id AS id FROM Customer_360", "broken")
    result = cli_runner("validate", "needs_broken")
    assert result.exit_code == 1
    assert ("the 'broken' destination is unavailable: its plugin failed to load (ImportError: "
            "offramp-extras needs the missing_sdk package)") in result.stderr.replace("\n", " ")


def test_every_emulator_says_how_to_point_a_job_at_it() -> None:
    """What ``offramp emulate NAME`` prints to paste: settings the plugin knows, naming the
    emulator's URL, and the environment variables its settings read by default."""
    found = {**registry.destinations(), **registry.sources()}
    checked = []
    for name, (cls, _) in found.items():
        if cls.emulator is None:
            continue
        with cls.emulator() as emulator:
            connection = emulator.connection()
            assert connection.settings, f"{name}'s emulator names no setting to point a job at it"
            assert set(connection.settings) <= set(cls.Settings.model_fields), name
            assert any(v.startswith(emulator.url) for v in connection.settings.values()), name
            defaults = {f.default for f in cls.Settings.model_fields.values()
                        if isinstance(f.default, str)}
            assert set(connection.env) <= defaults, f"{name}: {set(connection.env) - defaults}"
        checked.append(name)
    assert {"meta", "microsoft", "iqm", "google", "rq"} <= set(checked)
