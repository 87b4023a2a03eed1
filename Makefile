# switchboard: the one entry point.
#
#   make            build everything (C17, -O2 -g, -Wall -Wextra -Werror)
#   make test       build and run the test suite (prove over t/)
#   make asan       the whole suite under AddressSanitizer + UBSan (build-asan/)
#   make fuzz       libFuzzer targets, a bounded run each (build-fuzz/)
#   make bench      micro-benchmarks and the load generator scenarios
#   make bench-compare  the same scenarios on switchboard, Prosody, ejabberd
#   make bench-scale    100,000 TLS sessions over several c2s, 10 minutes of traffic
#   make run        build and start a server for domain localhost
#   make deps       install missing Debian packages (apt-get, as root)
#   make install    PREFIX=/usr/local DESTDIR= (docs/OPERATING.md)
#   make clean
#
# Flags come from pkg-config through $(BUILD)/config.mk, which is made by
# running tools/deps.sh first: a fresh Debian 12 machine needs nothing else.

BUILD    ?= build
PREFIX   ?= /usr/local
# Where make install puts things. The configuration's data, run and log
# directories are written into the installed etc/*.xml as their defaults.
SBINDIR       ?= $(PREFIX)/sbin
SYSCONFDIR    ?= $(PREFIX)/etc
DATAROOTDIR   ?= $(PREFIX)/share
LOCALSTATEDIR ?= /var
RUNSTATEDIR   ?= /run
SYSTEMDDIR    ?= $(PREFIX)/lib/systemd/system
.DEFAULT_GOAL := all
.SECONDARY:
DESTDIR  ?=
CC       ?= cc
FUZZ_SECONDS ?= 60

PKGS := libxml-2.0 gnutls libsasl2 libpq libidn2 libuv sqlite3 libcares

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Wformat=2
OPT      ?= -O2 -g
ifeq ($(SANITIZE),1)
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
SAN_LDFLAGS := -fsanitize=address,undefined
endif
CFLAGS_ALL = -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -I. -Ilib -Istorage -It -I$(BUILD) $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lunistring $(LDLIBS)

# --- configuration: deps checked and installed, pkg-config flags captured ---
# Every run checks (cheaply) that nothing went missing since config.mk was
# made; if something did, config.mk is made again, which installs it.
NO_CONFIG_GOALS := clean distclean deps
ifneq ($(filter-out $(NO_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell tools/deps.sh --check >/dev/null 2>&1 || echo missing),)
$(shell rm -f $(BUILD)/config.mk)
endif
-include $(BUILD)/config.mk
endif

$(BUILD)/config.mk: tools/deps.sh
	@mkdir -p $(BUILD)
	@tools/deps.sh --check >/dev/null || tools/deps.sh
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS))"; } > $@.tmp && mv $@.tmp $@

# $(BUILD)/paths.h: where the programs look for their files by default
# (SYSCONFDIR). Rewritten only when it changes, so a make install with
# another PREFIX rebuilds what uses it, and nothing else.
PATHS_H := $(BUILD)/paths.h
$(shell mkdir -p $(BUILD) && \
  printf '/* made by the Makefile */\n#define SB_SYSCONFDIR "%s"\n' '$(SYSCONFDIR)' >$(PATHS_H).tmp && \
  { cmp -s $(PATHS_H).tmp $(PATHS_H) && rm -f $(PATHS_H).tmp || mv -f $(PATHS_H).tmp $(PATHS_H); })

