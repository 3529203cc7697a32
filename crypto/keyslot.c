/*
** keyslot: recfs.conf (the vault's only clear-text file) and its keyslots.
**
** Owns: the recfs.conf grammar (docs/FORMAT.md), its atomic rewrite, and
** wrapping the master key under a passphrase: Argon2id13 -> KEK, then
** XChaCha20-Poly1305 with AD "recfs-keyslot-v1" || vault id.
** Must never: write a secret to recfs.conf, keep a KEK or an unwrapped key
** outside sodium_malloc memory, or read past a format version it does not know.
*/
#include "crypto/keyslot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/io.h"

#define CONF_MAGIC "recfs-vault"
#define CONF_CIPHER "xchacha20poly1305"
#define CONF_KDF "argon2id13"
#define CONF_MAX_BYTES (64 * 1024)
#define CONF_LINE_MAX 1024
#define CONF_MAX_TOKENS 16
#define WRAP_AD_PREFIX "recfs-keyslot-v1"
#define WRAP_AD_LEN (sizeof(WRAP_AD_PREFIX) - 1 + 16)
#define KEK_SIZE 32
#define NOT_A_VAULT "not a recfs vault configuration (the first line must be '" \
	CONF_MAGIC " <version>')"
#define DEFAULT_CHUNK_BLOCKS 15u      /* 15 slots: a chunk fits in 64 KiB (history format 2) */
#define MAX_CHUNK_BLOCKS 65536u

_Static_assert(RFS_SALT_SIZE == crypto_pwhash_SALTBYTES, "salt size");

void rfs_keyslot_kdf_default(struct rfs_kdf *kdf)
{
	kdf->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
	kdf->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
}

void rfs_keyslot_kdf_insecure_fast(struct rfs_kdf *kdf)
{
	kdf->opslimit = crypto_pwhash_OPSLIMIT_MIN;
	kdf->memlimit = crypto_pwhash_MEMLIMIT_MIN;
}

static bool ops_is_valid(uint64_t ops)
{
	return ops >= crypto_pwhash_OPSLIMIT_MIN && ops <= crypto_pwhash_OPSLIMIT_MAX &&
	       ops <= RFS_KDF_OPS_MAX;
}

static bool mem_is_valid(uint64_t mem)
{
	return mem >= crypto_pwhash_MEMLIMIT_MIN && mem <= crypto_pwhash_MEMLIMIT_MAX &&
	       mem <= RFS_KDF_MEM_MAX;
}

static bool kdf_is_valid(const struct rfs_kdf *kdf)
{
	return ops_is_valid(kdf->opslimit) && mem_is_valid(kdf->memlimit);
}

static bool label_is_valid(const char *label)
{
	size_t len = strnlen(label, sizeof(((struct rfs_keyslot *)0)->label));

	if (len == 0 || len >= sizeof(((struct rfs_keyslot *)0)->label))
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = label[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '@' || ch == '-';
		if (!ok)
			return false;
	}
	return true;
}

void rfs_keyslot_conf_init(struct rfs_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->format_version = RFS_FORMAT_VERSION;
	snprintf(c->cipher, sizeof(c->cipher), "%s", CONF_CIPHER);
	c->block_size = 4096;
	c->chunk_blocks = DEFAULT_CHUNK_BLOCKS;
	randombytes_buf(c->vault_id, sizeof(c->vault_id));
}

/* ---- reading ---------------------------------------------------------- */

struct conf_parse {
	const char *path;
	char *err;
	size_t errsz;
	unsigned line;
};

__attribute__((format(printf, 3, 4)))
static int conf_error(const struct conf_parse *p, int rc, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (p->err == NULL || p->errsz == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (p->line > 0)
		snprintf(p->err, p->errsz, "%s: line %u: %s", p->path, p->line, why);
	else
		snprintf(p->err, p->errsz, "%s: %s", p->path, why);
	return rc;
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
	return strlen(s) == 2 * n && rfs_hex_decode(out, n, s) == 0;
}

static int split_tokens(char *line, char *tok[CONF_MAX_TOKENS])
{
	int n = 0;
	char *save = NULL;

	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == CONF_MAX_TOKENS)
			return -1;
		tok[n++] = t;
	}
	return n;
}

