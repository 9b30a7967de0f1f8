"""The command line: complete help, clear errors without tracebacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import build_parser, main

INTL = Path(__file__).parent / "fixtures" / "projects" / "intl" / "workbench.yaml"


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse keeps them here
    assert {"demo", "run", "check", "stages", "dedup-check"} <= set(subcommands)
    for name, sub in subcommands.items():
        assert sub.description, f"`workbench {name}` has no description"
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"`workbench {name}` option {action.dest} has no help"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "workbench run --config" in capsys.readouterr().out


def test_check_reports_ok_and_problems(tmp_path, capsys):
    assert main(["check", "--config", str(INTL)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: {name: x}\nsources: []\n", encoding="utf-8")
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "no valid source" in err and "Traceback" not in err


def test_console_script_runs_without_traceback(tmp_path):
    exe = Path(sys.executable).parent / "workbench"
    proc = subprocess.run(
        [str(exe), "run", "--config", str(tmp_path / "missing.yaml")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): ")


def test_the_cli_shows_workbench_s_own_lines_and_no_library_chatter(tmp_path):
    """`workbench run` as typed in a shell: the libraries' INFO lines (sqlglot, GX, Splink) stay out.

    The hard demo's match model is the one whose SQL makes sqlglot log at INFO."""
    cli = [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # Python's own warnings are not the loggers under test
    demo = subprocess.run([*cli, "demo", "--out", "p", "--hard", "--customers", "300", "--no-run"], cwd=tmp_path, env=env)
    assert demo.returncode == 0
    stages = ["--stages", "audit,standardize,mapping,match", "--no-notebooks"]
    proc = subprocess.run(
        [*cli, "run", "--config", "p/workbench.yaml", *stages], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loggers = [m.group(2) for line in proc.stderr.splitlines() if (m := LOG_LINE.match(line))]
    ours = {name for name in loggers if name.split(".")[0] == "workbench"}
    assert ours, proc.stderr[-2000:]
    foreign = sorted(set(loggers) - ours)
    assert not foreign, f"library log lines in the CLI output: {foreign}"
