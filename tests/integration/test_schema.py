"""docs/tend.schema.json against the validator (`tend check`).

The JSON Schema is for editors; `tend check` is the authority. These tests
keep the two in step:

- every key, enum value and signal name that src/config.c accepts is in
  the schema, and the schema has no key the validator refuses;
- every config of the repository that `tend check` accepts (examples,
  fixtures, fuzz seeds, the JSON of README.md, docs/config.md and
  tend.json(5)) is valid for the schema;
- on the corpus tests/schema/{bad,good}/*.json, `tend check` and the schema
  agree (both refuse, at the same place, or both accept), except for the
  cases listed in BEYOND_SCHEMA and SCHEMA_STRICTER below, which are
  asserted to stay what they say.

Run with /usr/bin/python3 (Debian's python3-jsonschema)."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import TEND_BIN

jsonschema = pytest.importorskip("jsonschema")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "schema"))
import configsrc  # noqa: E402

SCHEMA_PATH = os.path.join(ROOT, "docs", "tend.schema.json")
CORPUS = os.path.join(ROOT, "tests", "schema")

# Configs that `tend check` refuses and the schema accepts, because JSON
# Schema cannot say why: each is in tests/schema/bad/ (named beyond-*), and
# the test asserts that tend refuses it and the schema accepts it, so that
# this list stays true.
BEYOND_SCHEMA = {
    "beyond-duplicate-sibling-names.json":
        "names are unique in the whole tree; uniqueItems cannot compare "
        "one property of array items",
    "beyond-duplicate-names-across-groups.json":
        "uniqueness across nesting levels is beyond JSON Schema",
    "beyond-child-named-like-root.json":
        "the root's name counts among the tree's names",
    "beyond-after-unknown-runner.json":
        "\"after\" must name a runner that exists: a cross-reference",
    "beyond-after-names-a-group.json":
        "\"after\" must name a runner, not a group: a cross-reference",
    "beyond-after-itself.json":
        "a runner cannot run after itself: comparing two values",
    "beyond-after-cycle.json":
        "\"after\" chains must not loop: a graph property",
    "beyond-backoff-max-below-initial.json":
        "backoff.max_ms >= initial_ms compares two values",
    "beyond-ready-log-bad-regex.json":
        "ready.log is a POSIX extended regex compiled by regcomp(3); "
        "JSON Schema's \"regex\" format is ECMA-262, another dialect",
    "beyond-ready-log-not-posix.json":
        "(?i) is valid ECMA-262 and Python but not POSIX ERE",
    "beyond-ready-log-unsafe-regex.json":
        "tend refuses regexes whose compilation could stall the daemon "
        "(nested counted repetitions)",
    "beyond-watch-glob-unterminated.json":
        "glob syntax (an unterminated '[') is tend's own",
    "beyond-watch-glob-trailing-backslash.json":
        "glob syntax (a trailing backslash) is tend's own",
    "beyond-include-folder-missing.json":
        "the include folder must exist: a property of the file system",
    "beyond-http-listen-bad-ipv6.json":
        "the text in brackets must be an IPv6 address (inet_pton); the "
        "schema only checks its characters",
    "beyond-http-listen-ipv6-not-loopback.json":
        "which IPv6 addresses are loopback (::1, ::ffff:127.x.x.x, in any "
        "spelling) is left to tend",
    "beyond-integer-written-as-real.json":
        "1000.0 is an integer for JSON Schema but a real for jansson, and "
        "tend wants integers for _ms keys",
    "beyond-duplicate-key.json":
        "a key twice in one object is a syntax error for tend (jansson's "
        "JSON_REJECT_DUPLICATES); JSON parsers keep the last one",
    "beyond-nul-in-string.json":
        "jansson refuses \\u0000 in strings; JSON Schema sees a string",
}

# Configs that `tend check` accepts and the schema refuses, on purpose:
# each is in tests/schema/good/.
SCHEMA_STRICTER = {
    "schema-uri-with-space.json":
        "\"$schema\" is only a string to tend (it ignores it), but the "
        "schema says it is a URI reference (format checking)",
}


@pytest.fixture(scope="module")
def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def validator(schema):
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def node_validator(schema):
    """A validator of one node (a file of the include folder)."""
    cls = jsonschema.Draft202012Validator
    sub = dict(schema)
    sub["$ref"] = "#/$defs/node"
    for k in ("type", "properties", "additionalProperties", "required"):
        sub.pop(k, None)
    return cls(sub, format_checker=cls.FORMAT_CHECKER)


def tend_check(path):
    """Runs `tend check path`; returns (exit status, error lines)."""
    r = subprocess.run([TEND_BIN, "check", path], capture_output=True,
                       text=True, timeout=30)
    return r.returncode, [l for l in r.stderr.splitlines() if l]


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def errors(validator, doc):
    """Returns the schema's errors as readable lines."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: "
            f"{e.message[:300]}" for e in validator.iter_errors(doc)]