/* The first line decides whether this is a vault at all, and which version. */
static int parse_magic(const struct conf_parse *p, char *line, struct rfs_conf *c)
{
	char *tok[CONF_MAX_TOKENS];
	int n = split_tokens(line, tok);
	uint64_t version;

	if (n != 2 || strcmp(tok[0], CONF_MAGIC) != 0 || !parse_u64(tok[1], &version))
		return conf_error(p, -EINVAL, NOT_A_VAULT);
	if (version > RFS_FORMAT_VERSION)
		return conf_error(p, -EPROTONOSUPPORT, "vault format version %llu is newer than "
		                  "this recfs supports (%d); upgrade recfs",
		                  (unsigned long long)version, RFS_FORMAT_VERSION);
	if (version < RFS_FORMAT_VERSION_MIN)
		return conf_error(p, -EPROTONOSUPPORT, "vault format version %llu is older than this "
		                  "recfs supports (%d): this recfs cannot open it; open it with the "
		                  "recfs that made it, copy the files out, and copy them into a new "
		                  "vault made with 'recfs init' (there is no in-place migration)",
		                  (unsigned long long)version, RFS_FORMAT_VERSION_MIN);
	c->format_version = (unsigned)version;
	return 0;
}

/* F_ADDED is optional (vaults made before it have none: "unknown"). */
enum slot_field { F_LABEL, F_KDF, F_OPS, F_MEM, F_SALT, F_NONCE, F_WRAPPED, F_ADDED, F_COUNT };
static const char *const slot_field_names[F_COUNT] = {
	"label", "kdf", "ops", "mem", "salt", "nonce", "wrapped", "added",
};

static int parse_slot_field(const struct conf_parse *p, struct rfs_keyslot *s, enum slot_field f,
                            const char *val)
{
	bool ok = false;

	switch (f) {
	case F_LABEL:
		ok = label_is_valid(val);
		if (ok)
			snprintf(s->label, sizeof(s->label), "%s", val);
		break;
	case F_KDF:
		ok = strcmp(val, CONF_KDF) == 0;
		break;
	case F_OPS:
		ok = parse_u64(val, &s->kdf.opslimit);
		break;
	case F_MEM:
		ok = parse_u64(val, &s->kdf.memlimit);
		break;
	case F_SALT:
		ok = parse_hex(val, s->salt, sizeof(s->salt));
		break;
	case F_NONCE:
		ok = parse_hex(val, s->nonce, sizeof(s->nonce));
		break;
	case F_WRAPPED:
		ok = parse_hex(val, s->wrapped, sizeof(s->wrapped));
		break;
	case F_ADDED:
		ok = parse_u64(val, &s->added) && s->added > 0;
		break;
	case F_COUNT:
		break;
	}
	if (!ok)
		return conf_error(p, -EINVAL, "bad keyslot %s '%s'", slot_field_names[f], val);
	return 0;
}


