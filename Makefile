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

# The version --version prints is the pkgsmith package's (its changelog's
# top entry, without the Debian revision): one place for both.
PS_VERSION := $(shell sed -n '1s/^pkgsmith (\([^)-]*\).*/\1/p' packaging/pkgsmith/debian/changelog)
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
# The library is one folder per subsystem (src/lib/README draws the layers);
# every folder is on the include path, so an #include names only the header.
LIB_DIRS := core build repo mirror bundle
LIB_INC  := $(addprefix -Isrc/lib/,$(LIB_DIRS))
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE -DPS_VERSION='"$(PS_VERSION)"' $(WARN) $(CFLAGS) $(SAN) $(PKG_CFLAGS) $(LIB_INC) -MMD -MP
ALL_CXXFLAGS = -std=c++17 $(WARN) $(CXXFLAGS) $(SAN) $(PKG_CFLAGS) $(LIB_INC) -MMD -MP
# --as-needed: every library we do not call costs start-up time.
LDFLAGS_ALL  = $(SAN) -Wl,--as-needed $(LDFLAGS)

LIB_C    := $(foreach d,$(LIB_DIRS),$(wildcard src/lib/$(d)/*.c))
LIB_CXX  := $(foreach d,$(LIB_DIRS),$(wildcard src/lib/$(d)/*.cc))
CLI_C    := $(wildcard src/cli/*.c)
LIB_OBJ  := $(LIB_C:src/%.c=$(BUILD)/%.o) $(LIB_CXX:src/%.cc=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_C:src/%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/libpkgsmith.a
TOOL     := $(BUILD)/pkgsmith
# Unit tests mirror the library's folders (tests/unit/<folder>/test_*.c);
# the binaries stay flat in $(BUILD)/tests/, where tests/run looks.
UNIT_SRC := $(foreach d,$(LIB_DIRS),$(wildcard tests/unit/$(d)/test_*.c))
UNIT_BIN := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(UNIT_SRC))))

# libFuzzer harnesses (tests/fuzz/): the library again, built by clang with
# coverage instrumentation and ASan+UBSan.
FUZZ_CC    ?= clang
FUZZ_CXX   ?= clang++
FUZZ_BUILD := build/fuzz
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJ   := $(LIB_C:src/%.c=$(FUZZ_BUILD)/%.o) $(LIB_CXX:src/%.cc=$(FUZZ_BUILD)/%.o)
FUZZ_SECONDS ?= 60

OUT      ?= out
PKGSMITH_SIGNING_KEY ?=

.PHONY: all deps test-deps tool packages check unit e2e bench clean lint release fuzz man install
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

# vpath finds tests/unit/<folder>/test_X.c for $(BUILD)/tests/test_X.
vpath test_%.c $(addprefix tests/unit/,$(LIB_DIRS))
$(BUILD)/tests/%: %.c tests/unit/testutil.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIBA) $(LDFLAGS_ALL) $(PKG_LIBS) -lcmocka -lstdc++

# The signed packages of this repository.  Without PKGSMITH_SIGNING_KEY a
# development key is made (once) in $(OUT)/gnupg.
# pkgsmith's own package (packaging/pkgsmith/) packs what `make install`
# puts into $(BUILD)/pkgroot, so both install the same files.
packages: bin/pkgsmith
	@rm -rf $(BUILD)/pkgroot
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(BUILD)/pkgroot) PREFIX=/usr >/dev/null
	@scripts/build-packages "$(OUT)" bin/pkgsmith "$(PKGSMITH_SIGNING_KEY)" "$(BUILD)/pkgroot"

# Test programs that drive one library module from the shell
# (tests/tools/NAME.c -> $(BUILD)/tools/NAME): the e2e
# tests find them beside $(TOOL).
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
$(BUILD)/tools/%: tests/tools/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDFLAGS_ALL) $(PKG_LIBS) -lstdc++

check: test-deps $(TOOL) $(UNIT_BIN) $(FUZZ_BIN) $(TEST_TOOLS)
	@PKGSMITH="$(abspath $(TOOL))" UNIT_DIR="$(abspath $(BUILD)/tests)" \
	  FUZZ_DIR="$(abspath $(FUZZ_BUILD))" SANITIZE="$(SANITIZE)" tests/run

# Every harness for FUZZ_SECONDS each (`make check` gives each a short
# smoke run); new inputs land in build/fuzz/corpus/, crashes in build/fuzz/.
fuzz: test-deps $(FUZZ_BIN)
	@tests/fuzz/run "$(abspath $(FUZZ_BUILD))" "$(FUZZ_SECONDS)"

$(FUZZ_BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) $(LIB_INC) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/%.o: src/%.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) -std=c++17 $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) $(LIB_INC) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/libpkgsmith.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $(FUZZ_OBJ)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libpkgsmith.a
	$(FUZZ_CXX) -x c -std=c11 -D_GNU_SOURCE $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer $(PKG_CFLAGS) $(LIB_INC) -c -o $@.o $<
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $@.o $(FUZZ_BUILD)/libpkgsmith.a $(PKG_LIBS)

unit: $(UNIT_BIN)

# Man pages: pkgsmith(1) and pkgsmith-CMD(1) for every command `pkgsmith
# --help` lists, written by pkgsmith itself from the option tables its
# parser and --help use; the two file formats' pages (section 5) are kept
# beside their parsers.  The bash completion is written from the same
# --help output (scripts/gen-completion).
MAN5 := src/lib/mirror/pkgsmith.mirror.5 src/lib/repo/pkgsmith-repo.conf.5
man: $(TOOL)
	@rm -rf $(BUILD)/man && mkdir -p $(BUILD)/man
	@$(TOOL) help --man >$(BUILD)/man/pkgsmith.1
	@for c in $$($(TOOL) --help | sed -n 's/^   \([a-z]*\) .*/\1/p' | grep -vx help); do \
	  $(TOOL) help --man $$c >$(BUILD)/man/pkgsmith-$$c.1 || exit 1; done
	@cp $(MAN5) $(BUILD)/man/
	@scripts/gen-completion $(TOOL) >$(BUILD)/pkgsmith.bash-completion
	@ls $(BUILD)/man/*

# `make install DESTDIR=... PREFIX=...`: the files of the pkgsmith package
# (packaging/pkgsmith/ packs exactly this tree).  Everything in repo-tools/
# is installed by directory: systemd units, the nginx site and snippet
# (sites-available, not enabled), the mirror examples, and any other
# folder (e.g. Prometheus alert rules) under $(PREFIX)/share/pkgsmith/.
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
DOCDIR     ?= $(PREFIX)/share/doc/pkgsmith
install: man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)$(SYSCONFDIR)/nginx/sites-available $(DESTDIR)$(SYSCONFDIR)/nginx/snippets \
	  $(DESTDIR)$(DOCDIR)/examples/mirrors.d
	install -m 0755 -s $(TOOL) $(DESTDIR)$(PREFIX)/bin/pkgsmith
	for m in $(BUILD)/man/*.1 $(BUILD)/man/*.5; do s=$${m##*.}; \
	  gzip -9n <$$m >$(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}.gz || exit 1; chmod 0644 $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}.gz; done
	install -m 0644 $(BUILD)/pkgsmith.bash-completion $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pkgsmith
	install -m 0644 repo-tools/systemd/* $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 repo-tools/nginx/pkgsmith-repo.conf $(DESTDIR)$(SYSCONFDIR)/nginx/sites-available/
	install -m 0644 repo-tools/nginx/pkgsmith-repo-locations.conf $(DESTDIR)$(SYSCONFDIR)/nginx/snippets/
	install -m 0644 repo-tools/mirrors.d/* $(DESTDIR)$(DOCDIR)/examples/mirrors.d/
	for d in repo-tools/*/; do d=$${d%/}; case $${d##*/} in systemd|nginx|mirrors.d) continue ;; esac; \
	  install -d $(DESTDIR)$(PREFIX)/share/pkgsmith/$${d##*/} && \
	  install -m 0644 $$d/* $(DESTDIR)$(PREFIX)/share/pkgsmith/$${d##*/}/ || exit 1; done

# The release pipeline (ci/release --help): RELEASE_ARGS="--env all" etc.
release:
	@ci/release $(RELEASE_ARGS)

bench: deps test-deps bin/pkgsmith
	@bench/build
	@bench/repo
	@bench/mirror
	@bench/bundle

# check-layers: no file of src/ includes a header of a layer above its own.
lint:
	scripts/check-layers
	shellcheck -s sh -x scripts/* ci/release ci/smoke-test tests/run tests/fuzz/run tests/e2e/*.sh tests/lib/*.sh bench/build bench/repo bench/mirror bench/bundle \
	  package/alloy-journal-loki-configure debian/postinst debian/prerm debian/postrm \
	  debian/config packaging/pkgsmith/debian/postinst packaging/pkgsmith/debian/postrm tests/fixtures/alloy/files/*.sh tests/fixtures/alloy/files/alloy.in \
	  tests/fixtures/alloy/debian/postinst tests/fixtures/alloy/debian/prerm

clean:
	rm -rf build bin $(OUT)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
