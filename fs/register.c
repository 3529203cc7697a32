/*
** register: see register.h.
*/
#include "fs/register.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/io.h"
#include "crypto/sign.h"
#include "crypto/tag.h"
#include "fs/control.h"
#include "fs/history/history.h"
#include "fs/vault.h"

static const char zero_hash[RFS_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): then the 32 key bytes. */
static const uint8_t ed25519_spki_prefix[12] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};

void rfs_register_hash_hex(const void *data, size_t len, char out[RFS_HASH_HEX + 1])
{
	uint8_t h[RFS_SHA256_SIZE];

	rfs_sha256(h, data, len);
	rfs_hex_encode(out, h, sizeof(h));
}

/* ---- writing a line ------------------------------------------------------ */

/* The fields up to and including prev-entry-hash, each followed by a tab but the last. */
static void put_hashed_part(FILE *f, const struct rfs_register_entry *e)
{
	const char *text[] = { e->timestamp, e->path, e->class_name, e->rule, e->policy_rev,
	                       e->trigger, e->due, e->approved_by, e->run_by, e->review,
	                       e->organisation, e->authority };

	fprintf(f, "%" PRIu64, e->number);
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		fputc('\t', f);
		rfs_control_put_field(f, text[i] ? text[i] : "");
	}
	fprintf(f, "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s", e->files, e->folders,
	        e->versions, e->ids_sha256, e->prev_hash);
}

static void sign_hash(const char hash[RFS_HASH_HEX + 1], const struct rfs_keys *k, char *out)
{
	uint8_t sig[RFS_SIGNATURE_SIZE];

	rfs_sign(sig, hash, RFS_HASH_HEX, k);
	rfs_b64_std_encode(out, sig, sizeof(sig));
}

int rfs_register_next_line(const struct rfs_register *reg, struct rfs_register_entry *e,
                           const struct rfs_keys *k, char **line)
{
	return rfs_register_line_after(reg->count ? &reg->entries[reg->count - 1] : NULL, e, k,
	                               line);
}

int rfs_register_line_after(const struct rfs_register_entry *last, struct rfs_register_entry *e,
                            const struct rfs_keys *k, char **line)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	e->number = last ? last->number + 1 : 1;
	memcpy(e->prev_hash, last ? last->entry_hash : zero_hash, RFS_HASH_HEX + 1);
	put_hashed_part(f, e);
	if (fflush(f) != 0) {
		fclose(f);
		free(text);
		return -ENOMEM;
	}
	rfs_register_hash_hex(text, len, e->entry_hash);
	sign_hash(e->entry_hash, k, e->signature);
	fprintf(f, "\t%s\t%s\n", e->entry_hash, e->signature);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*line = text;
	return 0;
}

/* ---- reading and checking ------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !*end && errno == 0;
}

static bool is_hash(const char *s)
{
	if (strlen(s) != RFS_HASH_HEX)
		return false;
	for (; *s; s++) {
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	}
	return true;
}

static void problem(struct rfs_register *reg, FILE *report, size_t lineno, const char *what)
{
	if (report && lineno)
		fprintf(report, "disposal register: line %zu: %s\n", lineno, what);
	else if (report)
		fprintf(report, "disposal register: %s\n", what);
	reg->problems++;
}

/* A line of n fields (RFS_REGISTER_FIELDS, or RFS_REGISTER_FIELDS_OLD without organisation
** and authority) into e. */
static bool fill_entry(char *fld[RFS_REGISTER_FIELDS], int n, struct rfs_register_entry *e)
{
	const char **text[] = { &e->timestamp, &e->path, &e->class_name, &e->rule, &e->policy_rev,
	                        &e->trigger, &e->due, &e->approved_by, &e->run_by, &e->review,
	                        &e->organisation, &e->authority };
	size_t ntext = sizeof(text) / sizeof(text[0]) - (n == RFS_REGISTER_FIELDS_OLD ? 2 : 0);
	char **tail = fld + 1 + ntext;            /* files folders versions ids prev entry sig */

	memset(e, 0, sizeof(*e));
	if (!parse_u64(fld[0], &e->number) || !parse_u64(tail[0], &e->files) ||
	    !parse_u64(tail[1], &e->folders) || !parse_u64(tail[2], &e->versions) ||
	    !is_hash(tail[3]) || !is_hash(tail[4]) || !is_hash(tail[5]) ||
	    strlen(tail[6]) >= sizeof(e->signature))
		return false;
	for (size_t i = 0; i < ntext; i++)
		*text[i] = fld[1 + i];
	memcpy(e->ids_sha256, tail[3], RFS_HASH_HEX + 1);
	memcpy(e->prev_hash, tail[4], RFS_HASH_HEX + 1);
	memcpy(e->entry_hash, tail[5], RFS_HASH_HEX + 1);
	memcpy(e->signature, tail[6], strlen(tail[6]) + 1);
	return true;
}

