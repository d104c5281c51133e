"""The build as a new user meets it: the first `make` on a machine without
the -dev packages, `make install` / `make uninstall` with PREFIX and
DESTDIR, and `make deb`.

These tests run the repository's own Makefile (found relative to this
file), not TEND_BIN: `make test` runs this suite with the ASan daemon, but
what is installed and packaged is the release build, which `make test` has
built by then (otherwise the first `make install` here builds it). Every
make runs with the calling make's variables scrubbed from the environment,
so that `V=asan` and the jobserver of an outer `make test` do not leak in.
"""

import filecmp
import os
import re
import shutil
import stat
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE_BIN = os.path.join(ROOT, "build", "release", "tend")

# What the tree holds that a copy of it for a fresh build must not take.
NOT_SOURCE = {".git", "build", "tend", "tend.tmp", "node_modules", ".tend",
              "artifacts", "work", "__pycache__"}


# An outer make puts its command-line variables (V=asan, TEND_DEPS_DONE=1)
# in the environment of its recipes as well as in MAKEFLAGS.
OUTER_MAKE = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
              "MAKE_TERMOUT", "MAKE_TERMERR", "V", "TEND_DEPS_DONE",
              "DEPS_SCRIPT", "DESTDIR", "PREFIX", "JOBS"}


def make_env(**extra):
    """The environment for a make of our own: no outer make's state."""
    env = {k: v for k, v in os.environ.items() if k not in OUTER_MAKE}
    env.update(extra)
    return env