/* "name=value" in tok: the index of name in names (count when it is unknown
** or there is no '='), with *value pointing after the '=' (tok is split). */
static int field_index(char *tok, const char *const *names, int count, char **value)
{
	char *eq = strchr(tok, '=');
	int f = 0;

	if (eq == NULL)
		return count;
	*eq = '\0';
	*value = eq + 1;
	while (f < count && strcmp(tok, names[f]) != 0)
		f++;
	return f;
}
static int parse_keyslot(const struct conf_parse *p, char **tok, int n, struct rfs_conf *c)
{
	uint64_t idx;
	bool seen[F_COUNT] = { false };
	struct rfs_keyslot *s;

	if (n < 2 || !parse_u64(tok[1], &idx) || idx >= RFS_MAX_KEYSLOTS)
		return conf_error(p, -EINVAL, "keyslot number must be 0..%d", RFS_MAX_KEYSLOTS - 1);
	s = &c->slots[idx];
	if (s->in_use)
		return conf_error(p, -EINVAL, "keyslot %llu appears twice", (unsigned long long)idx);
	for (int i = 2; i < n; i++) {
		char *value = NULL;
		int f = field_index(tok[i], slot_field_names, F_COUNT, &value);

		if (f == F_COUNT)
			return conf_error(p, -EINVAL, "unknown keyslot field '%s'", tok[i]);
		if (seen[f])
			return conf_error(p, -EINVAL, "keyslot field '%s' appears twice", tok[i]);
		seen[f] = true;
		int rc = parse_slot_field(p, s, (enum slot_field)f, value);
		if (rc != 0)
			return rc;
	}
	for (int f = 0; f < F_COUNT; f++)
		if (!seen[f] && f != F_ADDED)
			return conf_error(p, -EINVAL, "keyslot lacks field '%s'", slot_field_names[f]);
	if (!ops_is_valid(s->kdf.opslimit))
		return conf_error(p, -EINVAL, "keyslot %llu: ops=%llu is out of range (at least %llu, "
		                  "at most %u); restore recfs.conf from a backup",
		                  (unsigned long long)idx, (unsigned long long)s->kdf.opslimit,
		                  (unsigned long long)crypto_pwhash_OPSLIMIT_MIN, RFS_KDF_OPS_MAX);
	if (!mem_is_valid(s->kdf.memlimit))
		return conf_error(p, -EINVAL, "keyslot %llu: mem=%llu is out of range (at least %llu, "
		                  "at most %llu bytes); restore recfs.conf from a backup",
		                  (unsigned long long)idx, (unsigned long long)s->kdf.memlimit,
		                  (unsigned long long)crypto_pwhash_MEMLIMIT_MIN,
		                  (unsigned long long)RFS_KDF_MEM_MAX);
	s->in_use = 1;
	return 0;
}

enum conf_key { K_CIPHER, K_BLOCK_SIZE, K_CHUNK_BLOCKS, K_VAULT_ID, K_MAC, K_COUNT };
#define K_SETTINGS K_MAC          /* the settings the mac line covers */
static const char *const conf_key_names[K_COUNT] = {
	"cipher", "block-size", "chunk-blocks", "vault-id", "mac",
};
_Static_assert(K_SETTINGS == sizeof(((struct rfs_conf *)0)->tags) / RFS_CONF_TAG_SIZE,
               "one tag per setting");

/* "mac cipher=<hex> block-size=<hex> chunk-blocks=<hex> vault-id=<hex>" */
static int parse_mac(const struct conf_parse *p, char **tok, int n, struct rfs_conf *c)
{
	bool seen[K_SETTINGS] = { false };

	for (int i = 1; i < n; i++) {
		char *value = NULL;
		int k = field_index(tok[i], conf_key_names, K_SETTINGS, &value);

		if (k == K_SETTINGS || seen[k])
			return conf_error(p, -EINVAL, "bad mac field '%s'", tok[i]);
		if (!parse_hex(value, c->tags[k], RFS_CONF_TAG_SIZE))
			return conf_error(p, -EINVAL, "mac field '%s' must be %d hex digits", tok[i],
			                  2 * RFS_CONF_TAG_SIZE);
		seen[k] = true;
	}
	for (int k = 0; k < K_SETTINGS; k++)
		if (!seen[k])
			return conf_error(p, -EINVAL, "mac lacks the tag of '%s'", conf_key_names[k]);
	return 0;
}

static int parse_setting(const struct conf_parse *p, enum conf_key k, const char *val,
                         struct rfs_conf *c)
{
	uint64_t v;

