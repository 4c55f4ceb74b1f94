# libevpl developer entry points.  The build itself is CMake (+ Ninja); this
# file only strings the steps together so that a new user types one command.
#
#   make demo       build and run the demonstration (examples/echo_demo); exits
#                   non-zero if any available protocol fails (also the ctest
#                   demo_echo, and CI's demo leg)
#   make test       install dependencies, build (Release) and run the ctest suite
#   make build      configure and build only
#   make install    install into PREFIX (default /usr/local); DESTDIR is honoured
#   make format     clang-format every C file in place
#   make format-check   fail if any C file is not formatted
#   make clang      build and test with clang (-Werror) in build-clang/
#   make asan       ASan+UBSan Debug build in build-asan/, whole suite
#   make tsan       TSan Debug build in build-tsan/, the multi-threaded tests
#   make valgrind   valgrind memcheck (Debug build in build-valgrind/)
#   make static-analysis   cppcheck over src/ (.cppcheck-suppressions)
#   make lint       clang + format-check + static-analysis
#   make coverage   gcov build in build-cov/, whole suite, per-module table,
#                   docs/coverage.md; fails under the coverage floors
#   make stress     the network tests STRESS_RUNS (20) times in a row
#   make fuzz       libFuzzer targets (clang), FUZZ_TIME (60) seconds each,
#                   in build-fuzz/: the generated XDR decoders (tests/xdr),
#                   the RPC2 server and client paths (tests/rpc2), then
#                   fuzz-http for as long
#   make check-all  every CI leg, as .ci/run runs them (docs/quality.md)
#   make fuzz-http  libFuzzer harnesses of libevpl_http (clang, ASan+UBSan) in
#                   build-fuzz-http/, each run HTTP_FUZZ_SECONDS (60) from
#                   the seeds in tests/http/fuzz/
#   make clean      remove every build directory this file creates
#
# Variables: BUILD_DIR (build), BUILD_TYPE (Release), JOBS (2), PREFIX,
# CC (passed to CMake when given on the command line or in the environment),
# CTEST_ARGS (extra ctest arguments, e.g. CTEST_ARGS='-R timer'),
# BUILD_PREFIX (build): the legs build in $(BUILD_PREFIX)-asan, -tsan, -clang,
# -valgrind and -cov (each also settable alone: ASAN_BUILD_DIR, ...).

BUILD_PREFIX ?= build
BUILD_DIR  ?= $(BUILD_PREFIX)
BUILD_TYPE ?= Release
JOBS       ?= 2
PREFIX     ?= /usr/local
GENERATOR  ?= Ninja
CTEST_ARGS ?=

CLANG_BUILD_DIR    ?= $(BUILD_PREFIX)-clang
ASAN_BUILD_DIR     ?= $(BUILD_PREFIX)-asan
TSAN_BUILD_DIR     ?= $(BUILD_PREFIX)-tsan
VALGRIND_BUILD_DIR ?= $(BUILD_PREFIX)-valgrind
COV_BUILD_DIR      ?= $(BUILD_PREFIX)-cov
FUZZ_BUILD_DIR     ?= $(BUILD_PREFIX)-fuzz
FUZZ_TIME          ?= 60

# The network tests: every test built in one of these tests/ folders (folders
# not created yet are ignored).  Every one of them is multi-threaded, since a
# listener runs a service thread.
NET_TEST_DIRS ?= bind socket inproc tcp_rdma io_uring rdmacm tls http rpc2

# TSan runs every test that uses more than one thread (pthread_create,
# evpl_thread_create, thread pools, listeners, preallocation threads): all
# tests of TSAN_DIRS, plus the tests of other folders whose names match
# TSAN_TESTS.  Keep TSAN_TESTS current when a test starts a thread (grep
# tests/ for pthread_create, evpl_thread_create, evpl_threadpool_create,
# evpl_listener_create, preallocate_threads); TSAN_TESTS=. runs everything.
TSAN_DIRS  ?= thread topology bench $(NET_TEST_DIRS)
TSAN_TESTS ?= ^(demo_echo|core_doorbell|core_loop|core_affinity|init_threads|logging_sink|metrics_scrape|clock_hf|clock_virtual|memory_iovec_global|memory_iovec_lifecycle|memory_iovec_shared_thread|memory_slab_alloc|memory_allocator_prealloc|block_threads_(io_uring|libaio))(\.|$$)