/* Check one line (raw: before any field is split) against the entry before it. */
static void check_line(struct rfs_register *reg, FILE *report, size_t lineno, const char *raw,
                       size_t rawlen, int nfields, const struct rfs_register_entry *e,
                       const struct rfs_keys *k)
{
	const struct rfs_register_entry *prev = reg->count ? &reg->entries[reg->count - 1] : NULL;
	const char *hashed_end = NULL;
	char hash[RFS_HASH_HEX + 1];
	uint8_t sig[RFS_SIGNATURE_SIZE];
	int tabs = 0;

	for (size_t i = 0; i < rawlen && !hashed_end; i++) {
		if (raw[i] == '\t' && ++tabs == nfields - 2)
			hashed_end = raw + i;
	}
	rfs_register_hash_hex(raw, (size_t)(hashed_end - raw), hash);
	if (e->number != (prev ? prev->number + 1 : 1))
		problem(reg, report, lineno, "disposal number out of order (a line removed, moved or added)");
	if (strcmp(e->prev_hash, prev ? prev->entry_hash : zero_hash) != 0)
		problem(reg, report, lineno, "does not link to the line before (a line removed, moved or changed)");
	if (!rfs_tag_equal((const uint8_t *)hash, (const uint8_t *)e->entry_hash, RFS_HASH_HEX))
		problem(reg, report, lineno, "entry hash does not match its line (changed)");
	if (rfs_b64_std_decode(sig, sizeof(sig), e->signature, strlen(e->signature)) !=
	            (long)sizeof(sig) ||
	    rfs_sign_verify(sig, e->entry_hash, RFS_HASH_HEX, k) != 0)
		problem(reg, report, lineno, "signature does not verify with the vault's key (forged)");
}

int rfs_register_load(const char *text, size_t len, const struct rfs_keys *k,
                      struct rfs_register *reg, FILE *report)
{
	size_t cap = 0, lineno = 0;
	char *p, *end;