	switch (k) {
	case K_CIPHER:
		if (strcmp(val, CONF_CIPHER) != 0)
			return conf_error(p, -EPROTONOSUPPORT, "cipher '%s' is not supported by "
			                  "this recfs (only " CONF_CIPHER ")", val);
		snprintf(c->cipher, sizeof(c->cipher), "%s", val);
		return 0;
	case K_BLOCK_SIZE:
		if (!parse_u64(val, &v) || v != 4096)
			return conf_error(p, -EPROTONOSUPPORT, "block-size '%s' is not supported by "
			                  "this recfs (only 4096)", val);
		c->block_size = (unsigned)v;
		return 0;
	case K_CHUNK_BLOCKS:
		if (!parse_u64(val, &v) || v == 0 || v > MAX_CHUNK_BLOCKS)
			return conf_error(p, -EINVAL, "chunk-blocks must be 1..%u", MAX_CHUNK_BLOCKS);
		c->chunk_blocks = (unsigned)v;
		return 0;
	case K_VAULT_ID:
		if (!parse_hex(val, c->vault_id, sizeof(c->vault_id)))
			return conf_error(p, -EINVAL, "vault-id must be 32 lower-case hex digits");
		return 0;
	case K_MAC:
	case K_COUNT:
		break;
	}
	return -EINVAL;
}

static int parse_line(const struct conf_parse *p, char *line, struct rfs_conf *c,
                      bool seen[K_COUNT])
{
	char *tok[CONF_MAX_TOKENS];
	int n = split_tokens(line, tok), k = 0;

	if (n < 0)
		return conf_error(p, -EINVAL, "too many fields");
	if (n == 0 || tok[0][0] == '#')
		return 0;
	if (strcmp(tok[0], "keyslot") == 0)
		return parse_keyslot(p, tok, n, c);
	while (k < K_COUNT && strcmp(tok[0], conf_key_names[k]) != 0)
		k++;
	if (k == K_COUNT)
		return conf_error(p, -EINVAL, "unknown setting '%s'", tok[0]);
	if (k == K_MAC) {
		if (seen[k])
			return conf_error(p, -EINVAL, "'mac' appears twice");
		seen[k] = true;
		return parse_mac(p, tok, n, c);
	}
	if (n != 2)
		return conf_error(p, -EINVAL, "'%s' takes exactly one value", tok[0]);
	if (seen[k])
		return conf_error(p, -EINVAL, "'%s' appears twice", tok[0]);
	seen[k] = true;
	return parse_setting(p, (enum conf_key)k, tok[1], c);
}

/* Copy line number p->line + 1 of text (from *pos) into line; false if it
** is too long or holds a NUL byte. */
static bool next_line(const char *text, size_t len, size_t *pos, char line[CONF_LINE_MAX])
{
	const char *nl = memchr(text + *pos, '\n', len - *pos);
	size_t line_len = (nl ? (size_t)(nl - text) : len) - *pos;
	bool ok = line_len < CONF_LINE_MAX && memchr(text + *pos, '\0', line_len) == NULL;

	if (ok) {
		memcpy(line, text + *pos, line_len);
		line[line_len] = '\0';
	}
	*pos += line_len + 1;
	return ok;
}

static int parse_conf(struct conf_parse *p, const char *text, size_t len, struct rfs_conf *c)
{
	bool seen[K_COUNT] = { false };
	char line[CONF_LINE_MAX];
	size_t pos = 0;
	int rc, slots = 0;

	memset(c, 0, sizeof(*c));
	if (len == 0 || !next_line(text, len, &pos, line))
		return conf_error(p, -EINVAL, NOT_A_VAULT);
	rc = parse_magic(p, line, c);
	for (p->line = 2; rc == 0 && pos < len; p->line++) {
		if (!next_line(text, len, &pos, line))
			return conf_error(p, -EINVAL, "line is too long or holds a NUL byte");
		rc = parse_line(p, line, c, seen);
	}
	p->line = 0;
	if (rc != 0)
		return rc;
	for (int k = 0; k < K_COUNT; k++)
		if (!seen[k])
			return conf_error(p, -EINVAL, "missing setting '%s'", conf_key_names[k]);
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++)
		slots += c->slots[i].in_use;
	if (slots == 0)
		return conf_error(p, -EINVAL, "no keyslot: the vault cannot be unlocked");
	return 0;
}

