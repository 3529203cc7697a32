/* Unit tests of fs/transfers: the transfer log's lines read back strictly (the append is
** tested on a real mount by tests/integration/transfers.sh). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/transfers.h"

#define SHA "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" \
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define LINE1 "1\tclose-service\t2026-12-01T17:00:00+01:00\t2026-11-30\tjane\tJane Doe\t" \
              "/Tele%09care\t/home/j/t.tar.age\t" SHA "\t1A2B3C4D5E6F7A8B\tRWQ=\t" \
              "Pennine Lifeline\tnote%0Atwo lines\t\t2\tage1a\tage1b\t1\t/Tele%09care/x%25y\n"
#define LINE2 "2\tconfirmed\t2026-12-02T09:00:00Z\t2026-12-02\tjane\tJane Doe\t/Tele%09care\t" \
              "/home/j/t.tar.age\t" SHA "\t1A2B3C4D5E6F7A8B\t\t\t\treceived ok\t0\t1\t/Tele%09care/x%25y\n"

Test(transfers, parses_fields_lists_and_escapes)
{
	const char *text = LINE1 LINE2;
	struct rfs_transfer_list *l;
	const struct rfs_transfer *t;

	cr_assert_eq(rfs_transfers_parse(text, strlen(text), &l, NULL, 0), 0);
	cr_assert_eq(l->count, 2);
	t = &l->entries[0];
	cr_assert_eq(t->kind, RFS_TRANSFER_CLOSE_SERVICE);
	cr_assert_eq(t->seq, 1);
	cr_assert_eq(t->when, 1796140800);
	cr_assert_str_eq(t->on, "2026-11-30");
	cr_assert_str_eq(t->name, "Jane Doe");
	cr_assert_str_eq(t->path, "/Tele\tcare");
	cr_assert_str_eq(t->note, "note\ntwo lines");
	cr_assert_null(t->receipt);
	cr_assert_eq(t->n_recipients, 2);
	cr_assert_str_eq(t->recipients[1], "age1b");
	cr_assert_eq(t->n_records, 1);
	cr_assert_str_eq(t->records[0], "/Tele\tcare/x%y");
	cr_assert_eq(l->ends[0], strlen(LINE1));
	cr_assert_eq(l->ends[1], strlen(text));
	cr_assert_str_eq(l->entries[1].receipt, "received ok");
	cr_assert_eq(l->entries[1].n_recipients, 0);
	/* find: the archive's entry, never the confirmation's */
	cr_assert_eq(rfs_transfers_find(l, SHA), &l->entries[0]);
	cr_assert_null(rfs_transfers_find(l, "00"));
	rfs_transfers_free(l);
}

Test(transfers, empty_log_is_empty)
{
	struct rfs_transfer_list *l;

	cr_assert_eq(rfs_transfers_parse("", 0, &l, NULL, 0), 0);
	cr_assert_eq(l->count, 0);
	rfs_transfers_free(l);
}

static void refused(const char *text, const char *why)
{
	struct rfs_transfer_list *l = (void *)1;
	char err[200];

	cr_assert_eq(rfs_transfers_parse(text, strlen(text), &l, err, sizeof(err)), -EINVAL, "%s", text);
	cr_assert_null(l);
	cr_assert(strstr(err, why), "'%s' does not say '%s'", err, why);
}

Test(transfers, refuses_what_is_not_a_log_line)
{
	char buf[2048];

	refused(LINE2, "line 1: its number");                        /* 2 first */
	refused(LINE1 LINE1, "line 2: its number");
	snprintf(buf, sizeof(buf), "%.*s", (int)strlen(LINE1) - 1, LINE1);
	refused(buf, "line 1: it does not end in a line feed");       /* cut short */
	refused("1\tlent\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\t\t\t\t\t\t\t0\t0\n", "unknown kind");
	refused("1\tarchive\t2026-12-01 17:00\t\tj\tJ\t/x\t\t\t\t\t\t\t\t0\t0\n", "timestamp");
	refused("1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\tABC\t\t\t\t\t\t0\t0\n", "sha512");
	refused("1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\t\t\t\t\t\t\t1\t0\n", "counts");
	refused("1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\t\t\t\t\t\t\t0\t2\t/a\n", "counts");
	refused("1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\t\t\t\t\t\t\t0\t01\t/a\n", "counts");
	refused("1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x%2\t\t\t\t\t\t\t\t0\t0\n", "escape");
	refused("1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\t\t\t\t\t\t0\t0\n", "too few");
}

/* minisign prints a key id without leading zeros (1 key in 16 has one); older logs kept all 16 */
static void key_id_read(const char *id, bool ok)
{
	char line[1024];
	struct rfs_transfer_list *l;

	snprintf(line, sizeof(line), "1\tarchive\t2026-12-01T17:00:00Z\t\tj\tJ\t/x\t\t\t%s\t\t\t\t\t0\t0\n", id);
	if (!ok) {
		refused(line, "key id");
		return;
	}
	cr_assert_eq(rfs_transfers_parse(line, strlen(line), &l, NULL, 0), 0, "%s", id);
	cr_assert_str_eq(l->entries[0].key_id, id);
	rfs_transfers_free(l);
}

Test(transfers, key_id_as_minisign_prints_it)
{
	key_id_read("8E9F8B0948B9135", true);
	key_id_read("0", true);
	key_id_read("08E9F8B0948B9135", true);
	key_id_read("18E9F8B0948B91355", false);
	key_id_read("8e9f8b0948b9135", false);
	key_id_read("8E9G", false);
}
