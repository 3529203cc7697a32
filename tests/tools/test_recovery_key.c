/*
** test_recovery_key: the recovery key's printed form reads back to the same canonical text,
** whatever case and separators it is typed with, and a mistyped one is refused by its check.
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "tools/recovery_key.h"

static void init(void)
{
	cr_assert_geq(sodium_init(), 0);
}

TestSuite(recovery_key, .init = init);

Test(recovery_key, printed_form_reads_back)
{
	struct rfs_secret *canon, *grouped, *back;
	char err[256], typed[128];

	cr_assert_eq(rfs_recovery_key_generate(&canon, &grouped), 0);
	cr_assert_eq(canon->len, RFS_RECOVERY_KEY_CHARS);
	cr_assert_eq(grouped->len, 14 * 4 + 13, "%s", grouped->text);
	cr_assert_eq(rfs_recovery_key_parse(grouped->text, grouped->len, &back, err, sizeof(err)), 0,
	             "%s", err);
	cr_assert_str_eq(back->text, canon->text);
	rfs_secret_free(back);
	/* Lower case, spaces for dashes: the same key. */
	for (size_t i = 0; i <= grouped->len; i++)
		typed[i] = grouped->text[i] == '-' ? ' ' : (char)(grouped->text[i] | 0x20);
	cr_assert_eq(rfs_recovery_key_parse(typed, strlen(typed), &back, err, sizeof(err)), 0,
	             "%s", err);
	cr_assert_str_eq(back->text, canon->text);
	rfs_secret_free(back);
	/* One character changed: the check group refuses it. */
	strcpy(typed, grouped->text);
	typed[0] = typed[0] == 'A' ? 'B' : 'A';
	cr_assert_eq(rfs_recovery_key_parse(typed, strlen(typed), &back, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "last group"), "%s", err);
	/* A group short, or a character outside the alphabet. */
	cr_assert_eq(rfs_recovery_key_parse(grouped->text, grouped->len - 5, &back, err,
	                                    sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "too short"), "%s", err);
	strcpy(typed, grouped->text);
	typed[0] = '9';
	cr_assert_eq(rfs_recovery_key_parse(typed, strlen(typed), &back, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "not A-Z or 2-7"), "%s", err);
	rfs_secret_free(canon);
	rfs_secret_free(grouped);
}