# ------------------------------------------------------------- the schema


def test_schema_is_draft_2020_12_with_an_id(schema):
    assert schema["$schema"] == \
        "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith(("https://", "file:///"))
    jsonschema.Draft202012Validator.check_schema(schema)


def resolve(schema, sub):
    """Follows $ref (local ones) until a schema without one."""
    seen = 0
    while "$ref" in sub:
        ref = sub["$ref"]
        assert ref.startswith("#/"), ref
        target = schema
        for part in ref[2:].split("/"):
            target = target[part]
        merged = dict(target)
        merged.update({k: v for k, v in sub.items() if k != "$ref"})
        sub = merged
        seen += 1
        assert seen < 20, "a $ref loop"
    return sub


def walk_objects(schema, sub, where, out):
    """Collects every object schema with properties: {where: schema}."""
    sub = resolve(schema, sub)
    if "properties" in sub:
        out[where] = sub
        for k, v in sub["properties"].items():
            walk_objects(schema, v, f"{where}.{k}" if where else k, out)
    return out


def test_every_property_has_a_description(schema):
    objs = walk_objects(schema, schema, "", {})
    for name in ("group", "runner"):
        walk_objects(schema, schema["$defs"][name], f"<{name}>", objs)
    missing = []
    for where, obj in objs.items():
        for k, v in obj["properties"].items():
            if not resolve(schema, v).get("description"):
                missing.append(f"{where}.{k}" if where else k)
    assert not missing, f"properties without a description: {missing}"
    for name, d in schema["$defs"].items():
        assert d.get("description"), f"$defs/{name} has no description"


def test_objects_refuse_unknown_keys(schema):
    """The validator refuses unknown keys everywhere (env holds any
    variable name), so every object says additionalProperties: false."""
    objs = walk_objects(schema, schema, "", {})
    for name in ("group", "runner"):
        walk_objects(schema, schema["$defs"][name], f"<{name}>", objs)
    for where, obj in objs.items():
        assert obj.get("additionalProperties") is False, where


def schema_keys(schema):
    """Returns {dotted key: set of node kinds} as the schema has them."""
    kinds = {"root": schema, "group": schema["$defs"]["group"],
             "runner": schema["$defs"]["runner"]}
    out = {}
    for kind, sub in kinds.items():
        for where, obj in walk_objects(schema, sub, "", {}).items():
            for k in obj["properties"]:
                key = f"{where}.{k}" if where else k
                out.setdefault(key, set()).add(kind)
    return out


def test_schema_has_exactly_the_validators_keys(schema):
    """Every key of src/config.c's tables is in the schema, on the same
    kinds of node, and the schema has no other key."""
    want = {}
    for key, kinds in configsrc.node_keys().items():
        want[key] = set(kinds)
    for prefix, keys in configsrc.sub_keys().items():
        top = prefix.split(".")[0]
        for k in keys:
            want[f"{prefix}.{k}"] = set(want[top])
    have = schema_keys(schema)
    assert sorted(set(want) - set(have)) == [], "keys missing in the schema"
    assert sorted(set(have) - set(want)) == [], \
        "keys in the schema that the validator refuses"
    for key in want:
        assert have[key] == want[key], \
            f"{key}: allowed on {sorted(want[key])} by the validator, " \
            f"on {sorted(have[key])} by the schema"


def test_enums_match_the_validator(schema):
    keys = schema_keys(schema)
    for key, values in configsrc.enums().items():
        assert key in keys, key
        parent, _, leaf = key.rpartition(".")
        for kind in sorted(keys[key]):
            sub = schema if kind == "root" else schema["$defs"][kind]
            obj = walk_objects(schema, sub, "", {})[parent]
            prop = resolve(schema, obj["properties"][leaf])
            assert prop.get("enum") == values, (kind, key)


