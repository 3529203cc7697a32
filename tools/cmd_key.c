/*
** recfs key list|add|remove|recovery VAULT: the keyslots of a vault, one per person, and
** recovery keys.
**
** Owns: listing the slots (number, label, KDF cost, when added), adding a slot after an
** existing passphrase opened the master key, removing one after a passphrase of a slot that
** stays, and adding a recovery slot whose random key is printed once. Each change rewrites
** recfs.conf under its lock, one slot at a time (rfs_keyslot_conf_replace_slot), so it is
** safe while the vault is mounted and beside a concurrent recfs passwd.
** Must never: print, log or store a passphrase or a recovery key (the one printed line of
** recfs key recovery aside), keep the master key outside sodium_malloc memory, or leave a
** vault with no slot.
*/
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/keyslot.h"
#include "fs/control.h"
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/output.h"
#include "tools/passphrase.h"
#include "tools/recovery_key.h"

static const struct cli_help key_help = {
	"list VAULT [--json]\n"
	"       recfs key add VAULT --label NAME [--passphrase-file FILE] [--new-passphrase-file FILE]\n"
	"                     [--insecure-fast-kdf]\n"
	"       recfs key remove VAULT (--label NAME | --slot N) [--passphrase-file FILE]\n"
	"       recfs key recovery VAULT [--passphrase-file FILE]",
	"The keyslots of VAULT: up to 8 passphrases (one per person) and recovery keys, each\n"
	"wrapping the same master key. All of these work while the vault is mounted.\n"
	"\n"
	"  list      each slot's number, label, Argon2id cost and when it was added\n"
	"  add       add a slot under a new passphrase (asks for an existing one first)\n"
	"  remove    remove a slot; asks for the passphrase of a slot that stays, and refuses\n"
	"            to remove the last one. The master key does not change: whoever kept it,\n"
	"            or a copy of the vault from before, keeps access\n"
	"  recovery  add a slot opened by a random 256-bit recovery key, printed once; open the\n"
	"            vault with it by --recovery-key-file FILE in any command\n"
	"\n"
	"  --label NAME                the slot's label (A-Z a-z 0-9 . _ @ -)\n"
	"  --slot N                    the slot's number (remove)\n"
	"  --passphrase-file FILE      read an existing passphrase from the first line of FILE\n"
	"  --recovery-key-file FILE    open with the recovery key in FILE instead\n"
	"  --new-passphrase-file FILE  read the new passphrase from the first line of FILE\n"
	"  --insecure-fast-kdf         derive the new key cheaply: for tests only\n"
	"  --json                      list as JSON\n"
	"  -h, --help                  show this help\n",
};

static const char *label, *slot_text, *new_passfile;
static bool fast_kdf, json;