def run(cmd, cwd=ROOT, env=None, ok=True, timeout=600):
    """Runs cmd; with ok, fails the test with its output unless it exits 0."""
    p = subprocess.run(cmd, cwd=cwd, env=env or make_env(), text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    if ok:
        assert p.returncode == 0, (
            f"{' '.join(cmd)} (in {cwd}) exited {p.returncode}\nstdout:\n"
            f"{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    return p


def make(*args, **kw):
    return run(["make", "--no-print-directory", *args], **kw)


def copy_tree(dst):
    """A copy of the source tree without build products, as after a clone."""
    shutil.copytree(ROOT, dst, symlinks=True,
                    ignore=lambda d, names: [n for n in names
                                             if n in NOT_SOURCE])
    return str(dst)


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


# --- the first command on a fresh machine ------------------------------

def test_first_make_runs_deps_before_pkg_config(tmp_path):
    """`make` on a fresh clone: the compiler and linker flags come from
    pkg-config, which knows the libraries only once the deps step has
    installed their -dev packages. A fake pkg-config that fails until a fake
    deps step has run stands for that machine; the build must succeed, so
    no flag may be computed before deps (the old Makefile's := flags were
    empty and the link failed with undefined references to uv_*)."""
    tree = copy_tree(tmp_path / "tree")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    marker = tmp_path / "deps-done"
    log = tmp_path / "pkg-config.log"
    real = shutil.which("pkg-config")
    assert real, "pkg-config is not installed (scripts/deps.sh installs it)"
    write_script(bindir / "pkg-config", f"""#!/bin/sh
# Fails as pkg-config does before the -dev packages are installed.
if [ ! -e '{marker}' ]; then
  echo "before-deps $*" >> '{log}'
  echo "Package libuv was not found in the pkg-config search path." >&2
  exit 1
fi
echo "after-deps $*" >> '{log}'
exec '{real}' "$@"
""")
    write_script(tmp_path / "fake-deps.sh", f"""#!/bin/sh
set -eu
touch '{marker}'
""")
    env = make_env(PATH=f"{bindir}:{os.environ['PATH']}")
    p = make("-j2", f"DEPS_SCRIPT={tmp_path / 'fake-deps.sh'}", cwd=tree,
             env=env)
    assert marker.exists(), "make did not run DEPS_SCRIPT"
    calls = log.read_text().splitlines() if log.exists() else []
    assert calls, "the build never asked pkg-config for flags"
    early = [c for c in calls if c.startswith("before-deps")]
    assert not early, f"pkg-config ran before the deps step: {early}"
    v = run([os.path.join(tree, "tend"), "version"], cwd=tree)
    assert v.stdout.startswith("tend "), v.stdout
    assert "undefined reference" not in p.stderr


def test_missing_package_prints_the_command_and_stops(tmp_path):
    """Not root, a package missing: make prints the exact apt-get command
    and stops before compiling anything."""
    tree = copy_tree(tmp_path / "tree")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_script(bindir / "id", "#!/bin/sh\necho 1000\n")
    write_script(bindir / "dpkg-query", """#!/bin/sh
case "$*" in
  *libuv1-dev*) echo "dpkg-query: no packages found matching libuv1-dev" >&2
                exit 1 ;;
esac
exec /usr/bin/dpkg-query "$@"
""")
    env = make_env(PATH=f"{bindir}:{os.environ['PATH']}")
    p = make("-j2", cwd=tree, env=env, ok=False)
    assert p.returncode != 0, p.stdout
    assert "  sudo apt-get install -y libuv1-dev\n" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(tree, "build")), (
        f"make went on building after the deps step failed:\n{p.stdout}")


def test_root_without_apt_get_prints_the_command(tmp_path):
    """Root, but no apt-get (not Debian, or a minimal image): the deps
    script still names the command and fails instead of half-installing."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_script(bindir / "id", "#!/bin/sh\necho 0\n")
    write_script(bindir / "dpkg-query", """#!/bin/sh
case "$*" in *mandoc*) exit 1 ;; esac
exec /usr/bin/dpkg-query "$@"
""")
    os.symlink(shutil.which("grep"), bindir / "grep")
    p = run([os.path.join(ROOT, "scripts", "deps.sh")],
            env=make_env(PATH=str(bindir)), ok=False)
    assert p.returncode != 0
    assert "  sudo apt-get install -y mandoc\n" in p.stderr, p.stderr
    assert "apt-get" in p.stderr.splitlines()[0], p.stderr


# --- make install / make uninstall -------------------------------------

def expected_install():
    """{DEST under PREFIX: (source in the tree, mode)}: issue 10's list."""
    files = {
        "bin/tend": (RELEASE_BIN, 0o755),
        "share/man/man1/tend.1": ("docs/man/tend.1", 0o644),
        "share/man/man5/tend.json.5": ("docs/man/tend.json.5", 0o644),
        "share/tend/tend.schema.json": ("docs/tend.schema.json", 0o644),
        "share/bash-completion/completions/tend":
            ("scripts/completion/tend.bash", 0o644),
        "share/zsh/vendor-completions/_tend":
            ("scripts/completion/_tend", 0o644),
        "lib/systemd/system/tend.service":
            ("examples/systemd/tend.service", 0o644),
        "lib/systemd/user/tend.service":
            ("examples/systemd/tend-user.service", 0o644),
        "share/doc/tend/README.md": ("README.md", 0o644),
        "share/doc/tend/examples/demo.json": ("examples/demo.json", 0o644),
    }
    for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
        if name.endswith(".md"):
            files[f"share/doc/tend/docs/{name}"] = (f"docs/{name}", 0o644)
    return files


def files_under(top):
    """Every file (not folder) below top, as paths relative to it."""
    out = set()
    for d, _, names in os.walk(top):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), top))
    return out


def test_install_twice_then_uninstall(tmp_path):
    """make install DESTDIR=... PREFIX=/usr puts every file in place with
    its mode, the installed binary runs, a second install is fine, and make
    uninstall removes exactly those files and tend's own folders, leaving
    what else was there."""
    dest = tmp_path / "dest"
    prefix = dest / "usr"
    # Someone else's files in the folders tend shares.
    foreign = ["share/man/man1/other.1", "share/doc/other/README",
               "lib/systemd/system/other.service", "bin/other"]
    for f in foreign:
        os.makedirs(os.path.dirname(prefix / f), exist_ok=True)
        (prefix / f).write_text("not tend's\n")

    make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    want = expected_install()
    for rel, (src, mode) in want.items():
        path = prefix / rel
        assert path.is_file(), f"make install did not install {path}"
        assert stat.S_IMODE(path.stat().st_mode) == mode, (
            f"{path}: mode {oct(path.stat().st_mode)}, want {oct(mode)}")
        assert filecmp.cmp(os.path.join(ROOT, src), path, shallow=False), (
            f"{path} differs from {src}")
    assert files_under(prefix) == set(want) | set(foreign), (
        "make install put files that are not in its list: "
        f"{sorted(files_under(prefix) - set(want) - set(foreign))}")

    tend = str(prefix / "bin" / "tend")
    assert run([tend, "version"]).stdout.startswith("tend ")
    p = run([tend, "check", os.path.join(ROOT, "examples", "demo.json")])
    assert "ok" in p.stdout, p.stdout

    make("install", f"DESTDIR={dest}", "PREFIX=/usr")  # twice: fine
    assert files_under(prefix) == set(want) | set(foreign)

    make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    assert files_under(prefix) == set(foreign), (
        f"left behind: {sorted(files_under(prefix) - set(foreign))}")
    for own in ("share/tend", "share/doc/tend"):
        assert not (prefix / own).exists(), f"{own} left behind"
    make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")  # twice: fine