int rfs_keyslot_conf_read(const char *path, struct rfs_conf *c, char *err, size_t errsz)
{
	struct conf_parse p = { .path = path, .err = err, .errsz = errsz };
	char *text;
	size_t len = 0;
	struct stat st = { 0 };
	int fd, rc;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	/* O_NONBLOCK: a FIFO put in its place must not hang the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EACCES || rc == -EPERM)
			return conf_error(&p, -EPERM, "permission denied: this user (uid %ld) cannot "
			                  "read it; run recfs as the vault's owner, or ask them for access",
			                  (long)geteuid());
		return conf_error(&p, rc, "cannot open: %s", strerror(-rc));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CONF_MAX_BYTES) {
		rc = S_ISREG(st.st_mode) ? conf_error(&p, -EINVAL, "larger than %d bytes: not a recfs "
		                                      "vault configuration", CONF_MAX_BYTES)
		                         : conf_error(&p, -EINVAL, "not a regular file: not a recfs "
		                                      "vault configuration");
		close(fd);
		return rc;
	}
	text = malloc(CONF_MAX_BYTES + 1);
	if (text == NULL) {
		close(fd);
		return -ENOMEM;
	}
	rc = rfs_io_read_upto(fd, text, CONF_MAX_BYTES + 1, &len);
	close(fd);
	if (rc == 0 && len > CONF_MAX_BYTES)
		rc = conf_error(&p, -EINVAL, "larger than %d bytes: not a recfs vault "
		                "configuration", CONF_MAX_BYTES);
	else if (rc != 0)
		conf_error(&p, rc, "cannot read: %s", strerror(-rc));
	else
		rc = parse_conf(&p, text, len, c);
	free(text);
	return rc;
}

/* ---- authenticating the settings --------------------------------------- */

#define CONF_TAG_DOMAIN "recfs-conf-v2"

/* The canonical text of setting k, as format_conf writes it. */
static void setting_text(const struct rfs_conf *c, int k, char out[64])
{
	switch (k) {
	case K_CIPHER: snprintf(out, 64, "%s", c->cipher); break;
	case K_BLOCK_SIZE: snprintf(out, 64, "%u", c->block_size); break;
	case K_CHUNK_BLOCKS: snprintf(out, 64, "%u", c->chunk_blocks); break;
	default: rfs_hex_encode(out, c->vault_id, sizeof(c->vault_id)); break;
	}
}

/* tag = BLAKE2b-16(conf_key, "recfs-conf-v2" || 0 || version u32le || vault id ||
**                  setting name || 0 || canonical value) */
static void setting_tag(const struct rfs_conf *c, int k, const uint8_t key[32],
                        uint8_t tag[RFS_CONF_TAG_SIZE])
{
	crypto_generichash_state st;
	uint8_t version[4] = { (uint8_t)c->format_version, 0, 0, 0 };
	char value[64];

	setting_text(c, k, value);
	crypto_generichash_init(&st, key, 32, RFS_CONF_TAG_SIZE);
	crypto_generichash_update(&st, (const uint8_t *)CONF_TAG_DOMAIN, sizeof(CONF_TAG_DOMAIN));
	crypto_generichash_update(&st, version, sizeof(version));
	crypto_generichash_update(&st, c->vault_id, sizeof(c->vault_id));
	crypto_generichash_update(&st, (const uint8_t *)conf_key_names[k],
	                          strlen(conf_key_names[k]) + 1);
	crypto_generichash_update(&st, (const uint8_t *)value, strlen(value));
	crypto_generichash_final(&st, tag, RFS_CONF_TAG_SIZE);
}

void rfs_keyslot_conf_seal(struct rfs_conf *c, const uint8_t conf_key[32])
{
	for (int k = 0; k < K_SETTINGS; k++)
		setting_tag(c, k, conf_key, c->tags[k]);
}

int rfs_keyslot_conf_authenticate(const struct rfs_conf *c, const uint8_t conf_key[32], const char **bad)
{
	for (int k = 0; k < K_SETTINGS; k++) {
		uint8_t tag[RFS_CONF_TAG_SIZE];

		setting_tag(c, k, conf_key, tag);
		if (sodium_memcmp(tag, c->tags[k], sizeof(tag)) != 0) {
			if (bad != NULL)
				*bad = conf_key_names[k];
			return -EBADMSG;
		}
	}
	return 0;
}

/* ---- writing ---------------------------------------------------------- */

static int format_conf(char *buf, size_t bufsz, const struct rfs_conf *c)
{
	char vault_id[33];
	size_t used;
	int n;

	rfs_hex_encode(vault_id, c->vault_id, sizeof(c->vault_id));
	n = snprintf(buf, bufsz, CONF_MAGIC " %u\ncipher %s\nblock-size %u\nchunk-blocks %u\n"
	             "vault-id %s\n", c->format_version, c->cipher, c->block_size,
	             c->chunk_blocks, vault_id);
	if (n < 0 || (size_t)n >= bufsz)
		return -EOVERFLOW;
	used = (size_t)n;
	n = snprintf(buf + used, bufsz - used, "mac");
	used += (size_t)n;
	for (int k = 0; k < K_SETTINGS; k++) {
		char tag[2 * RFS_CONF_TAG_SIZE + 1];

		rfs_hex_encode(tag, c->tags[k], RFS_CONF_TAG_SIZE);
		n = snprintf(buf + used, bufsz - used, " %s=%s", conf_key_names[k], tag);
		if (n < 0 || (size_t)n >= bufsz - used - 1)
			return -EOVERFLOW;
		used += (size_t)n;
	}
	buf[used++] = '\n';
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++) {
		const struct rfs_keyslot *s = &c->slots[i];
		char salt[2 * RFS_SALT_SIZE + 1], nonce[2 * RFS_WRAP_NONCE_SIZE + 1];
		char wrapped[2 * RFS_WRAPPED_KEY_SIZE + 1];

		if (!s->in_use)
			continue;
		if (!label_is_valid(s->label) || !kdf_is_valid(&s->kdf))
			return -EINVAL;
		rfs_hex_encode(salt, s->salt, sizeof(s->salt));
		rfs_hex_encode(nonce, s->nonce, sizeof(s->nonce));
		rfs_hex_encode(wrapped, s->wrapped, sizeof(s->wrapped));
		n = snprintf(buf + used, bufsz - used,
		             "keyslot %d label=%s kdf=" CONF_KDF " ops=%llu mem=%llu salt=%s "
		             "nonce=%s wrapped=%s", i, s->label,
		             (unsigned long long)s->kdf.opslimit,
		             (unsigned long long)s->kdf.memlimit, salt, nonce, wrapped);
		if (n < 0 || (size_t)n >= bufsz - used)
			return -EOVERFLOW;
		used += (size_t)n;
		n = s->added ? snprintf(buf + used, bufsz - used, " added=%llu\n",
		                        (unsigned long long)s->added)
		             : snprintf(buf + used, bufsz - used, "\n");
		if (n < 0 || (size_t)n >= bufsz - used)
			return -EOVERFLOW;
		used += (size_t)n;
	}
	return (int)used;
}

