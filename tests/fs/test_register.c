/* Unit tests of fs/register: the disposal register's lines, their hash chain and
** signatures, and the certificate, with real keys. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fs/register.h"
#include "tests/crypto/test_helpers.h"

static struct rfs_register_entry sample(const char *path)
{
	struct rfs_register_entry e = {
		.timestamp = "2026-12-01T10:00:00Z", .path = path, .class_name = "case",
		.rule = "8 years after closed", .policy_rev = "abc", .trigger = "2017-01-01",
		.due = "2025-01-01", .approved_by = "ann(1001)", .run_by = "jo(1002)",
		.review = "approved", .files = 3, .folders = 1, .versions = 9,
	};
	rfs_register_hash_hex("ids", 3, e.ids_sha256);
	return e;
}

/* A register of n lines, the paths given, in one malloc'd text. */
static char *make_register(const struct rfs_keys *k, const char *const *paths, size_t n)
{
	char *text = calloc(1, 1);
	struct rfs_register reg;

	for (size_t i = 0; i < n; i++) {
		struct rfs_register_entry e = sample(paths[i]);
		char *line;

		cr_assert_eq(rfs_register_load(text, strlen(text), k, &reg, NULL), 0);
		cr_assert_eq(reg.problems, 0);
		cr_assert_eq(rfs_register_next_line(&reg, &e, k, &line), 0);
		cr_assert_eq(e.number, i + 1);
		text = realloc(text, strlen(text) + strlen(line) + 1);
		strcat(text, line);
		free(line);
		rfs_register_free(&reg);
	}
	return text;
}

static unsigned long problems_of(const struct rfs_keys *k, const char *text)
{
	struct rfs_register reg;
	unsigned long n;

	cr_assert_eq(rfs_register_load(text, strlen(text), k, &reg, NULL), 0);
	n = reg.problems;
	rfs_register_free(&reg);
	return n;
}

Test(register, chain_checks_and_fields_survive)
{
	static const char *const paths[] = { "cases/a\tb%c", "cases/d", "contracts/e" };
	struct rfs_keys *k = test_random_keys();
	char *text = make_register(k, paths, 3);
	struct rfs_register reg;

	cr_assert_eq(rfs_register_load(text, strlen(text), k, &reg, NULL), 0);
	cr_assert_eq(reg.problems, 0);
	cr_assert_eq(reg.count, 3);
	cr_assert_str_eq(reg.entries[0].path, "cases/a\tb%c");
	cr_assert_str_eq(reg.entries[2].prev_hash, reg.entries[1].entry_hash);
	cr_assert_eq(rfs_register_find(&reg, 2)->versions, 9);
	rfs_register_free(&reg);
	free(text);
	rfs_keys_free(k);
}

Test(register, a_changed_removed_or_forged_line_is_found)
{
	static const char *const paths[] = { "cases/a", "cases/b", "cases/c" };
	struct rfs_keys *k = test_random_keys(), *other = test_random_keys();
	char *text = make_register(k, paths, 3), *copy = strdup(text), *second;

	/* changed: one character of a path */
	strstr(copy, "cases/b")[6] = 'x';
	cr_assert_gt(problems_of(k, copy), 0);
	/* removed: the middle line */
	strcpy(copy, text);
	second = strchr(copy, '\n') + 1;
	memmove(second, strchr(second, '\n') + 1, strlen(strchr(second, '\n') + 1) + 1);
	cr_assert_gt(problems_of(k, copy), 0);
	/* cut short */
	strcpy(copy, text);
	copy[strlen(copy) - 1] = '\0';
	cr_assert_gt(problems_of(k, copy), 0);
	/* forged: another key */
	cr_assert_gt(problems_of(other, text), 0);
	cr_assert_eq(problems_of(k, text), 0);
	free(copy);
	free(text);
	rfs_keys_free(k);
	rfs_keys_free(other);
}

Test(register, certificate_ends_in_key_and_signature)
{
	struct rfs_keys *k = test_random_keys();
	struct rfs_register_entry e = sample("cases/a");
	char *cert;

	cr_assert_eq(rfs_register_certificate(&e, "Anytown Council", "NHS code", k, &cert), 0);
	cr_assert(strstr(cert, "record: cases/a\n"));
	cr_assert(strstr(cert, "organisation: Anytown Council\n"));
	cr_assert(strstr(cert, "\npublic-key:\n-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"));
	cr_assert(strstr(cert, "\nsignature: "));
	free(cert);
	rfs_keys_free(k);
}
