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


def make_env(**extra):
    """The environment for a make of our own: no outer make's state."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                        "MAKE_TERMOUT", "MAKE_TERMERR", "DESTDIR", "PREFIX",
                        "V")}
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
