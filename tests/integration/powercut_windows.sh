#!/bin/bash
# powercut_windows: the power-cut windows that only the daemon can hit. A fault
# point (RECFS_FAULT_CUT, a build with -Dfault_points=true) cuts the power to
# the vault's ext4 image at one exact place in a write path; then the image
# comes back as after a reboot and the vault is mounted again. One scenario
# per defect of the power-cut issue that powercut.sh cannot reach from outside.
# Must never: cut any file system but its own image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/powercut_lib.sh"

pc_setup 256
pc_hold_writeback

# Slot numbers are never handed out again after a cut lost the slot file's
# tail: a key entry written but not yet durable when the power goes, then a
# new file after the reboot must get a slot no file ever had.
pc_new_vault slots
pc_mount_cut_at file_created:2
pc_write first.txt 3000            # file_created pass 1; its fsync makes its key durable
sleep 2                            # published: everything so far is durable
before=$(pc_slots "$PC_V/live" | sort -n | tail -1)
printf 'never fsyncd\n' >"$PC_M/lost.txt" 2>/dev/null   # pass 2: its entry written, then the cut
pc_wait_cut file_created
pc_after_cut
pc_mount
pc_check_promises "a key entry lost in a cut"
printf 'after the cut\n' >"$PC_M/next.txt"
check "a file made after the cut is written" recfs flush "$PC_M"
after=$(pc_slots "$PC_V/live" | sort -n | tail -1)
[ -n "$before" ] && [ -n "$after" ] || die "no key slot read from live/ ($before, $after)"
if [ "$after" -gt $((before + 1)) ]; then
	ok "the new file's slot $after was never handed out (the lost one was $((before + 1)))"
else
	not_ok "the new file got slot $after, handed out before the cut (the lost file's was $((before + 1)))"
fi
assert_eq "the new file reads back" "after the cut" "$(cat "$PC_M/next.txt" 2>&1)"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a key entry lost in a cut"

# op_fsync makes the key durable before the data: a cut between the two leaves
# a file that is absent, empty or whole, never content whose key is gone.
pc_new_vault fsync_key
pc_mount_cut_at fsync_key_synced:1
sleep 1
python3 - "$PC_M/new.bin" <<'PY' 2>/dev/null
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, os.urandom(10000))
os.fsync(fd)                       # the cut comes inside this fsync
PY
pc_wait_cut fsync_key_synced
pc_after_cut
pc_mount
echo "# after the cut: $(ls -l "$PC_M/new.bin" 2>&1)"
if [ -e "$PC_M/new.bin" ]; then
	check "a file cut inside its first fsync reads (absent, empty or whole)" cat "$PC_M/new.bin"
else
	ok "a file cut inside its first fsync is absent"
fi
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a cut inside fsync"

# The signed head record's rename is followed by an fsync of its folder: a cut
# right after the mount turned the record from "clean" to "dirty" must find it
# dirty, or the next mount would trust a clean mark that the session that
# followed had already broken. (On ext4 any later fdatasync through the mount
# commits the journal and the rename with it, so only this cut shows it.)
pc_new_vault head
pc_mount
pc_write doc.bin 8192 5
umount_vault "$PC_M" "$PC_V"       # closed clean
RECFS_FAULT_CUT=head_written:1 pc_mount_quiet
pc_wait_cut head_written
pc_after_cut
assert_match "a cut right after the mount wrote its record: the record says dirty" \
	'^recfs-head 2 [0-9]+ [0-9a-f]+ dirty ' "$(cat "$PC_V/history.git/recfs/head" 2>&1)"
pc_mount
pc_check_promises "a cut right after the head record"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a cut right after the head record"

# An online restore fdatasyncs the restored file before linking it in and
# syncs its folder after: a cut right after it linked the file in keeps the
# restored content, both over an existing file and for a deleted one.
pc_new_vault restore
pc_mount
pc_write doc.txt 6000 1
pc_write gone.txt 5000 3
check "flush the first versions" recfs flush "$PC_M"
rev_doc=$(recfs log "$PC_M/doc.txt" --json-lines -n 1 2>/dev/null | sed -n 's/.*"rev":"\([0-9a-f]*\)".*/\1/p')
rev_gone=$(recfs log "$PC_M/gone.txt" --json-lines -n 1 2>/dev/null | sed -n 's/.*"rev":"\([0-9a-f]*\)".*/\1/p')
[ -n "$rev_doc" ] && [ -n "$rev_gone" ] || die "no revision of doc.txt or gone.txt in history"
want_doc=$(sha256sum <"$PC_M/doc.txt")
want_gone=$(sha256sum <"$PC_M/gone.txt")
pc_write doc.txt 7000 2
rm "$PC_M/gone.txt"
check "flush the newer state" recfs flush "$PC_M"
umount_vault "$PC_M" "$PC_V"
for what in "doc.txt $rev_doc $want_doc" "gone.txt $rev_gone $want_gone"; do
	set -- $what
	pc_mount_cut_at restore_linked:1
	recfs restore "$PC_M/$1" --rev "$2" >/dev/null 2>&1   # the cut comes inside it
	pc_wait_cut restore_linked
	pc_after_cut
	pc_mount
	assert_eq "a cut right after restore linked $1 in: the restored content is there" \
		"$3" "$(sha256sum <"$PC_M/$1" 2>&1 | cut -d' ' -f1)"
	umount_vault "$PC_M" "$PC_V"