static int write_file_synced(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return -errno;
	rc = rfs_io_write_all(fd, buf, len);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* The folder holding path, as a path: 0 or -ENAMETOOLONG. */
static int parent_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL ? 1 : (slash == path ? 1 : (size_t)(slash - path));

	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dir, slash == NULL ? "." : path, len);
	dir[len] = '\0';
	return 0;
}

/* The folder holding path, opened: a descriptor or -errno. */
static int open_parent(const char *path)
{
	char dir[PATH_MAX];
	int rc = parent_of(path, dir), fd;

	if (rc < 0)
		return rc;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	int rc = parent_of(path, dir);

	return rc < 0 ? rc : rfs_io_fsync_dir(AT_FDCWD, dir);
}

int rfs_keyslot_conf_write(const char *path, const struct rfs_conf *c)
{
	char buf[8192], tmp[PATH_MAX];
	int len = format_conf(buf, sizeof(buf), c), rc;

	if (len < 0)
		return len;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	rc = write_file_synced(tmp, buf, (size_t)len);
	if (rc == -EEXIST) {
		/* Left by a crash mid-write; the real file is still intact. */
		unlink(tmp);
		rc = write_file_synced(tmp, buf, (size_t)len);
	}
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	return fsync_parent(path);
}

/* The folder holding path, opened and locked (flock LOCK_EX): every
** read-modify-write of recfs.conf holds it, so two writers cannot lose each
** other's change, and a leftover temp file is never another writer's. */
static int lock_parent(const char *path)
{
	int fd = open_parent(path);

	if (fd < 0)
		return fd;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int rc = -errno;

			close(fd);
			return rc;
		}
	}
	return fd;
}

