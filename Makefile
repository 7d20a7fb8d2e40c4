# muxlab. `make` builds the tools, `make test` runs every suite (normal and
# ASan+UBSan builds), `make bench` runs the benchmark. V=1 shows commands.
CC      ?= cc
WARN    := -Wall -Wextra -Werror
BASE    := -std=gnu11 -D_GNU_SOURCE -g -Iinclude -MMD -MP $(WARN)
OPT     := -O2 -D_FORTIFY_SOURCE=2
ifeq ($(PROFILE),1)
OPT     += -fno-omit-frame-pointer
endif
SAN     := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
export UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1
# Tests run under `timeout` as a hang guard only; sanitizers make them slower.
GUARD   := timeout 900

ifneq ($(V),1)
Q := @
endif

.DELETE_ON_ERROR:
.PHONY: all test test-deps bench-deps check check-san clang-check test-extras fuzz fuzz-smoke valgrind bench bench-smoke profile clean \
	install uninstall man man-deps demo

# The io_uring backends are built when liburing links (Debian liburing-dev;
# make test and make bench install it as root); their files hold #ifdef HAVE_LIBURING.
HAVE_LIBURING := $(shell printf '\043include <liburing.h>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -luring -o /dev/null 2>/dev/null && echo 1)
CONFIG_FLAGS  := $(if $(HAVE_LIBURING),-DHAVE_LIBURING)
URING_LIBS    := $(if $(HAVE_LIBURING),-luring)
BASE     += $(CONFIG_FLAGS)

# muxload writes HdrHistogram's compressed logs with zlib (Debian zlib1g-dev; make test and make bench install it as root).
HAVE_ZLIB := $(shell printf '\043include <zlib.h>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -lz -o /dev/null 2>/dev/null && echo 1)

# The programs, each built from its folder: a new file there needs no edit here.
COMMON   := src/common/cli.c src/common/fdlimit.c src/common/grow.c src/common/uring_ring.c src/common/version.c
CORE     := $(wildcard src/mux/*.c) $(COMMON)
SERVER   := $(CORE) $(wildcard src/server/*.c)
LOAD     := $(COMMON) src/common/hist.c src/common/hist_codec.c src/common/hlog.c $(wildcard src/load/*.c)
TESTS    := test_mux test_server test_models test_hazards test_hist test_load test_hlog test_http test_dispatch

# muxdispatch compiles its peers in when their libraries are found (libev ships no .pc file).
HAVE_LIBEVENT := $(shell pkg-config --exists libevent 2>/dev/null && echo 1)
HAVE_LIBEV    := $(shell printf '\043include <ev.h>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -lev -o /dev/null 2>/dev/null && echo 1)
DISPATCH_FLAGS := $(if $(HAVE_LIBEVENT),-DHAVE_LIBEVENT) $(if $(HAVE_LIBEV),-DHAVE_LIBEV)
PEERS    := src/dispatch/dispatch_libevent.c src/dispatch/dispatch_libev.c
DISPATCH := $(CORE) $(filter-out $(PEERS),$(wildcard src/dispatch/*.c)) \
	$(if $(HAVE_LIBEVENT),src/dispatch/dispatch_libevent.c) $(if $(HAVE_LIBEV),src/dispatch/dispatch_libev.c)
DISPATCH_LIBS := $(if $(HAVE_LIBEVENT),$(shell pkg-config --libs libevent)) $(if $(HAVE_LIBEV),-lev) -lm

# What each binary is made of; the suites find the tools of their own tree at run time.
muxserver_SRC     := $(SERVER)
muxload_SRC       := $(LOAD)
muxdispatch_SRC   := $(DISPATCH)
fakeecho_SRC      := tests/load/fakeecho.c
test_mux_SRC      := tests/mux/test_mux.c tests/testutil.c $(CORE)
test_server_SRC   := tests/server/test_server.c tests/testutil.c $(CORE)
test_hazards_SRC  := tests/server/test_hazards.c tests/testutil.c $(CORE)
test_models_SRC   := tests/server/test_models.c tests/testutil.c $(CORE)
test_http_SRC     := tests/server/test_http.c src/server/proto_http.c src/server/proto_sockperf.c
test_hist_SRC     := tests/common/test_hist.c tests/testutil.c src/common/hist.c $(CORE)
test_load_SRC     := tests/load/test_load.c tests/testutil.c $(CORE)
test_hlog_SRC     := tests/load/test_hlog.c tests/testutil.c src/common/hist.c src/common/hist_codec.c \
	src/common/hlog.c $(CORE)
test_dispatch_SRC := tests/dispatch/test_dispatch.c tests/testutil.c $(CORE)
PROGS    := muxserver muxload muxdispatch fakeecho $(TESTS)

all: build/muxserver build/muxload build/pingpong build/muxdispatch
	@$(if $(HAVE_LIBURING),,echo "muxlab: liburing not found: the io_uring backends are left out (apt-get install liburing-dev)")

# Two trees from one set of rules: build/ (-O2) and build/san/ (ASan+UBSan).
TREES := build build/san
tree_flags = $(if $(findstring build/san/,$@),$(SAN),$(OPT))
objs = $(patsubst %.c,$(1)/%.o,$(2))

define compile_rule
$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  $(2) $$@")
	$$(Q)$$(CC) $$(BASE) $$(tree_flags) $$(CFLAGS) -c -o $$@ $$<
endef
$(eval $(call compile_rule,build,CC     ))
$(eval $(call compile_rule,build/san,CC-SAN ))
$(foreach t,$(TREES),$(foreach p,$(PROGS),$(eval $(t)/$(p): $$(call objs,$(t),$$($(p)_SRC)))))
build/pingpong: build/bench/pingpong.o

LINK = $(CC) $(BASE) $(tree_flags) $(CFLAGS) -o $@ $^
$(foreach t,$(TREES),$(t)/muxserver $(t)/muxload $(t)/fakeecho) build/pingpong:
	@$(if $(HAVE_ZLIB),,$(if $(findstring muxload,$@),echo "muxload needs zlib: apt-get install zlib1g-dev" >&2; exit 1))
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LINK) $(URING_LIBS) -lpthread -lm $(if $(findstring muxload,$@),-lz) $(LDFLAGS)

$(foreach t,$(TREES),$(addprefix $(t)/,$(TESTS))):
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LINK) $(URING_LIBS) -lcmocka -lm $(if $(findstring test_hlog,$@),-lz) $(LDFLAGS)

# The release; --version adds what git says of the tree it was built from (nothing outside git).
VERSION     := 0.9.0
# Only this tree's own git: a tarball unpacked inside another repository must not take its commit.
GIT_DESCRIBE := $(shell [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$(CURDIR)" ] && \
	git describe --always --dirty 2>/dev/null)
VERSION_STRING := $(VERSION)$(if $(GIT_DESCRIBE), (git $(GIT_DESCRIBE)))
build/version.flags: FORCE
	@mkdir -p build; echo '$(VERSION_STRING)' | cmp -s - $@ || echo '$(VERSION_STRING)' > $@
$(foreach t,$(TREES),$(t)/src/common/version.o): build/version.flags
# override: a CFLAGS given on the command line (a packager's) must not drop the definition.
$(foreach t,$(TREES),$(t)/src/common/version.o): override CFLAGS += -DMUXLAB_VERSION='"$(VERSION_STRING)"'

# Everything is rebuilt when liburing appears or goes (the registry and the server read HAVE_LIBURING).
build/config.flags: FORCE
	@mkdir -p build; echo '$(CONFIG_FLAGS)' | cmp -s - $@ || echo '$(CONFIG_FLAGS)' > $@
$(foreach t,$(TREES),$(call objs,$(t),$(sort $(SERVER) $(LOAD) $(DISPATCH) $(PEERS) $(wildcard tests/*.c tests/*/*.c)))): build/config.flags