done
pc_verify_clean "a cut inside an online restore"

# The clean mark is written only after live/ and keys/ are durable: files
# closed without fsync, then unmount, and the power goes right after the clean
# mark. The next mount trusts the mark, so live/ must be what it says.
pc_new_vault clean
pc_mount_cut_at clean_marked:1
for i in 1 2 3 4 5; do
	head -c $((i * 3000)) /dev/urandom >"$PC_M/closed$i.bin"
done
(cd "$PC_M" && sha256sum closed*.bin) >"$IT_TMP/closed.sums"
pid=$(daemon_pid "$PC_M")
recfs umount "$PC_M" >/dev/null 2>&1
wait "$pid" 2>/dev/null
pc_wait_cut clean_marked
pc_after_cut
if pc_mount_quiet; then
	ok "the vault mounts after a cut right after the clean mark"
	check "files closed before the clean mark read back" sh -c "cd '$PC_M' && sha256sum -c --quiet '$IT_TMP/closed.sums'"
	umount_vault "$PC_M" "$PC_V"
	pc_verify_clean "a cut after the clean mark"
else
	not_ok "the vault does not mount after a cut right after the clean mark: $(tail -c 600 "$PC_M.daemon.log" | tr '\n' '|')"
fi

# Never marked clean after a session in which recovery was needed but did not
# run: a cut leaves history behind live/, the next mount finds the disk full,
# so recovery cannot commit; that session must not close clean, so the mount
# after space is freed still recovers the fsync'd file into history.
pc_new_vault behind
pc_mount
pc_write late.txt 4000
pc_cut                             # at once: its version had no time to reach the ref
pc_fill_disk
pc_mount
pc_check_promises "a cut, then a mount on a full disk"
assert_match "recovery was put off by the full disk" 'catch up' "$(cat "$PC_M.daemon.log")"
umount_vault "$PC_M" "$PC_V"
rm -rf "$PC_DISK/fill"*
pc_mount
rev=$(recfs log "$PC_M/late.txt" --json-lines -n 1 2>/dev/null | sed -n 's/.*"rev":"\([0-9a-f]*\)".*/\1/p')
[ -n "$rev" ] && ok "the mount after space is freed recovers the fsync'd file into history" ||
	not_ok "the mount after space is freed left the fsync'd file out of history: $(recfs log "$PC_M/late.txt" 2>&1 | head -3 | tr '\n' '|')"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a recovery that a full disk put off"

# Two passwd runs at once, then the power goes as soon as both returned: the
# change that was reported done is the one that opens the vault after the
# reboot (recfs.conf: locked, temp + fsync + rename + folder fsync).
pc_new_vault passwd
printf 'first new\n' >"$IT_TMP/pw.a"
printf 'second new\n' >"$IT_TMP/pw.b"
recfs passwd "$PC_V" --passphrase-file "$PASSFILE" --new-passphrase-file "$IT_TMP/pw.a" \
	--insecure-fast-kdf >/dev/null 2>&1 &
pa=$!
recfs passwd "$PC_V" --passphrase-file "$PASSFILE" --new-passphrase-file "$IT_TMP/pw.b" \
	--insecure-fast-kdf >/dev/null 2>&1 &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
pc_cut
for who in "a $ra" "b $rb"; do
	set -- $who
	[ "$2" = 0 ] || continue
	check "passwd $1 reported success: its passphrase opens the vault after the cut" \
		recfs fsck "$PC_V" --passphrase-file "$IT_TMP/pw.$1"
done
[ "$ra" = 0 ] || [ "$rb" = 0 ] || not_ok "both passwd runs failed ($ra, $rb)"

# An O_TRUNC cuts the backing file to 0 bytes before it writes the new header;
# a cut between the two, with the journal already committed (":sync"), leaves
# a 0-byte backing file, which is an empty file (FORMAT.md), never EIO.
pc_new_vault emptied
pc_mount_cut_at emptied:1:sync
pc_write form.txt 5000
python3 - "$PC_M/form.txt" <<'PY' 2>/dev/null
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)   # the cut comes inside this open
os.write(fd, b"new content\n")
PY
pc_wait_cut emptied
pc_after_cut
ct_sizes=$(find "$PC_V/live" -type f -name '[!.]*' -printf '%s\n' | sort -n | head -1)
assert_eq "the cut left the backing file at 0 bytes" 0 "$ct_sizes"
pc_mount
pc_forget form.txt                  # opened with O_TRUNC: its content may be gone
assert_eq "a file emptied by the cut reads as empty" "" "$(cat "$PC_M/form.txt" 2>&1)"
check "and it can be written again" sh -c "printf again >'$PC_M/form.txt' && grep -qx again '$PC_M/form.txt'"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a file emptied by a cut"

finish
