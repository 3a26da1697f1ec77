"""Fresh virtual environments layered on the running one, for installing plugins the
way their users do, offline.

A layered environment is a new venv (its own ``bin/`` and ``site-packages``) whose
``offramp-layer.pth`` adds each site-packages folder of the interpreter running the
tests (``site.addsitedir``, so the ``.pth`` files there run too, and editable installs'
import finders with them): it sees offramp, pytest, setuptools and pip as installed
here, and what pip installs goes into it alone. Its ``bin/`` gets a script for each
command of the running environment (``pip``, ``pytest``, ``offramp``...) that runs with
its own interpreter, so that, once activated, those names are the environment's own.
"""

from __future__ import annotations

import importlib.metadata
import os
import site
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

#: pip, configured through the environment, offline: no index, and no isolated build
#: environment (it would download setuptools); builds use the setuptools installed here.
#: pip reads each --no-X option from PIP_NO_X inverted: PIP_NO_BUILD_ISOLATION=0 is
#: --no-build-isolation (pypa/pip#5735), while PIP_NO_INDEX=1 is --no-index.
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def layered(root: Path) -> Path:
    """A new virtual environment at ``root`` layered on the running one; returns ``root``."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
    python = root / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    outer = [p for p in dict.fromkeys([*site.getsitepackages(), sysconfig.get_paths()["purelib"]])
             if Path(p).is_dir()]
    adds = "; ".join(f"site.addsitedir({p!r})" for p in outer)
    (purelib / "offramp-layer.pth").write_text(f"import site; {adds}\n", encoding="utf-8")
    for script in importlib.metadata.entry_points(group="console_scripts"):
        target = root / "bin" / script.name
        if not target.exists():
            first, _, rest = script.attr.partition(".")
            target.write_text(f"#!{python}\nimport sys\nfrom {script.module} import {first}\n"
                              f"sys.exit({first}{'.' + rest if rest else ''}())\n",
                              encoding="utf-8")
            target.chmod(0o755)
    return root


def activated(root: Path, **extra: str) -> dict[str, str]:
    """The environment variables of a shell that activated ``root`` (as ``bin/activate``
    does), without the test run's own settings (``OFFRAMP_*``, ``PYTEST_*``,
    ``PYTHONPATH``), pip offline, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OFFRAMP_", "PYTEST_", "PYTHON")) and k != "COV_CORE_SOURCE"}
    env.update(OFFLINE_PIP)
    env["VIRTUAL_ENV"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def pip_install(root: Path, *args: str, cwd: Path | None = None) -> None:
    """``pip install ARGS`` in the environment ``root``, offline; on failure the test
    fails with pip's whole output."""
    done = subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", *args],
                          cwd=cwd, env=activated(root), capture_output=True, text=True,
                          timeout=300)
    if done.returncode:
        pytest.fail(f"pip install {' '.join(args)} failed ({done.returncode}):\n"
                    f"{done.stdout}\n{done.stderr}", pytrace=False)


def interpreter_sees(root: Path, module: str) -> str:
    """Where the environment's interpreter imports ``module`` from."""
    return subprocess.run([str(root / "bin" / "python"), "-c",
                           f"import {module}; print({module}.__file__)"], check=True,
                          capture_output=True, text=True, env=activated(root)).stdout.strip()

