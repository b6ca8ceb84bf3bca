#!/bin/sh
# Builds the addon with AddressSanitizer into build/asan/ (the release build in build/Release stays
# as it is) and runs the native tests against it: out-of-bounds reads and writes, use after free.
# Not part of npm test: node itself is not instrumented, so ASan's runtime is preloaded into it, and
# leak checking is off (V8 and node leave allocations at exit that are not the addon's).
#
#   native/asan.sh [test files...]        (default: dist/test/native/*.test.js; run npm run build first)
#
# Needs gcc's libasan (Debian: libgcc-12-dev, with g++). `npx node-gyp rebuild` in the package root
# removes build/, this build included.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/asan"
libasan=$(gcc -print-file-name=libasan.so)
[ -f "$libasan" ] || { echo "asan.sh: no libasan.so from gcc ($libasan)" >&2; exit 2; }

# node-gyp builds in the folder holding binding.gyp: a folder of links to the package's files.
mkdir -p "$out"
ln -sfn "$root/binding.gyp" "$out/binding.gyp"
ln -sfn "$root/native" "$out/native"
flags="-fsanitize=address -fno-omit-frame-pointer -g -O1"
(cd "$out" && CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address" npx node-gyp rebuild --silent)
addon="$out/build/Release/sluice_native.node"
nm -D "$addon" | grep -q __asan_init || { echo "asan.sh: $addon is not instrumented" >&2; exit 2; }

cd "$root"
[ $# -gt 0 ] || set -- dist/test/native/*.test.js
echo "asan.sh: $addon with $libasan"
# halt_on_error: the first report fails the run (tap shows the child's stderr).
SLUICE_NATIVE_ADDON="$addon" LD_PRELOAD="$libasan" \
  ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86" \
  npx tap --disable-coverage "$@"