static bool same_slot(const struct rfs_keyslot *a, const struct rfs_keyslot *b)
{
	return a->in_use == b->in_use && strcmp(a->label, b->label) == 0 &&
	       sodium_memcmp(a->salt, b->salt, sizeof(a->salt)) == 0 &&
	       sodium_memcmp(a->nonce, b->nonce, sizeof(a->nonce)) == 0 &&
	       sodium_memcmp(a->wrapped, b->wrapped, sizeof(a->wrapped)) == 0 &&
	       a->kdf.opslimit == b->kdf.opslimit && a->kdf.memlimit == b->kdf.memlimit &&
	       a->added == b->added;
}

/* What cur would break if slot became now: -EEXIST (now's label is another
** slot's), -EBUSY (no slot left), or 0. */
static int replace_refused(const struct rfs_conf *cur, int slot, const struct rfs_keyslot *now)
{
	int left = now->in_use;

	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++) {
		if (i == slot || !cur->slots[i].in_use)
			continue;
		left++;
		if (now->in_use && strcmp(cur->slots[i].label, now->label) == 0)
			return -EEXIST;
	}
	return left == 0 ? -EBUSY : 0;
}

int rfs_keyslot_conf_replace_slot(const char *path, int slot, const struct rfs_keyslot *was,
                          const struct rfs_keyslot *now)
{
	struct rfs_conf cur;
	char err[256];
	int lock, rc;

	if (slot < 0 || slot >= RFS_MAX_KEYSLOTS)
		return -EINVAL;
	lock = lock_parent(path);
	if (lock < 0)
		return lock;
	rc = rfs_keyslot_conf_read(path, &cur, err, sizeof(err));
	if (rc == 0 && !same_slot(&cur.slots[slot], was))
		rc = -ESTALE;
	if (rc == 0)
		rc = replace_refused(&cur, slot, now);
	if (rc == 0) {
		cur.slots[slot] = *now;
		rc = rfs_keyslot_conf_write(path, &cur);
	}
	sodium_memzero(&cur, sizeof(cur));
	close(lock);   /* releases the flock */
	return rc;
}

/* ---- wrapping --------------------------------------------------------- */

static void wrap_ad(uint8_t ad[WRAP_AD_LEN], const struct rfs_conf *c)
{
	memcpy(ad, WRAP_AD_PREFIX, sizeof(WRAP_AD_PREFIX) - 1);
	memcpy(ad + sizeof(WRAP_AD_PREFIX) - 1, c->vault_id, sizeof(c->vault_id));
}