# --- sources ---
LIB_SRC   := $(sort $(wildcard lib/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/libsb.a

# storage/: the API and drivers, with the SQL embedded from storage/sql and
# storage/schema by tools/sqlgen.sh.
DIALECTS  := sqlite pgsql
STORE_SRC := $(sort $(wildcard storage/*.c))
STORE_GEN := $(DIALECTS:%=$(BUILD)/storage/sql_%.c)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o) $(STORE_GEN:.c=.o)
STORE_A   := $(BUILD)/libsbstore.a

UNIT_SRC  := $(sort $(wildcard t/unit/*.c))
UNIT_BIN  := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%.t)

BENCH_SRC := $(sort $(wildcard tools/bench/*.c))
# A generator too big for one file is a directory: tools/bench/NAME/*.c.
# tools/bench/common/ is what the generators share, linked into each.
BENCH_DIRS := $(filter-out tools/bench/common,$(patsubst %/,%,$(sort $(dir $(wildcard tools/bench/*/*.c)))))
BENCH_BIN := $(BENCH_SRC:tools/bench/%.c=$(BUILD)/bench/%) $(BENCH_DIRS:tools/bench/%=$(BUILD)/bench/%)
BENCH_COMMON_SRC := $(sort $(wildcard tools/bench/common/*.c))
BENCH_A   := $(BUILD)/libbench.a

# sbctl, the admin command: tools/sbctl/*.c.
SBCTL_SRC := $(sort $(wildcard tools/sbctl/*.c))
SBCTL     := $(if $(SBCTL_SRC),$(BUILD)/sbctl)

# Server processes: each DIR/ with a main.c is built into $(BUILD)/sb-DIR.
PROC_DIRS := $(patsubst %/main.c,%,$(wildcard router/main.c c2s/main.c sm/main.c s2s/main.c muc/main.c))
PROC_BINS := $(PROC_DIRS:%=$(BUILD)/sb-%)

PROGS     := $(SBCTL) $(PROC_BINS)

.PHONY: all test asan fuzz bench bench-compare bench-scale run deps install clean distclean

all: $(LIB_A) $(STORE_A) $(PROGS) $(UNIT_BIN) $(BENCH_BIN)

$(BUILD)/%.o: %.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/storage/sql_%.c: storage/sql/%.sql storage/queries.h tools/sqlgen.sh \
		$(wildcard storage/schema/*/*.sql) | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	tools/sqlgen.sh $* $@

$(BUILD)/storage/sql_%.o: $(BUILD)/storage/sql_%.c
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(STORE_A): $(STORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/t/%.t: $(BUILD)/t/unit/%.o $(STORE_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BENCH_A): $(BENCH_COMMON_SRC:%.c=$(BUILD)/%.o)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bench/%: $(BUILD)/tools/bench/%.o $(BENCH_A) $(STORE_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

define BENCH_DIR_RULE
$(BUILD)/bench/$(notdir $(1)): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(BENCH_A) $(STORE_A) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN_LDFLAGS) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach d,$(BENCH_DIRS),$(eval $(call BENCH_DIR_RULE,$(d))))

$(BUILD)/sbctl: $(SBCTL_SRC:%.c=$(BUILD)/%.o) $(STORE_A) $(LIB_A)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# One link rule per process directory.
define PROC_RULE
$(BUILD)/sb-$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(STORE_A) $(LIB_A)
	$$(CC) $$(SAN_LDFLAGS) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach d,$(PROC_DIRS),$(eval $(call PROC_RULE,$(d))))

# A unit test t/unit/PROC_NAME.c also links PROC/'s objects but its main.o,
# so a process's internals are tested without sockets.
PROC_ALL  := router c2s sm s2s muc
define PROC_TEST_RULE
$(BUILD)/t/$(1)_%.t: $(BUILD)/t/unit/$(1)_%.o $(filter-out $(BUILD)/$(1)/main.o,$(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c))) $(STORE_A) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(SAN_LDFLAGS) -o $$@ $$^ $$(LDLIBS_ALL)
endef
$(foreach d,$(PROC_ALL),$(eval $(call PROC_TEST_RULE,$(d))))