def test_install_prefix_defaults_to_usr_local(tmp_path):
    make("install", f"DESTDIR={tmp_path}")
    assert (tmp_path / "usr/local/bin/tend").is_file()
    assert (tmp_path / "usr/local/share/man/man1/tend.1").is_file()
    make("uninstall", f"DESTDIR={tmp_path}")
    assert files_under(tmp_path) == set()


def test_install_names_a_missing_input(tmp_path):
    """An input file missing: install stops before copying anything and
    says which file."""
    (tmp_path / "here").write_text("x\n")
    p = run([os.path.join(ROOT, "scripts", "install.sh"), "install",
             str(tmp_path / "dest"), "here:share/here:644",
             "docs/man/gone.5:share/man/man5/gone.5:644"],
            cwd=tmp_path, ok=False)
    assert p.returncode != 0
    assert "docs/man/gone.5 is missing" in p.stderr, p.stderr
    assert not (tmp_path / "dest").exists()


# --- make deb ----------------------------------------------------------

def control_fields(text):
    """{field: value} of a Debian control paragraph (continuations joined)."""
    fields, key = {}, None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            fields[key] = value.strip()
    return fields


def test_make_deb(tmp_path):
    """make deb: a package named after the version tend prints and the
    machine's architecture, with Depends computed from the libraries the
    binary links, every file owned by root, and a binary that runs once
    unpacked."""
    p = make("deb")
    raw = run([RELEASE_BIN, "version"]).stdout.strip()
    version = re.sub(r"[^A-Za-z0-9.+~]", "",
                     raw.split()[-1].replace("-", "~").replace("_", "~"))
    assert re.fullmatch(r"[0-9][A-Za-z0-9.+~]*", version), raw
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    deb = os.path.join(ROOT, "build", "deb", f"tend_{version}_{arch}.deb")
    assert os.path.isfile(deb), f"no {deb}; make deb said:\n{p.stdout}"

    info = run(["dpkg-deb", "-I", deb]).stdout
    fields = control_fields(run(["dpkg-deb", "--field", deb]).stdout)
    assert fields["Package"] == "tend", info
    assert fields["Version"] == version, info
    assert fields["Architecture"] == arch, info
    assert re.fullmatch(r".+ <[^<>@\s]+@[^<>\s]+>", fields["Maintainer"]), info
    assert fields["Description"].strip(), info
    depends = {d.strip().split()[0] for alt in fields["Depends"].split(",")
               for d in alt.split("|")}
    for lib in ("libuv1", "libjansson4", "libmicrohttpd12", "libcurl4",
                "libc6"):
        assert lib in depends, f"Depends lacks {lib}: {fields['Depends']}"

    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    assert listing
    for line in listing:
        assert line.split()[1] == "root/root", f"not owned by root: {line}"

    root = tmp_path / "root"
    run(["dpkg", "-x", deb, str(root)])
    want = set()
    for rel in expected_install():
        if rel.startswith("share/man/"):
            rel += ".gz"  # compressed, as Debian wants
        want.add("usr/" + rel)
    assert files_under(root) == want, (
        f"missing: {sorted(want - files_under(root))}, "
        f"extra: {sorted(files_under(root) - want)}")
    tend = str(root / "usr" / "bin" / "tend")
    assert run([tend, "version"]).stdout.strip() == raw
    run([tend, "check", os.path.join(ROOT, "examples", "demo.json")])
