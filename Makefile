# shale: one Makefile for the whole tree. Outputs go to build/ (or build/asan/ for `make asan`).
#   make            build everything          make test    install deps, build, run all tests
#   make run        build and run             make bench   bench/vs-redis.sh, vs-rocksdb.sh, scorecard.sh
#   make asan       the suite under ASan+UBSan   make tsan   the suite under TSan
#   make crashtest  long kill -9/power-cut runs  make fuzz  libFuzzer, FUZZ_SECONDS each
#   make install    PREFIX=/usr/local         make format  clang-format the tree
#   make redis-suite UNITS="unit/expire ..."   Redis 7.0's own tests against shale (network)
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Wno-unknown-warning-option
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -pthread -MMD -MP
CPPFLAGS += -Iengine/include -Iengine
LDLIBS  += -llz4 -lxxhash -pthread -lm
# Lua 5.1 for scripting (server/script/): Debian's liblua5.1-0-dev, lua-cjson-dev and
# lua-bitop-dev. cjson and bit are linked statically (their .so files are Lua modules meant
# for require, which the script sandbox does not have); Lua itself is the shared library.
LUA_INC  := -I/usr/include/lua5.1
LUA_LIBS := -l:liblua5.1-cjson.a -l:liblua5.1-bitop.a -llua5.1 -ldl