# Rebuild muxdispatch.o when the peers found change (e.g. after make bench installed them).
build/dispatch.flags: FORCE
	@mkdir -p build; echo '$(DISPATCH_FLAGS)' | cmp -s - $@ || echo '$(DISPATCH_FLAGS)' > $@
$(foreach t,$(TREES),$(t)/src/dispatch/muxdispatch.o): build/dispatch.flags
$(foreach t,$(TREES),$(t)/src/dispatch/muxdispatch.o): override CFLAGS += $(DISPATCH_FLAGS)
$(foreach t,$(TREES),$(t)/muxdispatch):
	@$(if $(HAVE_LIBEVENT),,echo "muxdispatch: libevent not found: its backends are left out (apt-get install libevent-dev)")
	@$(if $(HAVE_LIBEV),,echo "muxdispatch: libev not found: its backends are left out (apt-get install libev-dev)")
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(LINK) $(URING_LIBS) $(DISPATCH_LIBS) $(LDFLAGS)
FORCE:

# An LD_PRELOAD shim in which epoll cannot be created: --list-backends must say FAILED.
build/noepoll.so: tests/server/noepoll.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(BASE)) -O2 -shared -fPIC -o $@ $<
# A seccomp wrapper under which io_uring_setup fails as with kernel.io_uring_disabled=2.
build/nouring: tests/server/nouring.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -MMD -MP,$(BASE)) -O2 -o $@ $<