/* Argon2id13 into kek (sodium_malloc memory). 0, -EINVAL or -ENOMEM. */
static int derive_kek(uint8_t *kek, const char *pass, size_t passlen,
                      const uint8_t salt[RFS_SALT_SIZE], const struct rfs_kdf *kdf)
{
	if (!kdf_is_valid(kdf) || passlen > crypto_pwhash_PASSWD_MAX)
		return -EINVAL;
	if (crypto_pwhash(kek, KEK_SIZE, pass, passlen, salt, kdf->opslimit, (size_t)kdf->memlimit,
	                  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

/* Fill slot s (salt, nonce, kdf, wrapped) from a passphrase. */
static int wrap_slot(const struct rfs_conf *c, struct rfs_keyslot *s, const uint8_t master[32],
                     const char *pass, size_t passlen, const struct rfs_kdf *kdf)
{
	uint8_t ad[WRAP_AD_LEN];
	uint8_t *kek = sodium_malloc(KEK_SIZE);
	int rc;

	if (kek == NULL)
		return -ENOMEM;
	randombytes_buf(s->salt, sizeof(s->salt));
	rc = derive_kek(kek, pass, passlen, s->salt, kdf);
	if (rc == 0) {
		s->kdf = *kdf;
		randombytes_buf(s->nonce, sizeof(s->nonce));
		wrap_ad(ad, c);
		crypto_aead_xchacha20poly1305_ietf_encrypt(s->wrapped, NULL, master, 32, ad,
		                                           sizeof(ad), NULL, s->nonce, kek);
	}
	sodium_free(kek);                /* sodium_free wipes */
	return rc;
}

int rfs_keyslot_add(struct rfs_conf *c, const char *label, const uint8_t master[32],
                    const char *pass, size_t passlen, const struct rfs_kdf *kdf)
{
	struct rfs_keyslot fresh;
	int i = 0, rc;

	if (!label_is_valid(label) || !kdf_is_valid(kdf))
		return -EINVAL;
	while (i < RFS_MAX_KEYSLOTS && c->slots[i].in_use)
		i++;
	if (i == RFS_MAX_KEYSLOTS)
		return -ENOSPC;
	memset(&fresh, 0, sizeof(fresh));
	snprintf(fresh.label, sizeof(fresh.label), "%s", label);
	rc = wrap_slot(c, &fresh, master, pass, passlen, kdf);
	if (rc != 0)
		return rc;
	fresh.in_use = 1;
	fresh.added = (uint64_t)time(NULL);
	c->slots[i] = fresh;
	return i;
}

/* 0 when pass opens slot s (master written to master_out), -EACCES, -ENOMEM. */
static int try_slot(const struct rfs_conf *c, const struct rfs_keyslot *s, const char *pass,
                    size_t passlen, uint8_t *kek, uint8_t *master_out)
{
	uint8_t ad[WRAP_AD_LEN];
	int rc = derive_kek(kek, pass, passlen, s->salt, &s->kdf);

	if (rc == -EINVAL)
		return -EACCES;
	if (rc != 0)
		return rc;
	wrap_ad(ad, c);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(master_out, NULL, NULL, s->wrapped,
	                                               sizeof(s->wrapped), ad, sizeof(ad),
	                                               s->nonce, kek) != 0)
		return -EACCES;
	return 0;
}

int rfs_keyslot_unlock(const struct rfs_conf *c, const char *pass, size_t passlen,
                       uint8_t master_out[32], int *slot)
{
	uint8_t *kek = sodium_malloc(KEK_SIZE + 32);
	int rc = -EACCES;

	if (kek == NULL)
		return -ENOMEM;
	for (int i = 0; i < RFS_MAX_KEYSLOTS && rc != 0; i++) {
		if (!c->slots[i].in_use)
			continue;
		/* Unwrap into locked memory; copy out only what authenticated. */
		int r = try_slot(c, &c->slots[i], pass, passlen, kek, kek + KEK_SIZE);
		if (r == 0) {
			memcpy(master_out, kek + KEK_SIZE, 32);
			if (slot != NULL)
				*slot = i;
			rc = 0;
		} else if (r != -EACCES) {
			rc = r;
			break;
		}
	}
	sodium_free(kek);
	return rc;
}

int rfs_keyslot_rewrap(struct rfs_conf *c, int slot, const uint8_t master[32],
                       const char *newpass, size_t newlen, const struct rfs_kdf *kdf)
{
	struct rfs_keyslot fresh;
	int rc;

	if (slot < 0 || slot >= RFS_MAX_KEYSLOTS || !c->slots[slot].in_use)
		return -ENOENT;
	if (!kdf_is_valid(kdf))
		return -EINVAL;
	fresh = c->slots[slot];
	rc = wrap_slot(c, &fresh, master, newpass, newlen, kdf);
	if (rc == 0)
		c->slots[slot] = fresh;
	return rc;
}

int rfs_keyslot_remove(struct rfs_conf *c, int slot)
{
	int used = 0;

	if (slot < 0 || slot >= RFS_MAX_KEYSLOTS || !c->slots[slot].in_use)
		return -ENOENT;
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++)
		used += c->slots[i].in_use;
	if (used == 1)
		return -EBUSY;
	sodium_memzero(&c->slots[slot], sizeof(c->slots[slot]));
	return 0;
}