-include $(SBCTL_SRC:%.c=$(BUILD)/%.d) $(LIB_OBJ:.o=.d) \
	$(patsubst %.c,$(BUILD)/%.d,$(foreach d,$(PROC_ALL),$(wildcard $(d)/*.c))) $(STORE_OBJ:.o=.d) $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/unit/%.d) \
	$(patsubst %.c,$(BUILD)/%.d,$(BENCH_SRC) $(BENCH_COMMON_SRC) $(foreach d,$(BENCH_DIRS),$(wildcard $(d)/*.c)))

# --- tests ---
# C unit tests are binaries in $(BUILD)/t; protocol tests are scripts t/*.t.
# Each test finds the tree through SB_SRC and the binaries through SB_BUILD.
PROVE_JOBS ?= 2
test: all
	SB_SRC=$(CURDIR) SB_BUILD=$(abspath $(BUILD)) \
	  prove --source Executable -j$(PROVE_JOBS) $(BUILD)/t/ $(wildcard t/*.t)

asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 test \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# --- fuzzing: clang + libFuzzer, a bounded run per target ---
FUZZ_SRC  := $(sort $(wildcard t/fuzz/*.c))
FUZZ_NAMES := $(FUZZ_SRC:t/fuzz/%.c=%)
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -I. -Ilib -Istorage $(PKG_CFLAGS) \
              -fsanitize=fuzzer-no-link,address,undefined
fuzz: $(BUILD)/config.mk
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined" \
	  build-fuzz/libsb.a build-fuzz/libsbstore.a $(FUZZ_NAMES:%=build-fuzz/fuzz/%)
	@set -e; for f in $(FUZZ_NAMES); do \
	  mkdir -p build-fuzz/corpus/$$f; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
	  build-fuzz/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 build-fuzz/corpus/$$f t/fuzz/$$f 2>build-fuzz/$$f.log \
	    || { tail -50 build-fuzz/$$f.log; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|Done)' build-fuzz/$$f.log || true; \
	done

build-fuzz/fuzz/%: t/fuzz/%.c build-fuzz/libsb.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< build-fuzz/libsb.a -o $@ $(LDLIBS_ALL)

# A target named c2s_*.c fuzzes c2s internals: it links c2s's objects but main.o.
build-fuzz/fuzz/c2s_%: t/fuzz/c2s_%.c $(filter-out build-fuzz/c2s/main.o,$(patsubst %.c,build-fuzz/%.o,$(wildcard c2s/*.c))) build-fuzz/libsbstore.a build-fuzz/libsb.a
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS_ALL)

# --- benchmarks (never timed in tests) ---
bench: all
	@for b in $(filter $(BUILD)/bench/micro_%,$(BENCH_BIN)); do echo "== $$b"; $$b || exit 1; done
	@if [ -x $(BUILD)/sb-router ]; then echo "== router forwarding (tools/bench/router.sh)"; \
	  bash tools/bench/router.sh $(BUILD) || exit 1; fi
	@if [ -x $(BUILD)/sb-c2s ]; then echo "== c2s logins (tools/bench/login.sh)"; \
	  bash tools/bench/login.sh $(BUILD) || exit 1; fi
	@if [ -x "$${SB_SM_BIN:-$(BUILD)/sb-sm}" ]; then \
	  echo "== messages, client to client (tools/bench/messages.sh)"; \
	  bash tools/bench/messages.sh $(BUILD) || exit 1; fi
	@if [ -x $(BUILD)/sb-s2s ]; then \
	  echo "== messages across federation, two servers (tools/bench/federation.sh)"; \
	  bash tools/bench/federation.sh $(BUILD) || exit 1; fi
	@echo "== the issue 9 scenarios on switchboard alone (tools/bench/compare.sh)"
	@SERVERS=switchboard bash tools/bench/compare.sh $(BUILD)
	@echo "== $(BUILD)/bench/micro_storage on PostgreSQL (a throwaway server)"
	@d=$$(mktemp -d /tmp/sb-bench-pg-XXXXXX); \
	if ci=$$(t/lib/pgserver.sh start $$d 2>/dev/null); then \
	  $(BUILD)/bench/micro_storage "pgsql:$$ci"; st=$$?; \
	  t/lib/pgserver.sh stop $$d >/dev/null 2>&1; exit $$st; \
	else echo "PostgreSQL not available: skipped"; rm -rf $$d; fi

# make bench-compare: the same scenarios against switchboard, Prosody and
# ejabberd (Debian's), one after the other, and the ratios issue 9 targets.
bench-compare: all
	bash tools/bench/compare.sh $(BUILD)

# make bench-scale: issue 9's scale run, not part of make bench: 100,000
# TLS sessions over several c2s processes, one-to-one traffic for 10
# minutes, no errors, and whether the server's memory stays flat
# (tools/bench/scale.sh). It takes the machine for about 15 minutes.
bench-scale: all
	bash tools/bench/scale.sh $(BUILD)

# --- running ---
# make run: the configuration in etc/ as it is, the data in ./var: sbctl
# setup makes what is missing (component secret, self-signed certificate,
# database), then the supervisor runs every process in the foreground.
run: all
	@$(BUILD)/sbctl -c etc/switchboard.xml setup
	@echo "make run: accounts: $(BUILD)/sbctl -c etc/switchboard.xml adduser alice@localhost"
	@echo "make run: clients connect to localhost port 5222 (STARTTLS) or 5223 (TLS); Ctrl-C stops"
	@exec $(BUILD)/sbctl -c etc/switchboard.xml start --foreground

deps:
	tools/deps.sh

# make install: programs, configuration (kept when already there: the new
# one lands beside it as NAME.dist), systemd units, schema files, docs.
CONFDIR  := $(SYSCONFDIR)/switchboard
DATADIR  := $(LOCALSTATEDIR)/lib/switchboard
SUBST    := sed -e 's|$${SB_DATA_DIR:-../var}|$${SB_DATA_DIR:-$(DATADIR)}|g' \
	        -e 's|$${SB_RUN_DIR:-../var/run}|$${SB_RUN_DIR:-$(RUNSTATEDIR)/switchboard}|g' \
	        -e 's|$${SB_LOG_DIR:-../var/log}|$${SB_LOG_DIR:-$(LOCALSTATEDIR)/log/switchboard}|g' \
	        -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' \
	        -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@RUNDIR@|$(RUNSTATEDIR)/switchboard|g' \
	        -e 's|@LOGDIR@|$(LOCALSTATEDIR)/log/switchboard|g' \
	        -e 's|@DOCDIR@|$(DATAROOTDIR)/doc/switchboard|g'
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(SYSTEMDDIR) \
	  $(DESTDIR)$(DATAROOTDIR)/switchboard/schema $(DESTDIR)$(DATAROOTDIR)/doc/switchboard
	install -m 755 $(PROGS) $(DESTDIR)$(SBINDIR)/
	@set -e; for f in etc/*.xml; do \
	  b=$$(basename $$f); t=$(DESTDIR)$(CONFDIR)/$$b; \
	  if [ -e $$t ]; then t=$$t.dist; echo "install: $(CONFDIR)/$$b exists: the new one is $$b.dist"; fi; \
	  $(SUBST) $$f >$$t.tmp && chmod 644 $$t.tmp && mv $$t.tmp $$t; \
	done
	@set -e; for f in etc/systemd/*; do \
	  $(SUBST) $$f >$(DESTDIR)$(SYSTEMDDIR)/$$(basename $$f); \
	  chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$$(basename $$f); \
	done
	cp -r storage/schema/. $(DESTDIR)$(DATAROOTDIR)/switchboard/schema/
	install -m 644 README.md docs/*.md $(DESTDIR)$(DATAROOTDIR)/doc/switchboard/

clean:
	rm -rf $(BUILD) build-asan build-fuzz

distclean: clean