# valgrind runs every test except those of VALGRIND_SKIP_DIRS (install:
# install.consumer is a shell script that builds a program with cmake and cc)
# and those matching VALGRIND_SKIP_TESTS (Python regular expressions), each
# pattern as narrow as its reason:
#   io_uring   valgrind does not model io_uring: the uring_ tests, the
#              STREAM_IO_URING_TCP variants and the io_uring block tests (but
#              not block_disabled_io_uring, which opens nothing, nor
#              tcp_adjacent, which runs no io_uring);
#   seccomp    uring_seccomp_*: valgrind does not implement seccomp (ENOSYS);
#   emfile     valgrind reserves descriptors, so RLIMIT_NOFILE cannot be
#              lowered (the test would skip);
#   bench      bench_smoke/modes/ab time their runs (a second each): traced
#              under memcheck, evpl-bench completes no operation in that time;
#   128 MiB    duplex_STREAM_SOCKET_* (128 MiB each way checked byte by byte:
#              ~47 s each under memcheck) and inproc_duplex_flood_*; the
#              32 MiB inproc_duplex_* and tcp_rdma_duplex run (50-70 s);
#   TLS duplex tls_duplex: 32 MiB through user-space TLS took 56 s alone and
#              over its 100 s limit beside other tests;
#   many_conns 10,000 connections (over 120 s under valgrind);
#   flood      96 MiB checked byte by byte (~55 s of CPU, its limit is 60 s);
#   spin       it asserts that a loop busy-polls under traffic, which cannot
#              happen when valgrind runs one thread at a time;
#   demo_echo  it runs io_uring among the other protocols;
#   xdr_malformed, xdr_rpcsvc, xdr_install: shell scripts that run the
#              generator and compilers: valgrind would check bash and cc, not
#              our code (the generator is run under valgrind by hand, docs/xdr.md).
# ASan and TSan cover them.  scripts/valgrind.sh traces children, so tests
# that re-execute themselves (under unshare, or as a client process) are
# checked too.
VALGRIND_SKIP_DIRS  ?= install
VALGRIND_SKIP_TESTS ?= ^uring_|^emfile\.|^bench_(smoke|modes|ab)$$|_IO_URING_TCP|^block_(?!disabled_).*_io_uring(\.|$$)|^duplex_STREAM_SOCKET_|^tls_duplex\.|^inproc_duplex_flood_|many_conns|(^|_)flood_|spin_|^demo_echo$$|^xdr_(malformed|rpcsvc|install)$$

# The stress leg: the network tests, STRESS_RUNS times.
STRESS_RUNS ?= 20
STRESS_DIRS ?= $(NET_TEST_DIRS)

CPPCHECK_FLAGS := --enable=warning,performance,portability --error-exitcode=1 \
	--inline-suppr --suppressions-list=.cppcheck-suppressions --std=c11 \
	--quiet -j $(JOBS) -I include -I src -D_GNU_SOURCE -DEVPL_INTERNAL=1 \
	-D__linux__ -D__x86_64__

FORMAT_DIRS := src include tests tools bench examples

SAN_COMMON := -fno-omit-frame-pointer -g
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined $(SAN_COMMON)
TSAN_FLAGS := -fsanitize=thread $(SAN_COMMON)

# The sanitizer settings the legs need come first; options already in the
# environment are appended, so they can add to or override them.
export ASAN_OPTIONS  := halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1$(if $(ASAN_OPTIONS),:$(ASAN_OPTIONS))
export UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1$(if $(UBSAN_OPTIONS),:$(UBSAN_OPTIONS))
export TSAN_OPTIONS  := halt_on_error=1:second_deadlock_stack=1$(if $(TSAN_OPTIONS),:$(TSAN_OPTIONS))

# Only hand CC to CMake when the user chose it; make's built-in default "cc"
# would otherwise pin the compiler of an existing build tree.
ifneq ($(filter environment command line,$(origin CC)),)
CMAKE_CC := -DCMAKE_C_COMPILER=$(CC)
endif

CTEST := scripts/run-ctest.sh
SELECT := scripts/select-tests.py

