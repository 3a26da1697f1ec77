"""CI runs the README's two commands as written (``.ci/run``): the commands it reads
from the README are the ones the README shows."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def commands(readme: Path) -> list[str]:
    done = subprocess.run(["bash", str(REPO / ".ci" / "readme-commands"), str(readme)],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_ci_reads_the_readmes_two_commands_as_written():
    found = commands(REPO / "README.md")
    assert [c.split("  #")[0].rstrip() for c in found] == [
        "pip install -e . && offramp demo", "pip install -e '.[test,spark]' && pytest"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert all(f"\n{c}\n" in readme for c in found)  # whole lines, comments included
    assert "readme-commands README.md" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_only_the_first_bash_block_is_read(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n```toml\na = 1\n```\n\n```bash\none && two   # note\n\nthree\n"
                      "```\n\ntext\n\n```bash\nnot this\n```\n", encoding="utf-8")
    assert commands(readme) == ["one && two   # note", "three"]
