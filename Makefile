# tend: one GNU Makefile. `make` builds ./tend, `make run` runs the demo,
# `make test` installs what is missing and runs every test (release and
# ASan+UBSan), `make bench` prints the benchmarks, `make install` and
# `make deb` install or package the release build.
#
# Module sources are found by directory, so adding a module never needs an
# edit here: src/ runners/ watchers/ state/ ui/ are compiled into one archive
# that the binary and every unit test link.
#
# The first command on a fresh machine must work, so every goal (but the
# few in NODEPS_GOALS) first runs the deps step, which installs the -dev
# packages, and then re-enters make for the same goals with TEND_DEPS_DONE
# set: nothing is compiled, and no rule of the build is even read, before
# deps has run. The pkg-config flags are recursive variables on top of
# that, computed once when the first recipe needs them, never at parse time.

DEPS_SCRIPT  ?= scripts/deps.sh
NODEPS_GOALS := clean uninstall deps format lint
GOALS        := $(or $(MAKECMDGOALS),all)

DEPS_FIRST   :=
ifeq ($(TEND_DEPS_DONE),)
ifneq ($(filter-out $(NODEPS_GOALS),$(GOALS)),)
DEPS_FIRST   := yes
endif
endif

ifeq ($(DEPS_FIRST),yes)
# --- outer make: deps, then the goals in a sub-make ----------------------
.PHONY: $(GOALS) deps-then-goals
$(GOALS): deps-then-goals
	@:
deps-then-goals:
	@$(DEPS_SCRIPT)
	@$(MAKE) --no-print-directory TEND_DEPS_DONE=1 $(MAKECMDGOALS)
else
# --- the build -----------------------------------------------------------

PKGS      := libuv jansson libmicrohttpd libcurl ncursesw
CC        ?= gcc
PYTHON    := /usr/bin/python3
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -Wmissing-prototypes -Wformat=2
# Recursive on purpose (see the top of this file): PKG_CFLAGS and PKG_LIBS
# run pkg-config on first use and keep the answer.
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -I. -Ibuild/gen $(WARN) -MMD -MP \
              $(PKG_CFLAGS)
LIBS        = $(PKG_LIBS) -lm
PKG_CFLAGS  = $(eval PKG_CFLAGS := $(call pkg_config,--cflags))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $(call pkg_config,--libs))$(PKG_LIBS)
# $(call pkg_config,--libs): pkg-config's answer, or make stops with why.
pkg_config  = $(call pkg_config_ok,$(shell pkg-config $(1) $(PKGS) \
                2>/dev/null && echo pkg-config-ok),$(1))
pkg_config_ok = $(if $(filter pkg-config-ok,$(1)),$(filter-out \
                pkg-config-ok,$(1)),$(error pkg-config $(2) $(PKGS) failed; \
                run $(DEPS_SCRIPT), or see why with: pkg-config \
                --print-errors $(2) $(PKGS)))

# Variant: release (default) or asan. Objects of each live under build/<v>.
V         ?= release
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(V),asan)
VFLAGS    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
else
VFLAGS    := -O2 -g
endif
B         := build/$(V)