.PHONY: fuzz-http
HTTP_FUZZ_BUILD_DIR ?= $(BUILD_PREFIX)-fuzz-http
HTTP_FUZZ_SECONDS   ?= 60
fuzz-http:
	$(call configure,$(HTTP_FUZZ_BUILD_DIR),Debug,-DCMAKE_C_COMPILER=clang -DEVPL_HTTP_FUZZ=ON \
	    -DCMAKE_C_FLAGS="$(ASAN_FLAGS) -fsanitize=fuzzer-no-link")
	cmake --build $(HTTP_FUZZ_BUILD_DIR) -j $(JOBS) --target http_fuzz_server http_fuzz_client
	for h in server client; do \
	    mkdir -p $(HTTP_FUZZ_BUILD_DIR)/corpus_$$h && \
	    $(HTTP_FUZZ_BUILD_DIR)/tests/http/http_fuzz_$$h -max_total_time=$(HTTP_FUZZ_SECONDS) \
	        -max_len=4096 $(HTTP_FUZZ_BUILD_DIR)/corpus_$$h tests/http/fuzz/seeds_$$h || exit 1; \
	done

.PHONY: all deps configure build test demo install clean format format-check \
        clang asan tsan check-all valgrind coverage static-analysis stress lint fuzz

all: build

deps:
	scripts/install-deps.sh

# $(call configure,DIR,BUILD_TYPE,extra cmake args)
define configure
	cmake -S . -B $(1) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=$(2) $(CMAKE_CC) $(3)
endef

configure:
	$(call configure,$(BUILD_DIR),$(BUILD_TYPE),)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps
	$(MAKE) --no-print-directory build
	$(CTEST) $(BUILD_DIR) -j $(JOBS) $(CTEST_ARGS)

# The demonstration: an echo server and client over every available protocol.
# CMake writes the program's path to $(BUILD_DIR)/echo_demo.path once
# examples/ defines the echo_demo target.
demo: build
	@if [ -f $(BUILD_DIR)/echo_demo.path ]; then \
	    cmake --build $(BUILD_DIR) -j $(JOBS) --target echo_demo && \
	    exec "$$(cat $(BUILD_DIR)/echo_demo.path)"; \
	else \
	    echo "make demo: examples/echo_demo is not part of this tree yet; nothing to run"; \
	fi

install: build
	cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD_DIR) $(CLANG_BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR) \
	    $(VALGRIND_BUILD_DIR) $(COV_BUILD_DIR) $(FUZZ_BUILD_DIR) $(HTTP_FUZZ_BUILD_DIR)

format:
	find $(FORMAT_DIRS) \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null | \
	    xargs -0 -r clang-format -i

format-check:
	find $(FORMAT_DIRS) \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null | \
	    xargs -0 -r clang-format --dry-run --Werror

# clang with -Werror (the default EVPL_WERROR=ON), whole suite.
clang:
	$(call configure,$(CLANG_BUILD_DIR),$(BUILD_TYPE),-DCMAKE_C_COMPILER=clang)
	cmake --build $(CLANG_BUILD_DIR) -j $(JOBS)
	$(CTEST) $(CLANG_BUILD_DIR) -j $(JOBS) $(CTEST_ARGS)

# ASan + UBSan, Debug, whole suite; the first error fails the test.
asan:
	$(call configure,$(ASAN_BUILD_DIR),Debug,-DCMAKE_C_FLAGS="$(ASAN_FLAGS)" \
	    -DCMAKE_EXE_LINKER_FLAGS="$(ASAN_FLAGS)" -DCMAKE_SHARED_LINKER_FLAGS="$(ASAN_FLAGS)")
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	$(CTEST) $(ASAN_BUILD_DIR) -j $(JOBS) $(CTEST_ARGS)

# TSan, Debug, the multi-threaded tests (TSAN_DIRS and TSAN_TESTS).
tsan:
	$(call configure,$(TSAN_BUILD_DIR),Debug,-DCMAKE_C_FLAGS="$(TSAN_FLAGS)" \
	    -DCMAKE_EXE_LINKER_FLAGS="$(TSAN_FLAGS)" -DCMAKE_SHARED_LINKER_FLAGS="$(TSAN_FLAGS)")
	cmake --build $(TSAN_BUILD_DIR) -j $(JOBS)
	$(CTEST) $(TSAN_BUILD_DIR) -j $(JOBS) \
	    -R "$$($(SELECT) $(TSAN_BUILD_DIR) --dirs '$(TSAN_DIRS)' --names '$(TSAN_TESTS)')" $(CTEST_ARGS)

# valgrind memcheck over a Debug build without sanitizers (scripts/valgrind.sh).
valgrind:
	$(call configure,$(VALGRIND_BUILD_DIR),Debug,)
	cmake --build $(VALGRIND_BUILD_DIR) -j $(JOBS)
	scripts/valgrind.sh $(VALGRIND_BUILD_DIR) -j $(JOBS) \
	    -R "$$($(SELECT) $(VALGRIND_BUILD_DIR) --exclude-dirs '$(VALGRIND_SKIP_DIRS)' \
	           --exclude-names '$(VALGRIND_SKIP_TESTS)')" $(CTEST_ARGS)

