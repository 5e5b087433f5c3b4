# SPDX-License-Identifier: MIT
# phivault - one Makefile for the binary, the tests and the benchmarks.
#
#   make                 build ./phivault
#   make check           unit and known-answer tests (C, cmocka)
#   make check-fuse      integration tests on real FUSE mounts (needs root)
#   make test            everything the CI runs (see tests/run-all)
#   make bench           benchmarks against the anchors (bench/run)
#   make install         PREFIX=/usr/local DESTDIR= (binary, man pages,
#                        systemd units, bash completion, docs, examples)
#   make man             manual pages from man/*.scd (scdoc) into build/man
#   make deb             build/phivault_VERSION_ARCH.deb (packaging/deb)
#
# Switches: V=1 shows commands, DEVELOPER=1 adds strict warnings and
# -Werror, SANITIZE=address,undefined builds with sanitizers.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
SYSCONFDIR ?= /etc
DATADIR ?= $(PREFIX)/share
DOCDIR ?= $(DATADIR)/doc/phivault
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
SCDOC ?= scdoc
PKG_CONFIG ?= pkg-config

PKGS := fuse3 libcrypto libcurl libxxhash libzstd
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS += -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
CPPFLAGS += -I. -D_GNU_SOURCE -DFUSE_USE_VERSION=314
CPPFLAGS += $(shell $(PKG_CONFIG) --cflags $(PKGS))
LDFLAGS += -pie -Wl,-z,relro,-z,now
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS)) -largon2 -lpthread

ifeq ($(DEVELOPER),1)
CFLAGS += -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	  -Wpointer-arith -Wvla -Wdeclaration-after-statement -Wno-error=deprecated-declarations
endif
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifneq ($(V),1)
Q = @
QCC = @echo "  CC      $@";
QLD = @echo "  LD      $@";
endif

LIB_SRCS := $(wildcard common/*.c crypto/*.c fs/*.c backup/*.c policy/*.c)
TOOL_SRCS := $(wildcard tools/*.c)
LIB_OBJS := $(LIB_SRCS:.c=.o)
TOOL_OBJS := $(TOOL_SRCS:.c=.o)
UNIT_SRCS := $(wildcard tests/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:.c=)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:.c=)

all: phivault

libphv.a: $(LIB_OBJS)
	$(Q)$(AR) rcs $@ $^

phivault: $(TOOL_OBJS) libphv.a
	$(QLD)$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) libphv.a $(LDLIBS)

%.o: %.c
	$(QCC)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

tests/unit/%_test: tests/unit/%_test.c libphv.a
	$(QLD)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< libphv.a $(LDLIBS) -lcmocka

bench/%: bench/%.c
	$(QLD)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

unit: $(UNIT_BINS)

check: phivault $(UNIT_BINS)
	$(Q)fail=0; for t in $(UNIT_BINS); do ./$$t || fail=1; done; exit $$fail

check-fuse: phivault
	$(Q)tests/run-fuse

test: phivault $(UNIT_BINS) $(BENCH_BINS) tests/backup/s3tool
	$(Q)tests/run-all

bench: phivault $(BENCH_BINS)
	$(Q)bench/run

MAN_SRCS := $(wildcard man/*.scd)
MAN_PAGES := $(patsubst man/%.scd,build/man/%,$(MAN_SRCS))
UNITS := $(wildcard packaging/systemd/*.service packaging/systemd/*.timer)
DOCS := docs/CONFIG.md docs/OPERATIONS.md $(filter-out docs/CONFIG.md \
	docs/OPERATIONS.md,$(wildcard docs/*.md))

man: $(MAN_PAGES)

build/man/%: man/%.scd
	@mkdir -p build/man
	$(Q)$(SCDOC) < $< > $@

install: phivault man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSTEMDUNITDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)/examples
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/phivault
	install -m 0755 phivault $(DESTDIR)$(BINDIR)/phivault
	install -m 0644 $(filter %.1,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(UNITS) $(DESTDIR)$(SYSTEMDUNITDIR)/
	install -m 0644 packaging/bash-completion/phivault \
		$(DESTDIR)$(BASHCOMPDIR)/phivault
	install -m 0644 $(wildcard $(DOCS)) $(DESTDIR)$(DOCDIR)/
	install -m 0644 packaging/volume.conf.example \
		$(DESTDIR)$(DOCDIR)/examples/volume.conf
	install -m 0644 packaging/cron/phivault \
		$(DESTDIR)$(DOCDIR)/examples/cron.d-phivault

deb: phivault man
	$(Q)packaging/deb/build-deb

clean:
	$(RM) phivault libphv.a $(LIB_OBJS) $(TOOL_OBJS) $(UNIT_BINS) $(BENCH_BINS)
	$(RM) $(LIB_OBJS:.o=.d) $(TOOL_OBJS:.o=.d)

.PHONY: all unit check check-fuse test bench install clean man deb
-include $(LIB_OBJS:.o=.d) $(TOOL_OBJS:.o=.d)

# driver of backup/s3.h for tests/backup/test_s3.py
tests/backup/s3tool: tests/backup/s3tool.c libphv.a
	$(QLD)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< libphv.a $(LDLIBS)