/* The vault's recfs.conf, read; CLI_OK or CLI_FAIL (printed). */
static int read_conf(const char *vault, struct rfs_conf *conf)
{
	char err[CLI_ERRSZ] = "";
	int rc = rfs_vault_read_conf(vault, conf, err, sizeof(err));

	if (rc < 0) {
		cli_report_vault_error(vault, rc, err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Ask for an existing passphrase (or the recovery key) and unlock conf with it into master
** (sodium_malloc, 32 bytes). *slot: the slot it opened. CLI_OK or CLI_FAIL (printed). */
static int unlock(const char *vault, const struct rfs_conf *conf, const char *passfile,
                  const char *what, const char *hint, uint8_t *master, int *slot)
{
	char err[CLI_ERRSZ] = "", prompt[CLI_ERRSZ];
	struct rfs_secret *pass;
	int rc;

	snprintf(prompt, sizeof(prompt), "%s for %s: ", what, vault);
	if (rfs_secret_read(passfile, prompt, &pass, err, sizeof(err)) < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	rc = rfs_keyslot_unlock(conf, pass->text, pass->len, master, slot);
	rfs_secret_free(pass);
	if (rc == -EACCES)
		cli_error("wrong %s for %s%s; nothing was changed", rfs_secret_recovery_in_use()
		          ? "recovery key" : "passphrase", vault, hint);
	else if (rc < 0)
		cli_error("cannot unlock %s: %s", vault, strerror(-rc));
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

/* Write slot i of conf (just added or cleared) back, if recfs.conf still holds was there. */
static int save_slot(const char *vault, const struct rfs_conf *conf, int i,
                     const struct rfs_keyslot *was)
{
	char *path = cli_path_join(vault, RFS_CONF_NAME);
	int rc = path ? rfs_keyslot_conf_replace_slot(path, i, was, &conf->slots[i]) : -ENOMEM;

	if (rc == -ESTALE)
		cli_error("keyslot %d of %s was changed by another command meanwhile; nothing was "
		          "changed: run the command again", i, vault);
	else if (rc == -EEXIST)
		cli_error("%s already has a keyslot labelled %s; nothing was changed: choose another "
		          "--label", vault, conf->slots[i].label);
	else if (rc == -EBUSY)
		cli_error("keyslot %d is the last keyslot of %s; nothing was changed: add another "
		          "first (recfs key add)", i, vault);
	else if (rc < 0)
		cli_error("cannot write %s: %s; nothing was changed", path ? path : vault,
		          strerror(-rc));
	free(path);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_key_record(const char *vault, const char *action, int slot, const char *name)
{
	char num[4], msg[512] = "";
	const char *args[] = { "keyslot-event", action, num, name };
	int rc;

	snprintf(num, sizeof(num), "%d", slot);
	rc = rfs_control_call(vault, -1, args, 4, NULL, NULL, msg, sizeof(msg));
	if ((rc == -ECONNREFUSED || rc == -ENOENT) && !strcmp(action, "passphrase-changed")) {
		printf("%s is not mounted: the change is not recorded in its history.\n",
		       rfs_escape_line(vault));
		return CLI_OK;
	}
	if (rc == -ECONNREFUSED || rc == -ENOENT) {   /* the next mount sees what differs */
		printf("%s is not mounted: its next mount records the change in history (by "
		       "\"unknown\").\n", rfs_escape_line(vault));
		return CLI_OK;
	}
	if (rc < 0) {
		cli_error("the change was made, but not recorded in the history of %s: %s", vault,
		          *msg ? msg : strerror(-rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int refuse_full(const char *vault)
{
	cli_error("%s has %d keyslots, the most it can hold; nothing was changed: remove one first "
	          "(recfs key remove)", vault, RFS_MAX_KEYSLOTS);
	return CLI_FAIL;
}

static int find_label(const struct rfs_conf *conf, const char *name)
{
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++)
		if (conf->slots[i].in_use && strcmp(conf->slots[i].label, name) == 0)
			return i;
	return -1;
}

static int count_slots(const struct rfs_conf *conf)
{
	int n = 0;

	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++)
		n += conf->slots[i].in_use;
	return n;
}

static int key_list(const char *vault)
{
	static const char *const fields[] = { "#slot", "label", "kdf", "#opslimit", "#memlimit", "added" };
	struct rfs_output out;
	struct rfs_conf conf;

	if (read_conf(vault, &conf) != CLI_OK)
		return CLI_FAIL;
	rfs_output_begin(&out, stdout, json ? RFS_OUTPUT_JSON : RFS_OUTPUT_TEXT, fields, 6);
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++) {
		const struct rfs_keyslot *s = &conf.slots[i];
		char num[8], ops[24], mem[24], added[32];
		time_t t = (time_t)s->added;
		struct tm tm;

		if (!s->in_use)
			continue;
		snprintf(num, sizeof(num), "%d", i);
		snprintf(ops, sizeof(ops), "%llu", (unsigned long long)s->kdf.opslimit);
		snprintf(mem, sizeof(mem), "%llu", (unsigned long long)s->kdf.memlimit);
		/* Not known (a slot made before recfs kept it): "unknown" to read, "" in JSON. */
		snprintf(added, sizeof(added), "%s", json ? "" : "unknown");
		if (s->added && gmtime_r(&t, &tm))
			strftime(added, sizeof(added), "%Y-%m-%dT%H:%M:%SZ", &tm);
		const char *row[] = { num, s->label, "argon2id13", ops, mem, added };
		rfs_output_row(&out, row);
	}
	sodium_memzero(&conf, sizeof(conf));
	return rfs_output_end(&out) < 0 ? CLI_FAIL : CLI_OK;
}

/* Wrap master into a free slot of conf labelled name under secret, and save it. */
static int add_slot(const char *vault, struct rfs_conf *conf, const char *name,
                    const uint8_t *master, const struct rfs_secret *secret,
                    const struct rfs_kdf *kdf, int *slot)
{
	struct rfs_keyslot empty;
	int i;

	memset(&empty, 0, sizeof(empty));
	i = rfs_keyslot_add(conf, name, master, secret->text, secret->len, kdf);
	if (i == -ENOSPC) {
		return refuse_full(vault);
	}
	if (i < 0) {
		cli_error("cannot add a keyslot to %s: %s", vault, strerror(-i));
		return CLI_FAIL;
	}
	*slot = i;
	return save_slot(vault, conf, i, &empty);
}

static int key_add(struct cli_ctx *ctx, const char *vault, struct rfs_conf *conf, uint8_t *master)
{
	char err[CLI_ERRSZ] = "", prompt[CLI_ERRSZ];
	struct rfs_secret *pass;
	struct rfs_kdf kdf;
	int opened, slot = -1, rc;

	if (unlock(vault, conf, ctx->passfile, "An existing passphrase", "", master, &opened) != CLI_OK)
		return CLI_FAIL;
	snprintf(prompt, sizeof(prompt), "New passphrase for keyslot %s of %s: ", label, vault);
	if (rfs_secret_read_new(new_passfile, prompt, &pass, err, sizeof(err)) < 0) {
		cli_error("%s; nothing was changed", err);
		return CLI_FAIL;
	}
	cli_choose_kdf(fast_kdf, &kdf);
	rc = add_slot(vault, conf, label, master, pass, &kdf, &slot);
	rfs_secret_free(pass);
	if (rc == CLI_OK) {
		printf("Added keyslot %d (%s) to %s.\n", slot, label, rfs_escape_line(vault));
		rc = cmd_key_record(vault, "added", slot, label);
	}
	return rc;
}

static int key_remove(struct cli_ctx *ctx, const char *vault, struct rfs_conf *conf,
                      uint8_t *master)
{
	struct rfs_conf rest;
	struct rfs_keyslot was;
	int target = -1, opened, rc;

	if (label) {
		target = find_label(conf, label);
		if (target < 0) {
			cli_error("%s has no keyslot labelled %s: see recfs key list %s", vault, label, vault);
			return CLI_FAIL;
		}
	} else {
		char *end;
		long n = strtol(slot_text, &end, 10);

		if (*slot_text == '\0' || *end != '\0' || n < 0 || n >= RFS_MAX_KEYSLOTS ||
		    !conf->slots[n].in_use) {
			cli_error("%s has no keyslot %s: see recfs key list %s", vault, slot_text, vault);
			return CLI_FAIL;
		}
		target = (int)n;
	}
	if (count_slots(conf) == 1) {
		cli_error("keyslot %d is the last keyslot of %s; nothing was changed: add another "
		          "first (recfs key add)", target, vault);
		return CLI_FAIL;
	}
	/* The passphrase must open a slot that stays: whoever removes a slot keeps a way in. */
	rest = *conf;
	sodium_memzero(&rest.slots[target], sizeof(rest.slots[target]));
	rc = unlock(vault, &rest, ctx->passfile, "Passphrase of a keyslot that stays",
	            " (it must open a keyslot other than the one removed)", master, &opened);
	sodium_memzero(&rest, sizeof(rest));
	if (rc != CLI_OK)
		return CLI_FAIL;
	was = conf->slots[target];
	sodium_memzero(&conf->slots[target], sizeof(conf->slots[target]));
	rc = save_slot(vault, conf, target, &was);
	if (rc == CLI_OK)
		printf("Removed keyslot %d (%s) from %s. The master key is unchanged: anyone who kept "
		       "it, or a copy of the vault from before, still opens it.\n", target, was.label,
		       rfs_escape_line(vault));
	if (rc == CLI_OK)
		rc = cmd_key_record(vault, "removed", target, was.label);
	sodium_memzero(&was, sizeof(was));
	return rc;
}

static int key_recovery(struct cli_ctx *ctx, const char *vault, struct rfs_conf *conf,
                        uint8_t *master)
{
	/* A random 256-bit key cannot be guessed: no Argon2id cost is needed to slow guessing,
	** so the slot takes libsodium's minimum (the format keeps one KDF for every slot). */
	const struct rfs_kdf kdf = { crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN };
	struct rfs_secret *canon, *grouped;
	char name[16] = "recovery";
	int opened, slot = -1, rc;

	for (int n = 2; find_label(conf, name) >= 0 && n <= RFS_MAX_KEYSLOTS; n++)
		snprintf(name, sizeof(name), "recovery-%d", n);
	if (unlock(vault, conf, ctx->passfile, "An existing passphrase", "", master, &opened) != CLI_OK)
		return CLI_FAIL;
	if (rfs_recovery_key_generate(&canon, &grouped) < 0) {
		cli_error("out of locked memory for the recovery key");
		return CLI_FAIL;
	}
	rc = add_slot(vault, conf, name, master, canon, &kdf, &slot);
	rfs_secret_free(canon);
	if (rc == CLI_OK) {
		printf("Added keyslot %d (%s) to %s. Its recovery key, shown this once and stored "
		       "nowhere:\n\n    ", slot, name, rfs_escape_line(vault));
		fflush(stdout);
		/* write(2), not stdio: no unwiped buffer ever holds the key. */
		if (write(STDOUT_FILENO, grouped->text, grouped->len) != (ssize_t)grouped->len) {
			cli_error("cannot print the recovery key: remove keyslot %d (recfs key remove "
			          "%s --slot %d) and run recfs key recovery again", slot, vault, slot);
			rc = CLI_FAIL;
		}
		printf("\n\nWrite it down or print it, and keep it apart from the laptop. To use it, "
		       "put it in a file and give --recovery-key-file FILE.\n");
		fflush(stdout);
	}
	rfs_secret_free(grouped);
	if (rc == CLI_OK)
		rc = cmd_key_record(vault, "recovery-added", slot, name);
	return rc;
}

static int key_check(const struct cli_ctx *ctx)
{
	const char *sub = ctx->argv[0];
	bool changes = strcmp(sub, "list") != 0;

	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove") &&
	    strcmp(sub, "recovery")) {
		cli_error("unknown key command '%s': it is list, add, remove or recovery", sub);
		return CLI_FAIL;
	}
	if (ctx->argc != 2) {
		cli_error("recfs key %s takes one VAULT", sub);
		return CLI_FAIL;
	}
	if (!strcmp(sub, "add") && !label) {
		cli_error("recfs key add needs --label NAME (who the passphrase is for)");
		return CLI_FAIL;
	}
	if (!strcmp(sub, "remove") && !label == !slot_text) {
		cli_error("recfs key remove needs one of --label NAME or --slot N");
		return CLI_FAIL;
	}
	if (json && changes) {
		cli_error("--json goes with recfs key list only");
		return CLI_FAIL;
	}
	if (ctx->passfile && new_passfile && !strcmp(ctx->passfile, "-") && !strcmp(new_passfile, "-")) {
		cli_error("standard input ('-') can give only one of the two passphrases; "
		          "put the other in a file");
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int key_run(struct cli_ctx *ctx)
{
	const char *sub = ctx->argv[0], *vault = ctx->argv[1];
	struct rfs_conf conf;
	uint8_t *master;
	int rc;

	if (!strcmp(sub, "list"))
		return key_list(vault);
	if (read_conf(vault, &conf) != CLI_OK)
		return CLI_FAIL;
	if (!strcmp(sub, "add") && find_label(&conf, label) >= 0) {
		cli_error("%s already has a keyslot labelled %s; nothing was changed: choose another "
		          "--label", vault, label);
		return CLI_FAIL;
	}
	if (strcmp(sub, "remove") && count_slots(&conf) == RFS_MAX_KEYSLOTS) {
		return refuse_full(vault);
	}
	master = sodium_malloc(RFS_MASTER_KEY_SIZE);
	if (!master) {
		cli_error("out of locked memory");
		return CLI_FAIL;
	}
	if (!strcmp(sub, "add"))
		rc = key_add(ctx, vault, &conf, master);
	else if (!strcmp(sub, "remove"))
		rc = key_remove(ctx, vault, &conf, master);
	else
		rc = key_recovery(ctx, vault, &conf, master);
	sodium_free(master);
	sodium_memzero(&conf, sizeof(conf));
	return rc;
}

static const struct cli_option key_options[] = {
	CLI_VALUE("label", 'l', &label),
	CLI_VALUE("slot", 's', &slot_text),
	CLI_VALUE("new-passphrase-file", 'n', &new_passfile),
	CLI_FLAG("insecure-fast-kdf", 'F', &fast_kdf),
	CLI_FLAG("json", 'j', &json),
	{ 0 },
};

const struct cli_command cmd_key = {
	.help = &key_help, .options = key_options, .args = { 2, 2, "list|add|remove|recovery VAULT" },
	.check = key_check, .run = key_run,
};