ENGINE_SRC := $(sort $(wildcard engine/*.c))
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
LIBSHALE   := $(BUILD)/libshale.a

# The server's modules except its entry point, linked into the server and its tests.
# Its rooms (../shared/ARCHITECTURE.md): net/ (bytes in and out), commands/ (what each
# command means), types/ (Redis types on engine keys), cache/ (eviction), stats/, and
# the process itself in server/. Headers are included by name from every room.
SERVER_DIRS := server server/net server/commands server/types server/cache server/stats server/pubsub \
               server/multi server/tracking server/script server/repl
SERVER_INC := $(SERVER_DIRS:%=-I%) $(LUA_INC)
SERVER_SRC := $(filter-out server/main.c,$(sort $(foreach d,$(SERVER_DIRS),$(wildcard $(d)/*.c))))
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
SERVER_LIB := $(BUILD)/libshale-server.a

# The client library: libc only, its own include path (client/include/shale_client.h).
CLIENT_SRC := $(sort $(wildcard client/*.c))
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
LIBCLIENT  := $(BUILD)/libshale-client.a

BENCH_SRC  := $(sort $(wildcard bench/*.c))
BENCH_BIN  := $(BUILD)/shale-bench
VS_HIREDIS := $(BUILD)/vs-hiredis

CRASH_ENGINE := $(BUILD)/tests/crash_engine

# An LD_PRELOAD shim that makes fdatasync and fsync fail on demand (tests/shim/fail_fsync.c)
FAIL_FSYNC := $(BUILD)/tests/libfail_fsync.so

# Fuzz targets (tests/fuzz/fuzz_<name>.c): replayed over their corpora by make test,
# fuzzed with libFuzzer by make fuzz.
FUZZ_TARGETS := resp dispatch client_reader wal table manifest glob config rdb script
FUZZ_REPLAY  := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz-replay/%)
# What targets share (tests/fuzz/fuzz_server.c: the in-process server of dispatch and
# script), an archive linked into every target: only those that use it pull it in.
FUZZ_HARNESS := $(BUILD)/tests/fuzz/libfuzz-harness.a
FUZZ_SECONDS ?= 60

EXAMPLE_SRC := $(sort $(wildcard examples/*.c))
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

TOOL_SRC   := $(sort $(wildcard tools/*.c))
TOOL_BIN   := $(BUILD)/shale-tool

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_UTIL_SRC := $(sort $(wildcard tests/util/*.c))
TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(BUILD)/%.o)

.PHONY: all run test check bench asan tsan install format clean deps crashtest fuzz soak redis-suite
.SECONDARY:
SERVER_BIN := $(BUILD)/shale-server

all: $(LIBSHALE) $(LIBCLIENT) $(SERVER_BIN) $(BENCH_BIN) $(VS_HIREDIS) $(TOOL_BIN) $(EXAMPLE_BIN) $(UNIT_BIN) $(CRASH_ENGINE) $(FAIL_FSYNC) $(FUZZ_REPLAY)

deps:
	@./scripts/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIBSHALE): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/client/%.o: CPPFLAGS = -Iclient/include -Iclient

$(LIBCLIENT): $(CLIENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Examples use only the installed-style client header and library.
$(BUILD)/examples/%.o: CPPFLAGS = -Iclient/include
$(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIBCLIENT)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ -pthread

$(SERVER_LIB): $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/server/%.o: CPPFLAGS += $(SERVER_INC)

$(SERVER_BIN): $(BUILD)/server/main.o $(SERVER_LIB) $(LIBSHALE)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(LUA_LIBS) -luring

$(BENCH_BIN): $(BENCH_SRC:%.c=$(BUILD)/%.o) $(LIBSHALE) $(LIBCLIENT)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%.o: CPPFLAGS += -Iclient/include -Ibench

# The same server load through hiredis (Debian libhiredis-dev), for bench/vs-hiredis.sh.
$(VS_HIREDIS): $(BUILD)/bench/hiredis/vs-hiredis.o $(BUILD)/bench/load.o $(BUILD)/bench/histogram.o $(LIBCLIENT)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ -lhiredis -pthread -lm

# shale-tool also uses engine internals (it reads damaged files without opening the store).
$(TOOL_BIN): $(TOOL_SRC:%.c=$(BUILD)/%.o) $(LIBSHALE)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(TEST_UTIL_OBJ) $(SERVER_LIB) $(LIBSHALE) $(LIBCLIENT)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(LUA_LIBS) -luring -lcmocka

$(BUILD)/tests/unit/%.o: CPPFLAGS += -Itests/util $(SERVER_INC) -Iclient/include
$(BUILD)/tests/util/%.o: CPPFLAGS += -Itests/util $(SERVER_INC)

# The engine's kill -9 driver (tests/crash/crash_engine.c; make test runs a few rounds).
$(CRASH_ENGINE): $(BUILD)/tests/crash/crash_engine.o $(LIBSHALE)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# Built without the build's sanitizer flags: it is preloaded into the server under test
# only (tests/integration/server_sync_failure.py), which has the runtime if any.
$(FAIL_FSYNC): tests/shim/fail_fsync.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -fPIC -shared $(WARN) $< -o $@ -ldl

$(BUILD)/tests/fuzz/%.o: CPPFLAGS += $(SERVER_INC) -Iclient/include -Itests/fuzz -Itests/util

$(FUZZ_HARNESS): $(BUILD)/tests/fuzz/fuzz_server.o
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/fuzz-replay/%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(FUZZ_HARNESS) $(SERVER_LIB) $(LIBSHALE) $(LIBCLIENT)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) $(LUA_LIBS) -luring

# libFuzzer builds (clang; build/fuzz), then each target for FUZZ_SECONDS seconds. New
# inputs go to build/fuzz/corpus/NAME, crashes to build/fuzz/crash-NAME-*: copy a crash
# into tests/fuzz/corpus/NAME and it becomes a regression input for make test.
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang \
	    OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined" \
	    $(FUZZ_TARGETS:%=build/fuzz/fuzz-%)
	@for t in $(FUZZ_TARGETS); do mkdir -p build/fuzz/corpus/$$t; \
	    echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	    build/fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
	        -artifact_prefix=build/fuzz/crash-$$t- build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	        > build/fuzz/$$t.log 2>&1; rc=$$?; \
	    grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|ERROR|SUMMARY" build/fuzz/$$t.log; \
	    ls build/fuzz/crash-$$t-* >/dev/null 2>&1 && { echo "fuzz $$t: a crash, see build/fuzz/"; exit 1; }; \
	    [ $$rc -eq 0 ] || { echo "fuzz $$t: libFuzzer exited with $$rc, see build/fuzz/$$t.log"; exit 1; }; \
	done; echo "fuzz: no finding"

$(BUILD)/fuzz-%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_HARNESS) $(SERVER_LIB) $(LIBSHALE) $(LIBCLIENT)
	$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined $^ -o $@ $(LDLIBS) $(LUA_LIBS) -luring

# Runs every unit test, then prints one summary line; non-zero exit on any failure.
check: all
	@./tests/run.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory check

# The long crash test: tests/integration/crash_engine.sh at 100 rounds per run (the engine
# killed, with failing directory syncs and changing options, and power cuts, worst case and
# out of order, each with and without sync writes), and 100 rounds of the server under
# pipelining writers (ROUNDS= and SEED= to change).
crashtest: deps
	@$(MAKE) --no-print-directory all
	ROUNDS=$${ROUNDS:-100} SHALE_BUILD=$(BUILD) ./tests/integration/crash_engine.sh
	ROUNDS=$${ROUNDS:-100} SHALE_BUILD=$(BUILD) /usr/bin/python3 tests/integration/server_crash.py

# Units of Redis 7.0's own test suite against shale-server in external mode, with the
# passed/failed/skipped counts per unit and the failing tests' names (tests/redis-suite.sh;
# it downloads Debian's redis source tarball once into a cache outside the repository).
# UNITS="unit/expire unit/type/string" picks units; without it, the core families.
redis-suite: $(SERVER_BIN)
	SHALE_BUILD=$(BUILD) ./tests/redis-suite.sh $(UNITS)

# The server in the foreground on 127.0.0.1:6379 with its data in ./data (Ctrl-C or
# redis-cli shutdown stops it cleanly). Extra options: make run ARGS="--port 7000".
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p data
	$(BUILD)/shale-server --bind 127.0.0.1 --port 6379 --dir ./data $(ARGS)

# Both comparisons in one run (server, then engine), then the scorecard of the rows the
# issues set bars for, every figure and ratio from this run. BENCH_ARGS reaches both
# scripts (e.g. BENCH_ARGS=--quick for a smoke run).
bench: deps
	@$(MAKE) --no-print-directory all
	@tsv=$${TMPDIR:-/tmp}/shale-bench-$$(date +%Y%m%d-%H%M%S).tsv; \
	./bench/vs-redis.sh --tsv=$$tsv $(BENCH_ARGS) && \
	./bench/vs-rocksdb.sh --tsv=$$tsv $(BENCH_ARGS) && \
	echo && ./bench/scorecard.sh $$tsv

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang \
	    OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" check

# Mixed load for SOAK_SECONDS with flushes, compactions, GC and the crash driver;
# RSS must stay bounded and nothing may fail (tests/soak.sh).
SOAK_SECONDS ?= 300
soak: deps
	@$(MAKE) --no-print-directory all
	SOAK_SECONDS=$(SOAK_SECONDS) SHALE_BUILD=$(BUILD) ./tests/soak.sh

# The suite under ThreadSanitizer (build/tsan).
tsan: deps
	@$(MAKE) --no-print-directory BUILD=build/tsan CC=clang \
	    OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=thread" LDFLAGS="-fsanitize=thread" check

install: $(LIBSHALE) $(LIBCLIENT)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 engine/include/shale.h client/include/shale_client.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(LIBSHALE) $(LIBCLIENT) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|g' scripts/shale.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/shale.pc
	sed -e 's|@PREFIX@|$(PREFIX)|g' scripts/shale-client.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/shale-client.pc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