	memset(reg, 0, sizeof(*reg));
	reg->text = malloc(len + 1);
	if (!reg->text)
		return -ENOMEM;
	memcpy(reg->text, text, len);
	reg->text[len] = '\0';
	if (len && text[len - 1] != '\n')
		problem(reg, report, 0, "the last line is cut short");
	for (p = reg->text; p < reg->text + len; p = end + 1) {
		char *fld[RFS_REGISTER_FIELDS + 1], *raw;
		struct rfs_register_entry e;
		size_t rawlen;
		int nfields;

		end = memchr(p, '\n', (size_t)(reg->text + len - p));
		if (!end)
			end = reg->text + len;
		*end = '\0';
		lineno++;
		rawlen = (size_t)(end - p);
		raw = strndup(p, rawlen);
		if (!raw)
			return -ENOMEM;
		nfields = strlen(p) != rawlen ? -1 : rfs_control_split_fields(p, fld, RFS_REGISTER_FIELDS + 1);
		if ((nfields != RFS_REGISTER_FIELDS && nfields != RFS_REGISTER_FIELDS_OLD) ||
		    !fill_entry(fld, nfields, &e)) {
			problem(reg, report, lineno, "malformed line");
			free(raw);
			continue;
		}
		check_line(reg, report, lineno, raw, rawlen, nfields, &e, k);
		free(raw);
		if (reg->count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct rfs_register_entry *n = realloc(reg->entries, ncap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			reg->entries = n;
			cap = ncap;
		}
		reg->entries[reg->count++] = e;
	}
	return 0;
}

void rfs_register_free(struct rfs_register *reg)
{
	free(reg->entries);
	free(reg->text);
	memset(reg, 0, sizeof(*reg));
}

const struct rfs_register_entry *rfs_register_find(const struct rfs_register *reg, uint64_t n)
{
	for (size_t i = 0; i < reg->count; i++) {
		if (reg->entries[i].number == n)
			return &reg->entries[i];
	}
	return NULL;
}

/* ---- the certificate ----------------------------------------------------- */

static void put_cert_line(FILE *f, const char *key, const char *value)
{
	if (!value || !*value)
		value = "-";
	fprintf(f, "%s: ", key);
	for (; *value; value++)      /* one line each: a line break in a value is shown, not kept */
		fputc(*value == '\n' || *value == '\r' ? ' ' : *value, f);
	fputc('\n', f);
}

int rfs_register_certificate(const struct rfs_register_entry *e, const char *organisation,
                             const char *authority, const struct rfs_keys *k, char **out)
{
	uint8_t der[sizeof(ed25519_spki_prefix) + 32], sig[RFS_SIGNATURE_SIZE];
	char *text = NULL, number[24], counts[96], pem[80], sigtext[96];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return -ENOMEM;
	snprintf(number, sizeof(number), "%" PRIu64, e->number);
	snprintf(counts, sizeof(counts), "%" PRIu64 " files, %" PRIu64 " folders, %" PRIu64 " versions",
	         e->files, e->folders, e->versions);
	if (e->organisation)              /* kept in the line: what held at the disposal */
		organisation = e->organisation;
	if (e->authority)
		authority = e->authority;
	fputs("CERTIFICATE OF DESTRUCTION\n", f);
	put_cert_line(f, "organisation", organisation);
	put_cert_line(f, "disposal", number);
	put_cert_line(f, "record", e->path);
	put_cert_line(f, "class", e->class_name);
	put_cert_line(f, "authority", authority);
	put_cert_line(f, "rule", e->rule);
	put_cert_line(f, "policy-revision", e->policy_rev);
	put_cert_line(f, "trigger-date", e->trigger);
	put_cert_line(f, "due-date", e->due);
	put_cert_line(f, "destroyed-at", e->timestamp);
	put_cert_line(f, "approved-by", e->approved_by);
	put_cert_line(f, "run-by", e->run_by);
	put_cert_line(f, "review", e->review);
	put_cert_line(f, "destroyed", counts);
	put_cert_line(f, "register-entry-hash", e->entry_hash);
	if (fflush(f) != 0) {
		fclose(f);
		free(text);
		return -ENOMEM;
	}
	rfs_sign(sig, text, len, k);
	rfs_b64_std_encode(sigtext, sig, sizeof(sig));
	memcpy(der, ed25519_spki_prefix, sizeof(ed25519_spki_prefix));
	memcpy(der + sizeof(ed25519_spki_prefix), k->sign_pk, 32);
	rfs_b64_std_encode(pem, der, sizeof(der));
	fprintf(f, "public-key:\n-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", pem);
	fprintf(f, "signature: %s\n", sigtext);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	return 0;
}

/* ---- recfs verify ------------------------------------------------------------ */

/* The whole of fd (from its start), malloc'd; NULL when it cannot be read. */
static char *slurp(int fd, size_t *len)
{
	struct stat st;
	char *buf;

	if (fstat(fd, &st) != 0 || !(buf = malloc((size_t)st.st_size + 1)))
		return NULL;
	if (rfs_io_pread_all(fd, buf, (size_t)st.st_size, 0) < 0) {
		free(buf);
		return NULL;
	}
	*len = (size_t)st.st_size;
	return buf;
}

/* Entry e's list VAULT/disposed/N is there and hashes to its ids-sha256. */
static void check_list(struct rfs_register *reg, const struct rfs_register_entry *e,
                       int listdir, FILE *report)
{
	char name[24], hash[RFS_HASH_HEX + 1], what[160];
	int fd;
	size_t len = 0;
	char *ids = NULL;

	snprintf(name, sizeof(name), "%" PRIu64, e->number);
	fd = listdir < 0 ? -1 : openat(listdir, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		ids = slurp(fd, &len);
	if (fd >= 0)
		close(fd);
	if (!ids) {
		snprintf(what, sizeof(what), "disposal %" PRIu64 ": its list %s/%s is missing",
		         e->number, RFS_DISPOSED_DIR, name);
		problem(reg, report, 0, what);
		return;
	}
	rfs_register_hash_hex(ids, len, hash);
	free(ids);
	if (strcmp(hash, e->ids_sha256) != 0) {
		snprintf(what, sizeof(what), "disposal %" PRIu64 ": its list %s/%s was changed",
		         e->number, RFS_DISPOSED_DIR, name);
		problem(reg, report, 0, what);
	}
}

unsigned long rfs_register_verify(struct rfs_history *h, struct rfs_vault *v, FILE *report)
{
	char rev[RFS_REV_HEX + 1], *text = NULL;
	struct rfs_register reg = { 0 };
	uint64_t seq;
	size_t len = 0;
	int fd, listdir, rc;

	if (rfs_history_head(h, rev, &seq) < 0)
		return 0;                            /* no history yet: no register either */
	fd = memfd_create("recfs-register", MFD_CLOEXEC);
	rc = fd < 0 ? -errno : rfs_history_read(h, rev, "/" RFS_REGISTER_PATH, fd);
	if (rc == 0 && !(text = slurp(fd, &len)))
		rc = -EIO;
	if (fd >= 0)
		close(fd);
	if (rc == -ENOENT)
		return 0;                            /* nothing was ever disposed */
	if (rc < 0 || rfs_register_load(text, len, v->keys, &reg, report) < 0) {
		if (report)
			fprintf(report, "disposal register: cannot be read (%s)\n", strerror(rc < 0 ? -rc : ENOMEM));
		free(text);
		rfs_register_free(&reg);
		return 1;
	}
	free(text);
	listdir = openat(v->dirfd, RFS_DISPOSED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < reg.count; i++)
		check_list(&reg, &reg.entries[i], listdir, report);
	if (listdir >= 0)
		close(listdir);
	unsigned long problems = reg.problems;

	rfs_register_free(&reg);
	return problems;
}