# cppcheck over the library sources; findings that are noise are listed, with
# the reason, in .cppcheck-suppressions.
static-analysis:
	cppcheck --version
	cppcheck $(CPPCHECK_FLAGS) src

# The lint leg: clang -Werror build and suite, formatting, static analysis;
# all three run even when one fails.
lint:
	@rc=0; for t in clang format-check static-analysis; do \
	    $(MAKE) --no-print-directory $$t || { echo "lint: make $$t failed"; rc=1; }; \
	done; exit $$rc

# gcov build (-O0), whole suite, per-module line coverage table, written to
# docs/coverage.md; fails under EVPL_COV_MODULE_MIN / EVPL_COV_TOTAL_MIN.
# -fprofile-update=atomic: threads bump the same counters, and plain updates
# race into corrupt (negative) counts that gcovr refuses to parse.
COV_FLAGS := -O0 -g --coverage -fprofile-update=atomic
coverage:
	$(call configure,$(COV_BUILD_DIR),Debug,-DCMAKE_C_FLAGS="$(COV_FLAGS)" \
	    -DCMAKE_EXE_LINKER_FLAGS=--coverage -DCMAKE_SHARED_LINKER_FLAGS=--coverage)
	cmake --build $(COV_BUILD_DIR) -j $(JOBS)
	scripts/coverage.sh $(COV_BUILD_DIR) -j $(JOBS) $(CTEST_ARGS)

# The network tests (STRESS_DIRS) STRESS_RUNS times in a row, Release build in
# BUILD_DIR; any failure fails (scripts/stress.sh).
stress: build
	scripts/stress.sh $(BUILD_DIR) $(STRESS_RUNS) \
	    "$$($(SELECT) $(BUILD_DIR) --dirs '$(STRESS_DIRS)')" -j $(JOBS) $(CTEST_ARGS)

# libFuzzer (clang -fsanitize=fuzzer with ASan+UBSan): each target runs
# FUZZ_TIME seconds on its corpus in $(FUZZ_BUILD_DIR)/corpus/<name>; a crash
# fails the leg and leaves the input next to the corpus.
FUZZ_TARGETS ?= xdr_fuzz_decode rpc2_fuzz_server rpc2_fuzz_client
# The whole fuzz build is instrumented, so that coverage guides the fuzzer
# through the libraries too (a variable: a comma cannot stand in $(call)).
FUZZ_CFLAGS  ?= -fsanitize=fuzzer-no-link,address,undefined
fuzz:
	$(call configure,$(FUZZ_BUILD_DIR),Debug,-DCMAKE_C_COMPILER=clang -DEVPL_FUZZ=ON \
	    "-DCMAKE_C_FLAGS=$(FUZZ_CFLAGS)")
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD_DIR)/corpus/$$t; \
	    bin=$$(find $(FUZZ_BUILD_DIR)/tests -type f -name $$t | head -1); \
	    echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	    (cd $(FUZZ_BUILD_DIR)/corpus && $$OLDPWD/$$bin -max_total_time=$(FUZZ_TIME) \
	        -print_final_stats=1 $$t); \
	done
	$(MAKE) --no-print-directory fuzz-http HTTP_FUZZ_SECONDS=$(FUZZ_TIME)

# Every CI leg, in CI's order, with a timing and a verdict per leg
# (scripts/run-legs.sh); LEGS picks a subset, e.g. LEGS="asan tsan".
LEGS ?= test demo asan tsan valgrind lint coverage fuzz
check-all:
	scripts/run-legs.sh $(LEGS)

# ---- bench: benchmark matrix (issue 5; tools/evpl-bench, bench/) ----------
# make bench   install dependencies, build (Release), then run bench/compare:
#              every available transport x pingpong 64 B qd16 and stream
#              128 KiB, plus the libevent/libuv/epoll peers, alternating runs,
#              and print medians, ratios ours/peer and the issue's targets.
# BENCH_ARGS   extra bench/compare options, e.g. BENCH_ARGS='--rounds 5'.
BENCH_ARGS ?=
.PHONY: bench
bench: deps
	$(MAKE) --no-print-directory build
	bench/compare --build $(BUILD_DIR) $(BENCH_ARGS)
# ---- end bench -------------------------------------------------------------