# Everything make test uses, installed (as root) before the first suite: the
# suites, the fuzz targets (clang) and the bench smoke (gnuplot, taskset).
# Without root, missing optional packages only skip what is named after '@'.
TEST_NEEDS := lib:cmocka.h:cmocka:libcmocka-dev lib:zlib.h:z:zlib1g-dev cmd:gnuplot:gnuplot-nox cmd:taskset:util-linux \
	--optional cmd:wrk:wrk@test_server/http_wrk_and_ab cmd:ab:apache2-utils@test_server/http_wrk_and_ab \
	cmd:sockperf:sockperf@test_server/sockperf_ping_pong_and_under_load \
	lib:event2/event.h:event:libevent-dev@test_dispatch/libevent-rows \
	lib:ev.h:ev:libev-dev@test_dispatch/libev-rows \
	lib:liburing.h:uring:liburing-dev@io_uring-backends \
	cmd:clang:clang@fuzz-smoke-and-clang-check \
	cmd:java:default-jre-headless@test_hlog/HdrHistogram-Java-checks \
	file:/usr/share/java/hdrhistogram.jar:libhdrhistogram-java@test_hlog/HdrHistogram-Java-checks \
	cmd:pdsh:pdsh@bench-hosts cmd:ip:iproute2@bench-hosts cmd:tc:iproute2@bench-hosts \
	cmd:help2man:help2man@install cmd:mandoc:mandoc@install
test-deps:
	$(Q)CC=$(CC) bench/need.sh $(TEST_NEEDS)

bench-deps:
	$(Q)CC=$(CC) bench/need.sh lib:zlib.h:z:zlib1g-dev cmd:gnuplot:gnuplot-nox cmd:taskset:util-linux --optional \
		cmd:wrk:wrk@nginx-comparison cmd:nginx:nginx-light@nginx-comparison \
		cmd:sockperf:sockperf@sockperf-comparison cmd:ab:apache2-utils \
		lib:event2/event.h:event:libevent-dev@libevent-dispatch-rows lib:ev.h:ev:libev-dev@libev-dispatch-rows \
		lib:liburing.h:uring:liburing-dev@io_uring-backends

# Each suite finds the server binary of its own tree through MUXSERVER.
# muxdispatch is built by a fresh make so that peers test-deps just installed are found.
# Every suite runs even after one fails; tests/suite.sh records its counts in
# $(TALLY) and `make test` ends with tests/summary.sh's one closing line.
TALLY := build/tally.txt
SUITE = tests/suite.sh $(TALLY)
check: test-deps $(addprefix build/,muxserver muxload fakeecho noepoll.so nouring $(TESTS))
	$(Q)$(MAKE) -s build/muxdispatch
	$(Q)rc=0; for t in $(TESTS); do echo "== $$t"; \
		MUXSERVER=build/muxserver MUXLOAD=build/muxload FAKEECHO=build/fakeecho MUXDISPATCH=build/muxdispatch \
		NOEPOLL_SO=build/noepoll.so NOURING=build/nouring $(SUITE) $$t $(GUARD) build/$$t || rc=1; done; exit $$rc

