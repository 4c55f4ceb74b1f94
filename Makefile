# libevpl developer entry points.  The build itself is CMake (+ Ninja); this
# file only strings the steps together so that a new user types one command.
#
#   make demo       build and run the demonstration (examples/echo_demo)
#   make test       install dependencies, build (Release) and run the ctest suite
#   make build      configure and build only
#   make install    install into PREFIX (default /usr/local); DESTDIR is honoured
#   make format     clang-format every C file in place
#   make format-check   fail if any C file is not formatted
#   make clang      build and test with clang (-Werror) in build-clang/
#   make asan       ASan+UBSan Debug build in build-asan/, whole suite
#   make tsan       TSan Debug build in build-tsan/, tests matching TSAN_TESTS
#   make check-all  every CI leg that exists so far
#   make clean      remove every build directory this file creates
#
# Variables: BUILD_DIR (build), BUILD_TYPE (Release), JOBS (2), PREFIX,
# CC (passed to CMake when given on the command line or in the environment),
# CTEST_ARGS (extra ctest arguments, e.g. CTEST_ARGS='-R timer').

BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= 2
PREFIX     ?= /usr/local
GENERATOR  ?= Ninja
CTEST_ARGS ?=

# TSan runs the tests that use more than one thread: those whose ctest name
# matches this regular expression (override with TSAN_TESTS=. for all).
TSAN_TESTS ?= thread|doorbell|stop|pool|async|concurr|mt

FORMAT_DIRS := src include tests tools bench examples

SAN_COMMON := -fno-omit-frame-pointer -g
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined $(SAN_COMMON)
TSAN_FLAGS := -fsanitize=thread $(SAN_COMMON)

export ASAN_OPTIONS  ?= halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS  ?= halt_on_error=1:second_deadlock_stack=1

# Only hand CC to CMake when the user chose it; make's built-in default "cc"
# would otherwise pin the compiler of an existing build tree.
ifneq ($(filter environment command line,$(origin CC)),)
CMAKE_CC := -DCMAKE_C_COMPILER=$(CC)
endif

CTEST := scripts/run-ctest.sh

.PHONY: all deps configure build test demo install clean format format-check \
        clang asan tsan check-all valgrind coverage static-analysis stress

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
	rm -rf $(BUILD_DIR) build-clang build-asan build-tsan

format:
	find $(FORMAT_DIRS) \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null | \
	    xargs -0 -r clang-format -i

format-check:
	find $(FORMAT_DIRS) \( -name '*.c' -o -name '*.h' \) -type f -print0 2>/dev/null | \
	    xargs -0 -r clang-format --dry-run --Werror

# clang with -Werror (the default EVPL_WERROR=ON), whole suite.
clang:
	$(call configure,build-clang,$(BUILD_TYPE),-DCMAKE_C_COMPILER=clang)
	cmake --build build-clang -j $(JOBS)
	$(CTEST) build-clang -j $(JOBS) $(CTEST_ARGS)

# ASan + UBSan, Debug, whole suite; the first error fails the test.
asan:
	$(call configure,build-asan,Debug,-DCMAKE_C_FLAGS="$(ASAN_FLAGS)" \
	    -DCMAKE_EXE_LINKER_FLAGS="$(ASAN_FLAGS)" -DCMAKE_SHARED_LINKER_FLAGS="$(ASAN_FLAGS)")
	cmake --build build-asan -j $(JOBS)
	$(CTEST) build-asan -j $(JOBS) $(CTEST_ARGS)

# TSan, Debug, the multi-threaded tests (TSAN_TESTS).
tsan:
	$(call configure,build-tsan,Debug,-DCMAKE_C_FLAGS="$(TSAN_FLAGS)" \
	    -DCMAKE_EXE_LINKER_FLAGS="$(TSAN_FLAGS)" -DCMAKE_SHARED_LINKER_FLAGS="$(TSAN_FLAGS)")
	cmake --build build-tsan -j $(JOBS)
	$(CTEST) build-tsan -j $(JOBS) -R '$(TSAN_TESTS)' $(CTEST_ARGS)

# Legs still to come with issue 6 (quality gates).
valgrind coverage static-analysis stress:
	@echo "make $@: not implemented yet (issue 6)"

# Every CI leg that exists so far, as CI would run them.
check-all: test clang asan tsan format-check valgrind coverage static-analysis

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
