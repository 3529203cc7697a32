#!/bin/bash
# restore_busy: a restore never loses a write whose fsync succeeded (issue 4,
# item 3). A program holds a file open, appends a line and fsyncs every 10 ms;
# a restore of that file runs 0.7 s in. recfs refuses a restore of a file open
# for writing (EBUSY, with a message saying so), so every acknowledged line
# must be in the file afterwards; once the program has closed it, the same
# restore succeeds at once and is one version "restored from".
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"

vlog() { recfs log "$@" --json-lines -n 1000000 2>/dev/null; }
jfield() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

printf 'first version\n' >"$M/journal"
recfs flush "$M" >/dev/null
r_first=$(vlog "$M/journal" | head -n 1 | jfield rev)
[ -n "$r_first" ] || die "no version of journal in history"

# The writer prints the number of each line whose write and fsync both succeeded.
cat >"$IT_TMP/writer.pl" <<'PERL'
use strict; use Fcntl; use IO::Handle; use Time::HiRes qw(time sleep);
sysopen(my $fh, $ARGV[0], O_WRONLY | O_APPEND) or die "open: $!";
STDOUT->autoflush(1);
my ($n, $end) = (0, time + $ARGV[1]);
while (time < $end) {
	$n++;
	my $l = "line $n\n";
	my $w = syswrite($fh, $l);
	print "$n\n" if defined $w && $w == length($l) && $fh->sync;
	sleep 0.01;
}
close($fh) or print STDERR "close: $!\n";
PERL
perl "$IT_TMP/writer.pl" "$M/journal" 2.5 >"$IT_TMP/acked" 2>"$IT_TMP/writer.err" &
wpid=$!
sleep 0.7
recfs restore "$M/journal" --rev "$r_first" >"$IT_TMP/restore.out" 2>&1
restore_rc=$?
wait $wpid
acked=$(wc -l <"$IT_TMP/acked")
echo "# $acked lines acknowledged; restore exit $restore_rc: $(cat "$IT_TMP/restore.out")"
[ "$acked" -ge 20 ] || not_ok "the writer got only $acked lines through ($(cat "$IT_TMP/writer.err"))"

# Every acknowledged line must be in the file, or in a version in history.
missing=0
while read -r n; do
	grep -qx "line $n" "$M/journal" || { missing=$((missing + 1)); echo "$n" >>"$IT_TMP/missing"; }
done <"$IT_TMP/acked"
if [ "$missing" -gt 0 ]; then
	recfs flush "$M" >/dev/null
	for r in $(vlog "$M/journal" | jfield rev); do
		recfs show "$M/journal" --rev "$r" 2>/dev/null
	done | sort -u >"$IT_TMP/in-history"
	missing=0
	while read -r n; do
		grep -qx "line $n" "$IT_TMP/in-history" || missing=$((missing + 1))
	done <"$IT_TMP/missing"
fi
assert_eq "every line whose fsync succeeded is in the file or in history" 0 "$missing"
assert_eq "the restore of a file open for writing is refused" 2 "$restore_rc"
assert_match "the refusal says the file is open for writing" 'journal.*open for writing' \
	"$(cat "$IT_TMP/restore.out")"
assert_eq "the file still ends with the last acknowledged line" "line $(tail -n 1 "$IT_TMP/acked")" \
	"$(tail -n 1 "$M/journal")"

# Once it is closed, the restore goes through at once (the kernel's release may come late).
n0=$(vlog "$M/journal" | wc -l)
check "restore right after the writer closed the file" recfs restore "$M/journal" --rev "$r_first"
assert_eq "the restored content shows" "first version" "$(cat "$M/journal")"
recfs flush "$M" >/dev/null
assert_eq "the restore is one new version" 1 "$(($(vlog "$M/journal" | wc -l) - n0))"
assert_match "... restored from the first version" "\"what\":\"restored from ${r_first:0:12}" \
	"$(vlog "$M/journal" | head -n 1)"

# A reader does not block a restore; its open handle keeps what it had.
exec 7<"$M/journal"
check "restore while the file is open only for reading" recfs restore "$M/journal" --rev "$r_first"
exec 7<&-
umount_vault "$M" "$V"
finish