def test_signal_names_match_the_validator(validator):
    """Each signal tend knows, in three spellings, is accepted as
    stop.signal and in watch.action; a made-up one is refused."""
    def doc(stop, action):
        return {"children": [{"name": "a", "cmd": "x",
                              "stop": {"signal": stop},
                              "watch": {"paths": ["."], "action": action}}]}
    names = configsrc.signals()
    for n in names:
        for spelling in (n, "SIG" + n, "sig" + n.lower()):
            assert not errors(validator, doc(spelling, "signal:" +
                                             spelling)), spelling
    for bad in ("SIGFOO", "TERMX", "SIG", "15", "signal:TERM", "SIGSIGTERM"):
        assert errors(validator, doc(bad, "restart")), bad
        assert errors(validator, doc("TERM", "signal:" + bad)), bad


# ------------------------------------------------ the repository's configs


def repo_configs(tmp_path):
    """Every JSON config file of the repository outside tests/schema, as
    (name, path to check): the fuzz seeds are loaded as tend.json in
    tests/fuzz/fixtures (fuzz_config.c), so they are copied into a folder
    that links that one's entries."""
    out = []
    for p in ("examples/*.json", "tests/unit/fixtures/config/*.json",
              "tests/unit/fixtures/config/*/tend.json"):
        out += [(os.path.relpath(f, ROOT), f)
                for f in sorted(glob.glob(os.path.join(ROOT, p)))]
    fixtures = os.path.join(ROOT, "tests", "fuzz", "fixtures")
    for n, f in enumerate(sorted(glob.glob(
            os.path.join(ROOT, "tests", "fuzz", "corpus", "config", "*")))):
        folder = tmp_path / f"fuzz{n}"
        folder.mkdir()
        for entry in os.listdir(fixtures):
            os.symlink(os.path.join(fixtures, entry), folder / entry)
        with open(f, "rb") as src:
            (folder / "tend.json").write_bytes(src.read())
        out.append((os.path.relpath(f, ROOT), str(folder / "tend.json")))
    return out


# Fixtures that must stay valid, so that the test below cannot pass by
# finding nothing valid.
MUST_BE_VALID = ["examples/demo.json", "tests/unit/fixtures/config/full.json",
                 "tests/unit/fixtures/config/minimal.json",
                 "tests/unit/fixtures/config/include_ok/tend.json",
                 "tests/fuzz/corpus/config/full.json",
                 "tests/fuzz/corpus/config/minimal.json",
                 "tests/fuzz/corpus/config/demo.json"]


def test_repository_configs_that_tend_accepts_are_valid(tmp_path, schema,
                                                        validator):
    nodes = node_validator(schema)
    valid = []
    for rel, path in repo_configs(tmp_path):
        rc, errs = tend_check(path)
        if rc != 0:
            continue
        valid.append(rel)
        doc = load(path)
        assert not errors(validator, doc), (rel, errors(validator, doc))
        if doc.get("include"):
            inc = os.path.join(os.path.dirname(path), doc["include"])
            for f in sorted(glob.glob(os.path.join(inc, "*.json"))):
                assert not errors(nodes, load(f)), (f, errors(nodes, load(f)))
                valid.append(f"{rel} include {os.path.basename(f)}")
    for rel in MUST_BE_VALID:
        assert rel in valid, f"{rel}: tend check refuses it"


def json_blocks(text, lang="json"):
    """Returns the ```json fenced blocks of a Markdown text."""
    return re.findall(r"^```" + lang + r"\n(.*?)^```", text, re.S | re.M)


ROFF_ESCAPES = {"\\-": "-", "\\e": "\\", "\\(aq": "'", "\\(dq": '"',
                "\\&": ""}


def man_examples(text):
    """Returns the .EX/.EE blocks of a man page, as plain text."""
    out = []
    for block in re.findall(r"^\.EX\n(.*?)^\.EE", text, re.S | re.M):
        lines = [l for l in block.splitlines() if not l.startswith(".")]
        out.append(re.sub(r"\\(?:-|e|\(aq|\(dq|&)",
                          lambda m: ROFF_ESCAPES[m.group(0)],
                          "\n".join(lines)))
    return out


def block_docs(block):
    """Turns a code block into tend.json documents: a whole document as
    it is; node snippets (one object, objects one per line, or objects
    separated by commas) as the children of a root. Returns [] when the
    block is not JSON (it elides with ...)."""
    objs = None
    for attempt in (block, "[" + block + "]"):
        try:
            v = json.loads(attempt)
        except ValueError:
            continue
        objs = v if isinstance(v, list) else [v]
        break
    if objs is None:
        try:
            objs = [json.loads(l) for l in block.splitlines() if l.strip()]
        except ValueError:
            return []
    if len(objs) == 1 and "cmd" not in objs[0]:
        return [objs[0]]
    return [{"name": "docs-example", "children": objs}]


