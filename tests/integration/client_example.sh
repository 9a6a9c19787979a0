#!/usr/bin/env bash
# client_example.sh - examples/portfolio against a real shale-server: users and holdings in
# hashes, and eight clients reading a portfolio's value on a cold cache, of which exactly
# one computes it (SET NX PX as the lock); the value is 10x190 + 5x410 + 2x880 = 5710.
# Also: `make install` into a staging directory installs the client's header, library
# and shale-client.pc, and a program builds against them with pkg-config.
set -u
build=${SHALE_BUILD:-build}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null; rm -rf "$tmp"' EXIT
command -v redis-cli >/dev/null || { echo "skip: redis-cli missing"; exit 77; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/shale-server" --port "$port" --dir "$tmp/db" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
fail=0
out=$("$build/examples/portfolio" "127.0.0.1:$port") || { echo "FAIL: portfolio exited $?: $out"; fail=1; }
echo "$out" | grep -q "user 42: Ada Lovelace" || { echo "FAIL: user not read back: $out"; fail=1; }
echo "$out" | grep -q "portfolio value 5710, read by 8 concurrent clients; computed 1 time(s)" ||
    { echo "FAIL: expected one computation of 5710: $out"; fail=1; }
# install and build against the installed client
make --no-print-directory -s install BUILD="$build" DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null ||
    { echo "FAIL: make install"; fail=1; }
for f in usr/include/shale_client.h usr/lib/libshale-client.a usr/lib/pkgconfig/shale-client.pc; do
    [ -f "$tmp/stage/$f" ] || { echo "FAIL: make install did not install $f"; fail=1; }
done
cat >"$tmp/hello.c" <<'C'
#include <shale_client.h>
#include <stdio.h>
int main(void)
{
    shale_client_reader *r = shale_client_reader_new();
    shale_client_reader_feed(r, "+PONG\r\n", 7);
    shale_client_reply *x;
    int ok = shale_client_reader_get_reply(r, &x) == 1;
    printf("%s\n", ok ? x->str : "?");
    shale_client_reply_free(x);
    shale_client_reader_free(r);
    return !ok;
}
C
case "$build" in *asan* | *tsan*)
    # the sanitizer build's library needs the sanitizer runtime: the plain build covers this
    [ $fail = 0 ] && echo "client example: every check passed (pkg-config build checked by make test)"
    exit $fail ;;
esac
flags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/stage" PKG_CONFIG_LIBDIR="$tmp/stage/usr/lib/pkgconfig" pkg-config --cflags --libs shale-client)
cc "$tmp/hello.c" -o "$tmp/hello" $flags && [ "$("$tmp/hello")" = PONG ] ||
    { echo "FAIL: a program built with pkg-config shale-client does not work ($flags)"; fail=1; }
[ $fail = 0 ] && echo "client example: every check passed"
exit $fail
