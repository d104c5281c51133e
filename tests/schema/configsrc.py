"""What the validator (src/config*.c) accepts, read from its source.

The JSON Schema (docs/tend.schema.json), the man page tend.json(5) and
docs/config.md each describe the keys, enums and signal names that the
validator accepts: node_keys[] and the root's and groups' tables are in
src/config_tree.c, a runner's in src/config_runner.c, the signals in
src/config.c, the enums in src/config.h. tests/integration/test_schema.py
and test_man.py use these readers to compare them with the source, so
that a key added to the validator and documented nowhere fails a test.

The readers are strict: a table they do not know (a new `*_keys[]` array,
a new X-macro enum) raises, so that this file is updated along with the
validator instead of silently missing the new table.
"""

import glob
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Where each key table of src/config*.c applies: the dotted prefix of its
# keys. A new table must be added here.
SUBTABLES = {
    "intensity_keys": "intensity",
    "http_keys": "http",
    "tls_keys": "http.tls",
    "output_keys": "output",
    "backoff_keys": "backoff",
    "stop_keys": "stop",
    "ready_keys": "ready",
    "watch_keys": "watch",
    "loop_keys": "watch.loop_limit",
    "after_keys": "after",
    "limit_keys": "restart_limit",
    "health_keys": "health",
    "pty_keys": "pty",
}

# The X-macro enums of src/config.h that appear in tend.json, and the key
# whose values they are. A new map must be added here or to ENUM_INTERNAL.
ENUM_KEYS = {
    "CONFIG_STRATEGY_MAP": "strategy",
    "CONFIG_RESTART_MAP": "restart",
    "CONFIG_GIVE_UP_MAP": "on_give_up",
    "CONFIG_ON_BUSY_MAP": "on_busy",
    "CONFIG_AFTER_ON_MAP": "after.on",
}
# Enums that are not written as a key's value in tend.json: the kinds of
# readiness probe are the keys of "ready" ("none" is the absence of one),
# watch actions are checked with the signal names (test_schema.py), and
# reload change kinds never appear in the file.
ENUM_INTERNAL = {"CONFIG_READY_MAP", "CONFIG_PROBE_MAP", "CONFIG_WATCH_ACTION_MAP",
                 "CONFIG_CHANGE_MAP"}

# node_keys[] "where" flags -> the kinds of node a key may appear on.
WHERE = {"W_ANY": {"root", "group", "runner"}, "W_ROOT": {"root"},
         "W_GROUP": {"root", "group"}, "W_RUNNER": {"runner"}}


def read(rel):
    """Returns the text of a file of the repository."""
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def validator_src():
    """Returns the text of every C file of the validator (src/config*.c),
    joined: the key tables may live in any of them."""
    files = sorted(glob.glob(os.path.join(ROOT, "src", "config*.c")))
    if not files:
        raise AssertionError("no src/config*.c found")
    return "\n".join(read(os.path.relpath(f, ROOT)) for f in files)


def node_keys(src=None):
    """Returns {key: set of node kinds} for the keys of a node."""
    src = src if src is not None else validator_src()
    m = re.search(r"\}\s*node_keys\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise AssertionError("node_keys[] not found in src/config*.c")
    keys = {}
    for key, flags in re.findall(r'\{\s*"([^"]+)"\s*,\s*([A-Z_| ]+?)\s*\}',
                                 m.group(1)):
        kinds = set()
        for flag in flags.split("|"):
            kinds |= WHERE[flag.strip()]
        keys[key] = kinds
    if not keys:
        raise AssertionError("node_keys[] is empty?")
    return keys


def sub_keys(src=None):
    """Returns {dotted prefix: [keys]} for every *_keys[] table but
    node_keys; raises on a table SUBTABLES does not map."""
    src = src if src is not None else validator_src()
    tables = {}
    for name, body in re.findall(
            r"static const char \*const (\w+_keys)\[\]\s*=\s*\{(.*?)\};",
            src, re.S):
        if name not in SUBTABLES:
            raise AssertionError(
                f"src/config*.c has a key table {name}[] that "
                f"tests/schema/configsrc.py does not map: add it to "
                f"SUBTABLES, then document its keys")
        tables[SUBTABLES[name]] = re.findall(r'"([^"]+)"', body)
    missing = set(SUBTABLES) - {n for n, _ in re.findall(
        r"static const char \*const (\w+_keys)\[\]\s*=\s*\{(.*?)\};", src,
        re.S)}
    if missing:
        raise AssertionError(f"tables gone from src/config*.c: {missing}")
    return tables


def all_keys(src=None):
    """Returns every key the validator accepts as a dotted path
    ("cmd", "http.listen", "watch.loop_limit.period_s"), sorted. An object
    key that has sub-keys is listed too ("watch")."""
    src = src if src is not None else validator_src()
    out = set(node_keys(src))
    for prefix, keys in sub_keys(src).items():
        out.add(prefix)
        out.update(f"{prefix}.{k}" for k in keys)
    return sorted(out)


def enums(header=None):
    """Returns {key: [values]} for the X-macro enums written in tend.json;
    raises on a map neither ENUM_KEYS nor ENUM_INTERNAL knows."""
    header = header if header is not None else read("src/config.h")
    out = {}
    for name, body in re.findall(
            r"#define (CONFIG_\w+_MAP)\(X\)((?:[^\n]*\\\n)+[^\n]*)", header):
        values = re.findall(r'X\(\s*\w+\s*,\s*"([^"]+)"\s*\)', body)
        if name in ENUM_INTERNAL:
            continue
        if name not in ENUM_KEYS:
            raise AssertionError(
                f"src/config.h has an enum {name} that tests/schema/"
                f"configsrc.py does not map to a key (ENUM_KEYS)")
        out[ENUM_KEYS[name]] = values
    if set(out) != set(ENUM_KEYS.values()):
        raise AssertionError(f"enum maps gone from src/config.h: "
                             f"{set(ENUM_KEYS.values()) - set(out)}")
    return out


def signals(src=None):
    """Returns the signal names config_signal_parse knows (without SIG)."""
    src = src if src is not None else validator_src()
    m = re.search(r"\}\s*signals\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise AssertionError("signals[] not found in src/config*.c")
    names = re.findall(r'\{\s*"([A-Z0-9]+)"\s*,\s*SIG\w+\s*\}', m.group(1))
    if len(names) < 20:
        raise AssertionError(f"too few signals parsed: {names}")
    return names
