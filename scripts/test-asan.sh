#!/usr/bin/env bash
# npm run test:asan — the addon built with AddressSanitizer + UndefinedBehaviorSanitizer, and the
# suites that drive native code run against it. The build happens in a scratch copy of the
# sources so the sanitized addon never replaces the normal one in build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/evloop-asan.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$root" && git ls-files -z -co --exclude-standard | xargs -0 cp --parents -t "$work")
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"

# vptr is left out: its check reads the process's type information at run time, and in the
# EMFILE test (a child at its fd limit) it cannot, and reports every virtual call as invalid.
san="-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
echo "== building the addon with $san" >&2
CFLAGS="$san" CXXFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" node "$root/node_modules/node-gyp/bin/node-gyp.js" rebuild >build.log 2>&1 || { cat build.log; exit 1; }

# Node itself is not instrumented: the runtimes are preloaded into every node that may load the
# addon (the ESM generator loads it too). Leak detection is off because Node does not free
# everything at exit; fd leaks are checked by the suites themselves.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
npm run -s build:ts
# The TLS suites are left out: their encryption is Node's own (no evloop native code beyond the
# sockets the other io suites drive), and their RSS bounds mean nothing under ASan's allocator,
# which keeps freed memory in quarantine.
suites=(test/native test/core/loop.test.js test/integration/lifecycle.test.js test/integration/faults.test.js test/integration/workers.test.js)
while IFS= read -r f; do suites+=("$f"); done < <(find test/io test/streams test/subprocess -name '*.test.js' ! -name 'tls.test.js' | sort)
echo "== running ${suites[*]} under ASan + UBSan" >&2
node --test --test-timeout=180000 "${suites[@]}"
