/* Unit tests of fs/register: the disposal register's lines, their hash chain and
** signatures, and the certificate, with real keys. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/digest.h"
#include "crypto/sign.h"
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

/* The certificate of e, given organisation and authority, holds each of the n texts of want. */
static void certificate_says(const struct rfs_register_entry *e, const char *organisation,
                             const char *authority, const struct rfs_keys *k,
                             const char *const *want, size_t n)
{
	char *cert;

	cr_assert_eq(rfs_register_certificate(e, organisation, authority, k, &cert), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert(strstr(cert, want[i]), "no '%s' in:\n%s", want[i], cert);
	free(cert);
}

Test(register, certificate_ends_in_key_and_signature)
{
	static const char *const want[] = {
		"record: cases/a\n", "organisation: Anytown Council\n",
		"\npublic-key:\n-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA", "\nsignature: ",
	};
	struct rfs_keys *k = test_random_keys();
	struct rfs_register_entry e = sample("cases/a");

	certificate_says(&e, "Anytown Council", "NHS code", k, want, 4);
	rfs_keys_free(k);
}

Test(register, a_line_keeps_the_organisation_and_authority_of_its_disposal)
{
	struct rfs_keys *k = test_random_keys();
	struct rfs_register_entry e = sample("cases/a");
	static const char *const want[] = { "organisation: Anytown Council\n", "authority: NHS code\n" };
	struct rfs_register reg;
	char *line;

	e.organisation = "Anytown Council";
	e.authority = "NHS code";
	cr_assert_eq(rfs_register_line_after(NULL, &e, k, &line), 0);
	cr_assert_eq(rfs_register_load(line, strlen(line), k, &reg, NULL), 0);
	cr_assert_eq(reg.problems, 0);
	cr_assert_str_eq(reg.entries[0].class_name, "case");
	cr_assert_str_eq(reg.entries[0].organisation, "Anytown Council");
	cr_assert_str_eq(reg.entries[0].authority, "NHS code");
	cr_assert_eq(reg.entries[0].versions, 9);
	/* the policy in force later says otherwise: the certificate keeps the line's */
	certificate_says(&reg.entries[0], "Othertown", "later code", k, want, 2);
	rfs_register_free(&reg);
	free(line);
	rfs_keys_free(k);
}

Test(register, a_line_of_18_fields_still_checks_and_the_next_follows_it)
{
	struct rfs_keys *k = test_random_keys();
	struct rfs_register_entry e = sample("cases/b");
	struct rfs_register reg;
	uint8_t sig[RFS_SIGNATURE_SIZE];
	static const char *const want[] = { "organisation: Anytown Council\n" };
	char hashed[512], hash[RFS_HASH_HEX + 1], sigtext[96], *text, *line;

	snprintf(hashed, sizeof(hashed), "1\t2026-12-01T10:00:00Z\tcases/a\tcase\t8 years after "
	         "closed\t3\t2017-01-01\t2025-01-01\tann(1001)\tjo(1002)\tapproved\t3\t1\t9\t%s\t%064d",
	         e.ids_sha256, 0);
	rfs_register_hash_hex(hashed, strlen(hashed), hash);
	rfs_sign(sig, hash, RFS_HASH_HEX, k);
	rfs_b64_std_encode(sigtext, sig, sizeof(sig));
	cr_assert_gt(asprintf(&text, "%s\t%s\t%s\n", hashed, hash, sigtext), 0);
	cr_assert_eq(rfs_register_load(text, strlen(text), k, &reg, NULL), 0);
	cr_assert_eq(reg.problems, 0);
	cr_assert_null(reg.entries[0].organisation);
	cr_assert_eq(reg.entries[0].versions, 9);
	certificate_says(&reg.entries[0], "Anytown Council", NULL, k, want, 1);
	e.organisation = "Anytown Council";
	cr_assert_eq(rfs_register_next_line(&reg, &e, k, &line), 0);
	rfs_register_free(&reg);
	text = realloc(text, strlen(text) + strlen(line) + 1);
	strcat(text, line);
	cr_assert_eq(rfs_register_load(text, strlen(text), k, &reg, NULL), 0);
	cr_assert_eq(reg.problems, 0);
	cr_assert_eq(reg.count, 2);
	cr_assert_str_eq(reg.entries[1].organisation, "Anytown Council");
	rfs_register_free(&reg);
	free(line);
	free(text);
	rfs_keys_free(k);
}