def doc_examples():
    out = []
    for rel in ("README.md", "docs/config.md"):
        for i, block in enumerate(json_blocks(configsrc.read(rel))):
            for doc in block_docs(block):
                out.append((f"{rel} block {i + 1}", doc))
    for i, block in enumerate(man_examples(
            configsrc.read("docs/man/tend.json.5"))):
        for doc in block_docs(block):
            out.append((f"tend.json.5 example {i + 1}", doc))
    return out


def test_documentation_examples_are_valid(tmp_path, schema, validator):
    """The JSON in README.md, docs/config.md and tend.json(5) is valid for
    tend check and for the schema."""
    found = doc_examples()
    count = {src: sum(w.startswith(src) for w, _ in found)
             for src in ("README.md", "docs/config.md", "tend.json.5")}
    assert count["README.md"] >= 1 and count["docs/config.md"] >= 6 and \
        count["tend.json.5"] >= 4, count
    for n, (where, doc) in enumerate(found):
        folder = tmp_path / f"ex{n}"
        folder.mkdir()
        if isinstance(doc.get("include"), str):
            (folder / doc["include"]).mkdir(parents=True)
        path = folder / "tend.json"
        path.write_text(json.dumps(doc))
        rc, errs = tend_check(str(path))
        assert rc == 0, (where, errs)
        assert not errors(validator, doc), (where, errors(validator, doc))


# ---------------------------------------------------------------- corpus


def corpus(kind):
    return sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(CORPUS, kind, "*.json")))


def test_corpus_is_big_enough_and_the_lists_are_true():
    bad, good = corpus("bad"), corpus("good")
    assert len(bad) - len(BEYOND_SCHEMA) >= 40
    assert len(good) >= 10
    assert sorted(f for f in bad if f.startswith("beyond-")) == \
        sorted(BEYOND_SCHEMA)
    assert set(SCHEMA_STRICTER) <= set(good)


PATH_TOKEN = re.compile(
    r'\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def tend_path(line):
    """Parses "file:line:col: path: message" into [keys and indexes];
    None for an error without a path (a syntax error)."""
    m = re.match(r"^[^:]*:\d+:\d+: (.*)$", line)
    assert m, line
    rest, path = m.group(1), []
    if rest.startswith("(root): "):
        return []
    pos = 0
    while pos < len(rest) and not rest.startswith(": ", pos):
        t = PATH_TOKEN.match(rest, pos)
        if not t:
            return None  # not a path: a syntax error's message
        if t.group(1) is not None:
            path.append(t.group(1))
        elif t.group(2) is not None:
            path.append(int(t.group(2)))
        else:
            path.append(json.loads('"' + t.group(3) + '"'))
        pos = t.end()
    return path if pos < len(rest) else None


@pytest.mark.parametrize("name", corpus("bad"))
def test_bad_config(name, validator):
    path = os.path.join(CORPUS, "bad", name)
    rc, errs = tend_check(path)
    assert rc == 1, f"tend check accepted {name}"
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    found = errors(validator, doc)
    if name in BEYOND_SCHEMA:
        assert not found, f"{name} is listed as beyond the schema " \
            f"({BEYOND_SCHEMA[name]}), but the schema refuses it: {found}"
        return
    assert len(errs) == 1, f"{name} should hold one defect: {errs}"
    assert found, f"the schema accepts {name}; tend check says: {errs}"
    # The schema refuses it at the same place: at tend's path, or at the
    # object that holds it (an unknown key, a key of a missing group).
    want = tend_path(errs[0])
    if want is None:
        return  # a syntax error for jansson: it has no path
    where = [list(e.absolute_path) for e in validator.iter_errors(doc)]
    assert any(w == want[:len(w)] and len(want) - len(w) <= 1
               for w in where), (name, errs[0], where)


@pytest.mark.parametrize("name", corpus("good"))
def test_good_config(name, schema, validator):
    path = os.path.join(CORPUS, "good", name)
    rc, errs = tend_check(path)
    assert rc == 0, (name, errs)
    doc = load(path)
    found = errors(validator, doc)
    if name in SCHEMA_STRICTER:
        assert found, f"{name} is listed as refused by the schema " \
            f"({SCHEMA_STRICTER[name]}), but the schema accepts it"
        return
    assert not found, (name, found)
    if doc.get("include"):
        nodes = node_validator(schema)
        inc = os.path.join(CORPUS, "good", doc["include"])
        for f in sorted(glob.glob(os.path.join(inc, "*.json"))):
            assert not errors(nodes, load(f)), (f, errors(nodes, load(f)))
