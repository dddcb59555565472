#!/usr/bin/env bash
# End-to-end test of `ferro mrfs`: format an image, put, replace, get, list, remove, compact,
# stat, and the errors for a bad name, a missing file and a file that is not an image.
set -euo pipefail
FERRO=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
img=$dir/flash.img
fail() { echo "FAIL: $*" >&2; exit 1; }

"$FERRO" mrfs format "$img" --segment-size 512 --segments 8 | grep -q "8 segments of 512 bytes" || fail format
printf 'hello, flash' > "$dir/a.txt"
head -c 700 /dev/urandom > "$dir/big.bin"
"$FERRO" mrfs put "$img" greeting.txt "$dir/a.txt" --time 1700000000 >/dev/null || fail put
"$FERRO" mrfs put "$img" big.bin "$dir/big.bin" >/dev/null || fail "put big"
echo -n "second version" | "$FERRO" mrfs put "$img" greeting.txt - --time 1700000100 >/dev/null || fail "put stdin"
[ "$("$FERRO" mrfs get "$img" greeting.txt)" = "second version" ] || fail "get newest"
"$FERRO" mrfs get "$img" big.bin "$dir/big.out" && cmp -s "$dir/big.bin" "$dir/big.out" || fail "get big"
ls_out=$("$FERRO" mrfs ls "$img")
echo "$ls_out" | grep -q "^greeting.txt .* 14  2023-11-14 22:15" || fail "ls shows name, size, time: $ls_out"
echo "$ls_out" | grep -q "2 files, 714 bytes" || fail "ls total: $ls_out"

# Many replaces force compactions; everything must survive them.
for i in $(seq 1 40); do
  echo "version $i" | "$FERRO" mrfs put "$img" counter - >/dev/null || fail "replace $i"
done
[ "$("$FERRO" mrfs get "$img" counter)" = "version 40" ] || fail "newest after replaces"
"$FERRO" mrfs get "$img" big.bin "$dir/big.out2" && cmp -s "$dir/big.bin" "$dir/big.out2" || fail "big after compactions"
"$FERRO" mrfs stat "$img" | grep -q "files        3" || fail stat
"$FERRO" mrfs stat "$img" | grep -Eq "erases       min [0-9]+, max [1-9]" || fail "stat erase counts"

"$FERRO" mrfs rm "$img" counter | grep -q "removed counter" || fail rm
"$FERRO" mrfs get "$img" counter 2>/dev/null && fail "get after rm"
"$FERRO" mrfs compact "$img" | grep -q "compacted" || fail compact
"$FERRO" mrfs ls "$img" | grep -q "2 files" || fail "ls after rm"

# Errors: a clear message and a non-zero exit.
err=$("$FERRO" mrfs put "$img" "bad name" "$dir/a.txt" 2>&1) && fail "bad name accepted"
echo "$err" | grep -q "bad name 'bad name'" || fail "bad name message: $err"
err=$("$FERRO" mrfs put "$img" "$(printf 'n%.0s' $(seq 1 41))" "$dir/a.txt" 2>&1) && fail "long name accepted"
echo "$err" | grep -q "longer than 40" || fail "long name message: $err"
err=$("$FERRO" mrfs get "$img" nothing 2>&1) && fail "missing file"
echo "$err" | grep -q "no such file" || fail "missing file message: $err"
head -c 5000 /dev/urandom > "$dir/junk.img"
err=$("$FERRO" mrfs ls "$dir/junk.img" 2>&1) && fail "junk image accepted"
echo "$err" | grep -q "not a flash image" || fail "junk image message: $err"
err=$("$FERRO" mrfs ls "$dir/none.img" 2>&1) && fail "missing image accepted"
"$FERRO" mrfs frobnicate "$img" 2>/dev/null && fail "unknown command accepted"
head -c 3000 /dev/zero > "$dir/huge.bin"
err=$("$FERRO" mrfs put "$img" huge "$dir/huge.bin" 2>&1) && fail "oversized file accepted"
echo "$err" | grep -q "no_space" || fail "oversized message: $err"

# A damaged image still mounts its valid part and says what it stepped over.
printf '\x00\x00\x00\x00' | dd of="$img" bs=1 seek=3000 conv=notrunc status=none
"$FERRO" mrfs ls "$img" 2>"$dir/warn" | grep -q "greeting.txt" || fail "damaged image lost a file"
grep -q "unreadable bytes" "$dir/warn" || fail "damage not reported"
echo "ferro mrfs CLI: all checks passed"