# Under ASan+UBSan the contract suite runs every backend; the suites that run
# the server run one per code path of the server (level-triggered, edge-
# triggered, io_uring readiness, io_uring completions): select and poll reach
# the server exactly as epoll does, and their own files are in the contract
# suite; muxload's suite, whose code under test is the client's, runs against
# one of each loop. That keeps make test under 10 minutes on 2 cores.
SAN_SERVER_BACKENDS := epoll,epoll-et,uring-poll,uring
SAN_LOAD_BACKENDS   := epoll,uring
# The models suite under ASan+UBSan: one variant per code path (a process or thread per
# client, each pool with its own accept variant, the loop), and 2000 connections for the zombie count.
SAN_MODELS := reactor-workers,iterative,fork,thread,prefork-flock,prethread-main
check-san: test-deps $(addprefix build/san/,muxserver muxload fakeecho $(TESTS)) build/noepoll.so build/nouring
	$(Q)$(MAKE) -s build/san/muxdispatch
	$(Q)rc=0; for t in $(TESTS); do echo "== $$t (ASan+UBSan)"; \
		case $$t in test_server|test_hazards) only=$(SAN_SERVER_BACKENDS) ;; \
			test_load) only=$(SAN_LOAD_BACKENDS) ;; *) only= ;; esac; \
		MUX_MODELS=$${MUX_MODELS:-$(SAN_MODELS)} MODELS_CONNECTIONS=2000 \
		MUX_BACKENDS=$${MUX_BACKENDS:-$$only} MUXSERVER=build/san/muxserver MUXLOAD=build/san/muxload FAKEECHO=build/san/fakeecho \
		MUXDISPATCH=build/san/muxdispatch NOEPOLL_SO=build/noepoll.so NOURING=build/nouring \
		$(SUITE) $$t-san $(GUARD) build/san/$$t || rc=1; done; exit $$rc

# -Wall -Wextra -Werror under clang as well as gcc: every source, compiled but not linked.
CLANG_CHECK := $(sort $(SERVER) $(LOAD) $(DISPATCH) $(PEERS) $(wildcard tests/*.c tests/*/*.c) bench/pingpong.c)
clang-check:
	$(Q)if command -v clang >/dev/null 2>&1; then \
		clang $(filter-out -MMD -MP,$(BASE)) $(OPT) -fsyntax-only $(CLANG_CHECK) && echo "clang-check: 1 passed, 0 failed"; \
	else echo "  skipped: clang not installed (apt-get install clang)"; echo "clang-check: 0 passed, 0 failed, 1 skipped"; fi

# The suites first, so that a new machine gets its packages before anything
# runs; make -k so one failure does not hide the rest; the summary decides.
SUITES := $(TESTS) $(addsuffix -san,$(TESTS)) clang-check fuzz-smoke bench-smoke bench-compare bench-hosts install \
	readme-flags
test:
	$(Q)rm -f $(TALLY) $(TALLY).skips
	$(Q)$(MAKE) -s --no-print-directory test-deps
	$(Q)$(MAKE) -k --no-print-directory check check-san test-extras || true
	$(Q)tests/summary.sh $(TALLY) $(SUITES)

test-extras: all
	$(Q)$(SUITE) clang-check $(MAKE) -s --no-print-directory clang-check || true
	$(Q)$(SUITE) fuzz-smoke $(MAKE) -s --no-print-directory fuzz-smoke || true
	$(Q)$(SUITE) bench-smoke $(GUARD) bench/smoke.sh || true
	$(Q)$(SUITE) bench-compare tests/bench/compare.sh || true
	$(Q)$(SUITE) bench-hosts $(GUARD) tests/bench/hosts.sh || true
	$(Q)$(SUITE) install $(GUARD) tests/install.sh || true
	$(Q)$(SUITE) readme-flags tests/readme_flags.sh || true

# libFuzzer targets for the HTTP parser, the sockperf framing and the HdrHistogram log reader (clang only).
FUZZ_CC   := clang
FUZZ_FLAGS := -std=gnu11 -D_GNU_SOURCE -g -O1 -Iinclude $(WARN) -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
FUZZERS := build/fuzz/fuzz_http build/fuzz/fuzz_sockperf build/fuzz/fuzz_hlog
build/fuzz/fuzz_http: tests/fuzz/fuzz_http.c src/server/proto_http.c include/http.h include/proto.h
build/fuzz/fuzz_sockperf: tests/fuzz/fuzz_sockperf.c src/server/proto_sockperf.c include/proto.h include/sockperf_wire.h
build/fuzz/fuzz_hlog: tests/fuzz/fuzz_hlog.c src/common/hlog.c src/common/hist_codec.c src/common/hist.c \
	include/hlog.h include/hist.h