MAIN_SRC  := src/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(wildcard src/*.c runners/*.c \
               watchers/*.c state/*.c ui/*.c)) build/gen/web_assets.c
LIB_OBJS  := $(patsubst %.c,$(B)/%.o,$(patsubst build/gen/%,gen/%,$(LIB_SRCS)))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
WEB_FILES := $(sort $(wildcard ui/web/*))

.PHONY: all run test test-unit test-integration test-browser deps clean \
        bench format lint unit-bins valgrind install uninstall deb

all: tend

# The release binary is copied to ./tend; the sanitizer build stays in
# build/asan/tend.
tend: $(B)/tend
	cp -f $(B)/tend tend.tmp && mv -f tend.tmp tend

$(B)/tend: $(B)/src/main.o $(B)/libtend.a
	$(CC) $(VFLAGS) -o $@ $^ $(LIBS)

$(B)/libtend.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(VFLAGS) -c -o $@ $<

$(B)/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(VFLAGS) -c -o $@ $<

# The browser UI's files are compiled into the binary (no build step for JS).
build/gen/web_assets.c: ui/tools/embed.c $(WEB_FILES)
	@mkdir -p build/gen
	$(CC) -std=c11 -O1 -o build/gen/embed ui/tools/embed.c
	build/gen/embed $@ $(WEB_FILES)

# Every unit test links tests/unit/helpers.c (scratch folders, leak checks).
$(B)/tests/helpers.o: tests/unit/helpers.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(VFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(B)/tests/helpers.o $(B)/libtend.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(VFLAGS) -o $@ $< $(B)/tests/helpers.o \
	  $(B)/libtend.a $(LIBS) -lcriterion

unit-bins: $(UNIT_BINS)

run: tend
	./tend up -c examples/demo.json

deps:
	@$(DEPS_SCRIPT)

# Every test. Unit tests run in both builds; the integration suite (real
# daemons, real processes, real HTTP) runs against the AddressSanitizer +
# UndefinedBehaviorSanitizer daemon, which checks more than the release one
# on the same paths; the browser tests drive the release daemon; each fuzz
# target runs for a short bounded time. The whole stays under 10 minutes on
# 2 cores.
test:
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory analyze
	$(MAKE) --no-print-directory -j$(JOBS) V=release tend unit-bins
	$(MAKE) --no-print-directory -j$(JOBS) V=asan build/asan/tend unit-bins
	$(MAKE) --no-print-directory V=release test-unit
	$(MAKE) --no-print-directory V=asan test-unit
	$(MAKE) --no-print-directory V=asan test-integration
	$(MAKE) --no-print-directory test-browser
	$(MAKE) --no-print-directory -j$(JOBS) fuzz-bins
	$(MAKE) --no-print-directory fuzz-smoke FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS)
	@echo "make test: all tests passed"

test-unit: unit-bins
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
	  ASAN_OPTIONS=detect_leaks=1 $$t --jobs 2 --timeout 30 ; done

# Test files run two at a time (pytest-xdist, one file per worker, so a
# file's tests keep their order); INTEGRATION_JOBS=1 runs them one by one.
INTEGRATION_JOBS ?= 2
test-integration: $(B)/tend
	TEND_BIN=$(abspath $(B)/tend) TEND_VARIANT=$(V) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider \
	  $(if $(filter-out 1,$(INTEGRATION_JOBS)),-n $(INTEGRATION_JOBS) --dist loadfile,-x) \
	  tests/integration

test-browser: tend
	@scripts/browser-deps.sh
	TEND_BIN=$(abspath tend) node tests/browser/run.mjs

bench: tend
	@bench/run.sh

# --- install, uninstall, deb ---------------------------------------------
# `make install [PREFIX=/usr/local] [DESTDIR=]` copies the release build and
# its files; `make uninstall` with the same variables removes exactly them;
# `make deb` packages the same list with PREFIX=/usr into
# build/deb/tend_<version>_<arch>.deb. Each entry is SOURCE:DEST:MODE, DEST
# under $(PREFIX); the docs keep their relative paths, so the README's links
# work in share/doc/tend.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL_LIST := \
  $(B)/tend:bin/tend:755 \
  docs/man/tend.1:share/man/man1/tend.1:644 \
  docs/man/tend.json.5:share/man/man5/tend.json.5:644 \
  docs/tend.schema.json:share/tend/tend.schema.json:644 \
  scripts/completion/tend.bash:share/bash-completion/completions/tend:644 \
  scripts/completion/_tend:share/zsh/vendor-completions/_tend:644 \
  examples/systemd/tend.service:lib/systemd/system/tend.service:644 \
  examples/systemd/tend-user.service:lib/systemd/user/tend.service:644 \
  README.md:share/doc/tend/README.md:644 \
  $(foreach f,$(sort $(wildcard docs/*.md)),$(f):share/doc/tend/$(f):644) \
  examples/demo.json:share/doc/tend/examples/demo.json:644

install: $(B)/tend
	@scripts/install.sh install '$(DESTDIR)$(PREFIX)' $(INSTALL_LIST)

uninstall:
	@scripts/install.sh uninstall '$(DESTDIR)$(PREFIX)' $(INSTALL_LIST)

# The package's maintainer: DEB_MAINTAINER='Name <mail>', else Debian's
# DEBFULLNAME and DEBEMAIL, else git's identity in this repository.
DEB_DIR := build/deb
deb: $(B)/tend
	@rm -rf $(DEB_DIR)/debian
	@scripts/install.sh install $(DEB_DIR)/debian/tend/usr $(INSTALL_LIST) \
	  >/dev/null
	@scripts/deb.sh $(DEB_DIR)

# The integration suite with its daemons under valgrind memcheck: every
# daemon must exit with zero leaks and zero errors (tests/integration
# checks the valgrind logs).
valgrind: tend
	@command -v valgrind >/dev/null || { echo "apt-get install valgrind"; exit 1; }
	TEND_BIN=$(abspath tend) TEND_VALGRIND=1 TEND_VARIANT=valgrind \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Static checks, at zero findings: the format (clang-format, .clang-format)
# and cppcheck's warning and performance checks. cppcheck reads jansson.h
# for its iteration macros; its preprocessor cannot expand the X-macro lists
# (X redefined per use), which the compiler checks anyway.
lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance \
	  --suppress=missingIncludeSystem --suppress=preprocessorErrorDirective \
	  --include=/usr/include/jansson.h -I. src runners watchers state ui

# clang's static analyzer over every source of the binary (and the asset
# embedder), at zero findings: a finding fails the goal and leaves its
# HTML report under build/analyze/report.
analyze:
	rm -rf build/analyze
	scan-build -o build/analyze/report --status-bugs \
	  $(MAKE) --no-print-directory -j$(JOBS) V=analyze build/analyze/tend

clean:
	rm -rf build tend tests/artifacts

FUZZ_SMOKE_SECONDS ?= 10
include tests/fuzz/fuzz.mk

-include $(shell find build -name '*.d' 2>/dev/null)

endif # DEPS_FIRST
