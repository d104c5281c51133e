"""The man pages tend(1) and tend.json(5) against the program.

Drift guards: every key the validator (src/config.c) accepts has an entry
in tend.json(5) and a row in docs/config.md, and neither documents a key
the validator refuses; every enum value and signal name is in tend.json(5);
every command of `tend help` is in tend(1) with the options of its usage
line; every environment variable the sources read and every file they
write in the state folder is in tend(1). And both pages are clean for
`mandoc -T lint -W warning` and for groff, which man(1) uses."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import TEND_BIN

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "schema"))
import configsrc  # noqa: E402

@pytest.fixture(autouse=True, scope="module")
def need_mandoc():
    assert shutil.which("mandoc"), \
        "mandoc is not installed (scripts/deps.sh installs it)"


MAN1 = os.path.join(ROOT, "docs", "man", "tend.1")
MAN5 = os.path.join(ROOT, "docs", "man", "tend.json.5")
PAGES = [MAN1, MAN5]


def source(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def render(path):
    """The page as text (mandoc -T ascii, overstrikes removed)."""
    r = subprocess.run(["mandoc", "-T", "ascii", path], capture_output=True,
                       text=True, check=True)
    return re.sub(r".\x08", "", r.stdout)


def unroff(text):
    """Removes font escapes and turns \\- into - in one source line."""
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\(dq", '"').replace("\\e", "\\")


def sections(path):
    """Returns {section name: its rendered text}."""
    out, name = {}, None
    for line in render(path).splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def tags(path):
    """Returns the .TP tags of a page as (depth in .RS, section, tag text);
    a tag is the line after .TP (and after each .TQ)."""
    out, depth, sect = [], 0, None
    lines = source(path).splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            sect = line[4:].strip('"')
            depth = 0
        elif line.startswith(".RS"):
            depth += 1
        elif line.startswith(".RE"):
            depth -= 1
        elif line in (".TP", ".TQ") and i + 1 < len(lines):
            tag = lines[i + 1]
            tag = re.sub(r"^\.(?:B|I|BR|BI|IR|RB)\s+", "", tag)
            out.append((depth, sect, unroff(tag).replace('"', "").strip()))
    return out


# ----------------------------------------------------------------- linting


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_mandoc_lint_is_clean(page):
    r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", page],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), \
        r.stdout + r.stderr


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_groff_renders_without_warnings(page):
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    r = subprocess.run(["groff", "-ww", "-man", "-Tutf8", page],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    assert len(r.stdout) > 2000


@pytest.mark.parametrize("page", PAGES, ids=os.path.basename)
def test_version_and_name_match_the_program(page):
    version = subprocess.run([TEND_BIN, "version"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    th = [l for l in source(page).splitlines() if l.startswith(".TH ")]
    assert len(th) == 1
    name, sect = os.path.basename(page).rsplit(".", 1)
    assert th[0].split()[1:3] == [name.upper(), sect], th[0]
    assert f'"tend {version}"' in th[0], (th[0], version)


# ------------------------------------------------------------- tend.json(5)


def test_every_validator_key_has_an_entry_in_tend_json_5():
    keys = configsrc.all_keys()
    have = {tag for depth, _, tag in tags(MAN5) if depth == 0}
    missing = [k for k in keys if k not in have]
    assert not missing, \
        f"keys the validator accepts without an entry in tend.json(5): " \
        f"{missing}"


def test_tend_json_5_documents_no_key_the_validator_refuses():
    keys = set(configsrc.all_keys())
    key_sections = {"KEYS OF EVERY NODE", "GROUPS", "THE ROOT", "RUNNERS"}
    extra = [tag for depth, sect, tag in tags(MAN5)
             if depth == 0 and sect in key_sections and tag not in keys]
    assert not extra, f"entries for keys the validator refuses: {extra}"


def test_every_enum_value_and_signal_is_in_tend_json_5():
    text = render(MAN5)
    for key, values in configsrc.enums().items():
        for v in values:
            assert re.search(r"(?<![\w])" + re.escape(v) + r"(?![\w])",
                             text), f"{key}: {v}"
    names = sections(MAN5)["SIGNAL NAMES"]
    for sig in configsrc.signals():
        assert re.search(r"\b" + sig + r"\b", names), sig


# ------------------------------------------------------------ docs/config.md


def config_md_key_rows():
    """Returns the first cells of the rows of config.md's key tables
    (those whose header is | key | type | default |)."""
    rows, in_table = [], False
    for line in configsrc.read("docs/config.md").splitlines():
        if line.startswith("| key | type | default |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            m = re.match(r"^\| `([^`]+)` \|", line)
            assert m, f"a key row without a `key`: {line}"
            rows.append(m.group(1))
    return rows


def test_every_validator_key_has_a_row_in_config_md():
    rows = set(config_md_key_rows())
    keys = configsrc.all_keys()
    prefixes = {k.rsplit(".", 1)[0] for k in keys if "." in k}
    missing = [k for k in keys if k not in rows and not (
        k in prefixes and any(r.startswith(k + ".") for r in rows))]
    assert not missing, \
        f"keys the validator accepts without a row in docs/config.md: " \
        f"{missing}"


def test_config_md_documents_no_key_the_validator_refuses():
    keys = set(configsrc.all_keys())
    extra = [r for r in config_md_key_rows() if r not in keys]
    assert not extra, f"config.md rows for keys tend refuses: {extra}"


def test_every_enum_value_is_in_config_md():
    text = configsrc.read("docs/config.md")
    for key, values in configsrc.enums().items():
        for v in values:
            assert f'`"{v}"`' in text or f"`{v}`" in text, f"{key}: {v}"


# ----------------------------------------------------------------- tend(1)


def help_commands():
    """Returns {command: usage line} from `tend help` and, where a
    command has it, from `tend COMMAND --help` (the client commands)."""
    r = subprocess.run([TEND_BIN, "help"], capture_output=True, text=True,
                       check=True)
    lines = r.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    out = {}
    for line in lines.splitlines():
        if line.startswith("  ") and line.strip():
            words = line.split()
            out[words[0]] = line
    assert {"up", "check", "status", "logs", "help"} <= set(out), out
    for cmd in out:
        r = subprocess.run([TEND_BIN, cmd, "--help"], capture_output=True,
                           text=True, timeout=10)
        if r.returncode == 0 and r.stdout.startswith(f"usage: tend {cmd}"):
            out[cmd] += " " + r.stdout
    return out


def test_every_command_and_option_is_in_tend_1():
    cmd_tags = {}
    for depth, sect, tag in tags(MAN1):
        m = re.match(r"^tend (\S+)(.*)$", tag)
        if sect == "COMMANDS" and depth == 0 and m:
            cmd_tags[m.group(1)] = tag
    synopsis = sections(MAN1)["SYNOPSIS"]
    for cmd, usage in help_commands().items():
        assert cmd in cmd_tags, f"tend {cmd} has no entry in tend(1)"
        assert re.search(r"\b" + re.escape(cmd) + r"\b", synopsis), cmd
        # The options in the usage: [-f], [-n N], [--json], [-c FILE].
        for opt in re.findall(r"\[(-{1,2}[a-z][\w-]*)", usage):
            assert re.search(re.escape(opt) + r"(?![\w-])",
                             cmd_tags[cmd]), \
                f"tend {cmd}: option {opt} is not in its entry " \
                f"({cmd_tags[cmd]!r})"


def environment_read_by_the_sources():
    """Variables the C sources read (getenv and friends) or set for the
    children ("TEND_RUN=...")."""
    names = set()
    for folder in ("src", "runners", "state", "ui", "watchers"):
        for f in sorted(os.listdir(os.path.join(ROOT, folder))):
            if not f.endswith(".c"):
                continue
            text = source(os.path.join(ROOT, folder, f))
            names.update(re.findall(r'\w*env\w*\(\s*"([A-Z][A-Z0-9_]+)"\s*\)',
                                    text))
            names.update(re.findall(r'"(TEND_[A-Z0-9_]+)=', text))
    assert {"TEND_URL", "TEND_TOKEN", "TEND_RUNNER"} <= names, names
    return sorted(names)


def test_every_environment_variable_is_in_tend_1():
    env = sections(MAN1)["ENVIRONMENT"]
    missing = [n for n in environment_read_by_the_sources()
               if not re.search(r"\b" + n + r"\b", env)]
    assert not missing, f"variables missing in tend(1) ENVIRONMENT: {missing}"


def test_every_state_file_is_in_tend_1():
    """The files the daemon writes in <state_dir> ("%s/daemon.json") and
    its logs (store_open(dir, "events") -> events.jsonl)."""
    names = set()
    for folder in ("src", "state", "ui", "runners"):
        for f in os.listdir(os.path.join(ROOT, folder)):
            if f.endswith(".c"):
                text = source(os.path.join(ROOT, folder, f))
                names.update(re.findall(r'"%s/([A-Za-z][A-Za-z_.]*)"', text))
                names.update(n + ".jsonl" for n in re.findall(
                    r'store_open\([^,]*state_dir,\s*"(\w+)"', text))
    assert {"daemon.json", "token", "events.jsonl"} <= names, names
    files = sections(MAN1)["FILES"]
    missing = [n for n in sorted(names) if n not in files]
    assert not missing, f"state files missing in tend(1) FILES: {missing}"


def test_exit_statuses_are_in_tend_1():
    """The client's exit codes (src/cli.h) and up's give-up status."""
    codes = set(re.findall(r"#define CLI_\w+ (\d+)",
                           configsrc.read("src/cli.h")))
    codes |= set(re.findall(r"#define EXIT_\w+ (\d+)",
                            configsrc.read("src/daemon.c")))
    codes |= set(re.findall(r"#define EXIT_\w+ (\d+)",
                            configsrc.read("src/main.c")))
    have = {tag for depth, sect, tag in tags(MAN1) if sect == "EXIT STATUS"}
    assert codes and codes <= have, (codes, have)
