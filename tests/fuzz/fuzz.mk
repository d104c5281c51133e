# tests/fuzz/fuzz.mk: libFuzzer targets (issue 7), included by the root
# Makefile. Paths are relative to the repository root.
#
#   make fuzz         each target for FUZZ_SECONDS (default 600 s)
#   make fuzz-smoke   each target for FUZZ_SMOKE_SECONDS (default 20 s)
#   make fuzz-bins    only build build/fuzz/fuzz_*
#   make fuzz FUZZ_TARGETS="glob sse"   a subset
#
# The targets are built with clang (libFuzzer + ASan + UBSan) straight from
# the module sources each one needs, into build/fuzz/: never from
# build/*/libtend.a, which is gcc-built and not instrumented for coverage.
# Every name defined here starts with FUZZ_ or fuzz so that nothing clashes
# with the root Makefile, and the default goal is left as it was.

FUZZ__SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS       ?= config config_pos glob jsonl sse routes
FUZZ_B             := build/fuzz
FUZZ_SAN           := -fsanitize=address,undefined \
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Recursive (=): CFLAGS_BASE and LIBS are the root Makefile's, wherever
# this file is included.
FUZZ_CFLAGS         = $(CFLAGS_BASE) -O1 -g $(FUZZ_SAN)
FUZZ_LIBS           = $(LIBS)

# Every module source (as the root Makefile's LIB_SRCS: all of src/ runners/
# watchers/ state/ ui/ but main.c, plus the embedded UI) goes into one
# instrumented archive; the linker takes from it only what a harness needs,
# so a module that grows a dependency never needs an edit here. Fakes are
# listed per target and linked before the archive, so they win over the
# real modules (fuzz_routes runs against tests/fuzz/fake_door.c).
FUZZ_LIB_SRCS      := $(filter-out src/main.c,$(wildcard src/*.c runners/*.c \
                        watchers/*.c state/*.c ui/*.c)) build/gen/web_assets.c
FUZZ_LIB           := $(FUZZ_B)/libtend_fuzz.a
FUZZ_FAKES_routes  := tests/fuzz/fake_door.c

# build/gen/x.c -> build/fuzz/obj/gen/x.o; a/b.c -> build/fuzz/obj/a/b.o.
fuzz__obj = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(patsubst build/gen/%,gen/%,$(1)))

FUZZ_BINS := $(addprefix $(FUZZ_B)/fuzz_,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-smoke fuzz-bins

fuzz-bins: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BINS)
	tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

# Module objects get coverage instrumentation without libFuzzer's main().
# gcc is the build's gatekeeper for warnings: a clang-only warning in a
# module is shown but does not stop the fuzz build (the harnesses in
# tests/fuzz/ keep -Werror).
$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-error -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/obj/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/obj/gen/%.o: build/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-error -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(call fuzz__obj,$(FUZZ_LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^

# One binary per target: its harness, its fakes, then the archive.
define FUZZ__BIN_RULE
$(FUZZ_B)/fuzz_$(1): $(call fuzz__obj,tests/fuzz/fuzz_$(1).c \
                       $(FUZZ_FAKES_$(1))) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LIBS)
endef
$(foreach t,config config_pos glob jsonl sse routes,$(eval $(call FUZZ__BIN_RULE,$(t))))

.DEFAULT_GOAL := $(FUZZ__SAVED_GOAL)