build/fuzz/fuzz_hlog: FUZZ_LIBS := -lz -lm
$(FUZZERS):
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ-LD $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(filter %.c,$^) $(FUZZ_LIBS)

# FUZZ_SECONDS per target: 60 for make fuzz, 5 inside make test (skipped without clang).
fuzz: FUZZ_SECONDS ?= 60
fuzz-smoke: FUZZ_SECONDS ?= 5
fuzz-smoke: export FUZZ_SEED ?= 1
fuzz fuzz-smoke:
	$(Q)if command -v $(FUZZ_CC) >/dev/null 2>&1; then \
		$(MAKE) -s $(FUZZERS) && tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS); \
	else echo "  skipped: $(FUZZ_CC) not installed (apt-get install clang)"; \
		echo "fuzz: 0 passed, 0 failed, $(words $(FUZZERS)) skipped"; fi

# One short cell per backend; checks the results are whole, not how fast.
bench-smoke: bench-deps
	$(Q)$(MAKE) -s --no-print-directory all
	$(Q)$(GUARD) bench/smoke.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]: the three programs and a man page each. The
# pages are generated from each program's own --help and --version by Debian's help2man, with
# man/PROG.h2m adding what --help leaves out (exit status, files, examples): the text lives once.
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
MAN1DIR := $(PREFIX)/share/man/man1
INSTALLED := muxserver muxload muxdispatch
MANPAGES  := $(addprefix build/man/,$(addsuffix .1,$(INSTALLED)))
man-deps:
	$(Q)bench/need.sh cmd:help2man:help2man
# help2man's date ("December 2026") is one mandoc cannot parse: an ISO date instead, the build's
# or SOURCE_DATE_EPOCH's (reproducible builds); LC_ALL=C so that the month is not localised.
MAN_DATE = $(shell date -u $(if $(SOURCE_DATE_EPOCH),-d @$(SOURCE_DATE_EPOCH)) +%Y-%m-%d)
build/man/%.1: build/% man/%.h2m | man-deps
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MAN     $@")
	$(Q)LC_ALL=C help2man --no-info --no-discard-stderr --include man/$*.h2m --output $@.tmp $< && \
		sed '2s/"[A-Z][a-z]* [0-9][0-9]*"/"$(MAN_DATE)"/' $@.tmp > $@ && rm -f $@.tmp
man: $(MANPAGES)
install: all build/muxdispatch $(MANPAGES)
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MAN1DIR)"
	install -m 755 $(addprefix build/,$(INSTALLED)) "$(DESTDIR)$(BINDIR)/"
	install -m 644 $(MANPAGES) "$(DESTDIR)$(MAN1DIR)/"
uninstall:
	for p in $(INSTALLED); do rm -f "$(DESTDIR)$(BINDIR)/$$p" "$(DESTDIR)$(MAN1DIR)/$$p.1"; done

# One backend's server and hazards suites with the server under valgrind (errors fail the test).
valgrind: test-deps build/muxserver build/test_server build/test_hazards
	$(Q)bench/need.sh cmd:valgrind:valgrind
	$(Q)for t in test_server test_hazards; do echo "== $$t (server under valgrind)"; \
		MUX_BACKENDS=$(or $(BACKEND),epoll) MUXSERVER=build/muxserver \
		MUXSERVER_WRAP="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
		$(GUARD) build/$$t || exit 1; done

# make bench into results/<UTC time>-<host>/: closed loop, server CPU per request at a fixed rate,
# latency-load curves, the peers (bench/sweep.sh). FULL=1 adds 10000 idle, 4 KiB, more curves.
# A fresh make builds the tools, so that what bench-deps just installed (liburing) is found.
bench: bench-deps
	$(Q)$(MAKE) -s --no-print-directory all
	$(Q)bench/sweep.sh $(if $(filter 1,$(FULL)),--full)

# The C10K effect in about 20 seconds: select, poll and epoll with 0 and 5000 idle connections.
demo:
	$(Q)CC=$(CC) bench/need.sh lib:zlib.h:z:zlib1g-dev cmd:taskset:util-linux
	$(Q)$(MAKE) -s --no-print-directory build/muxserver build/muxload
	$(Q)bench/demo.sh

# A fixed workload under strace -c and perf stat: results/profile/<backend>.txt.
profile: all
	$(Q)bench/profile.sh $(or $(BACKEND),epoll)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
