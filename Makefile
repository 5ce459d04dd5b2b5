# pkgsmith - see README.md.  `make` builds the tool and the signed packages;
# `make check` runs every test; `make check SANITIZE=1` does so under
# ASan+UBSan; `make bench` measures against dpkg-deb and rpmbuild.

CC       ?= cc
CXX      ?= g++
PKG_MODS := libarchive rpm gpgme apt-pkg glib-2.0 libxml-2.0 libcurl
# Dependencies are installed by scripts/install-deps (run by `make`), so
# pkg-config may be absent when this file is first read: hence the `-`.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKG_MODS) 2>/dev/null)
# createrepo_c.pc has an empty -L that would swallow the next flag: name
# the library ourselves.
PKG_LIBS   = -lcreaterepo_c $(shell pkg-config --libs $(PKG_MODS) 2>/dev/null) -lrpmbuild -lrpmsign

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
CXXFLAGS ?= -O2 -g
ifeq ($(SANITIZE),1)
BUILD    := build/san
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    := build/rel
SAN      :=
endif
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) $(PKG_CFLAGS) -Isrc/lib -MMD -MP
ALL_CXXFLAGS = -std=c++17 $(WARN) $(CXXFLAGS) $(SAN) $(PKG_CFLAGS) -Isrc/lib -MMD -MP
# --as-needed: every library we do not call costs start-up time.
LDFLAGS_ALL  = $(SAN) -Wl,--as-needed $(LDFLAGS)

LIB_C    := $(wildcard src/lib/*.c)
LIB_CXX  := $(wildcard src/lib/*.cc)
CLI_C    := $(wildcard src/cli/*.c)
LIB_OBJ  := $(LIB_C:src/%.c=$(BUILD)/%.o) $(LIB_CXX:src/%.cc=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_C:src/%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/libpkgsmith.a
TOOL     := $(BUILD)/pkgsmith
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

OUT      ?= out
PKGSMITH_SIGNING_KEY ?=

.PHONY: all deps test-deps tool packages check unit e2e bench clean lint release
all: deps tool packages

deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps test

tool: bin/pkgsmith

bin/pkgsmith: $(TOOL)
	@mkdir -p bin
	cp $(TOOL) $@

$(TOOL): $(CLI_OBJ) $(LIBA)
	$(CXX) -o $@ $(CLI_OBJ) $(LIBA) $(LDFLAGS_ALL) $(PKG_LIBS)

$(LIBA): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/%.o: src/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS_ALL) $(PKG_LIBS) -lcmocka -lstdc++

# The signed packages of this repository.  Without PKGSMITH_SIGNING_KEY a
# development key is made (once) in $(OUT)/gnupg.
packages: bin/pkgsmith
	@scripts/build-packages "$(OUT)" bin/pkgsmith "$(PKGSMITH_SIGNING_KEY)"

check: test-deps $(TOOL) $(UNIT_BIN)
	@PKGSMITH="$(abspath $(TOOL))" UNIT_DIR="$(abspath $(BUILD)/tests)" \
	  SANITIZE="$(SANITIZE)" tests/run

unit: $(UNIT_BIN)

# The release pipeline (ci/release --help): RELEASE_ARGS="--env all" etc.
release:
	@ci/release $(RELEASE_ARGS)

bench: deps test-deps bin/pkgsmith
	@bench/build
	@bench/repo
	@bench/mirror
	@bench/bundle

lint:
	shellcheck -s sh -x scripts/* ci/release ci/smoke-test tests/run tests/e2e/*.sh tests/lib/*.sh bench/build bench/repo bench/mirror bench/bundle \
	  package/alloy-journal-loki-configure debian/postinst debian/prerm debian/postrm \
	  debian/config tests/fixtures/alloy/files/*.sh tests/fixtures/alloy/files/alloy.in \
	  tests/fixtures/alloy/debian/postinst tests/fixtures/alloy/debian/prerm

clean:
	rm -rf build bin $(OUT)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
