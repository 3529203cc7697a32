/*
** recfs passwd VAULT: change the passphrase of the keyslot it unlocks.
**
** Owns: unlocking one slot with the old passphrase, rewrapping the same master
** key under the new one, and rewriting recfs.conf atomically.
** Must never: re-encrypt data, keep the master key outside sodium_malloc
** memory, or accept an empty new passphrase.
*/
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyslot.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/passphrase.h"
#include "fs/escape.h"

static const struct cli_help passwd_help = {
	"VAULT [--passphrase-file FILE] [--new-passphrase-file FILE] [--insecure-fast-kdf]",
	"Change a passphrase of VAULT: asks for the current passphrase, then twice for the\n"
	"new one. Only the keyslot that the current passphrase opens changes; no record is\n"
	"re-encrypted. Works while the vault is mounted.\n"
	"\n"
	"  --passphrase-file FILE      read the current passphrase from the first line of FILE\n"
	"  --new-passphrase-file FILE  read the new passphrase from the first line of FILE\n"
	"                              (FILE '-' is standard input, for one of the two at most)\n"
	"  --insecure-fast-kdf         derive the new key cheaply: for tests only\n"
	"  -h, --help                  show this help\n",
};

/* Rewrap slot of conf (already unlocked to master) under a new passphrase and
** write it back to conf_path. CLI_OK or CLI_FAIL, printing why. */
static int rewrap_and_save(const char *vault, const char *conf_path, struct rfs_conf *conf,
                           int slot, const uint8_t *master, const char *new_passfile, bool fast_kdf)
{
	char err[CLI_ERRSZ], prompt[CLI_ERRSZ];
	struct rfs_keyslot was = conf->slots[slot];
	struct rfs_secret *pass;
	struct rfs_kdf kdf;
	int rc;

	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", vault);
	rc = rfs_secret_read_new(new_passfile, prompt, &pass, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s; the passphrase was not changed", err);
		return CLI_FAIL;
	}
	cli_choose_kdf(fast_kdf, &kdf);
	rc = rfs_keyslot_rewrap(conf, slot, master, pass->text, pass->len, &kdf);
	rfs_secret_free(pass);
	if (rc < 0) {
		cli_error("cannot rewrap keyslot %d of %s: %s; the passphrase was not changed", slot,
		          vault, strerror(-rc));
		return CLI_FAIL;
	}
	rc = rfs_keyslot_conf_replace_slot(conf_path, slot, &was, &conf->slots[slot]);
	if (rc == -ESTALE) {
		cli_error("keyslot %d of %s was changed by another command meanwhile; the passphrase "
		          "was not changed: run recfs passwd again", slot, vault);
		return CLI_FAIL;
	}
	if (rc < 0) {
		cli_error("cannot write %s: %s; the passphrase was not changed", conf_path, strerror(-rc));
		return CLI_FAIL;
	}
	printf("Changed the passphrase of keyslot %d (%s) of %s.\n", slot,
	       conf->slots[slot].label[0] ? conf->slots[slot].label : "no label", rfs_escape_line(vault));
	return cmd_key_record(vault, "passphrase-changed", slot, conf->slots[slot].label);
}

static const char *new_passfile;
static bool fast_kdf;

static int passwd_check(const struct cli_ctx *ctx)
{
	if (rfs_secret_recovery_in_use()) {
		cli_error("recfs passwd does not turn a recovery key into a passphrase: add a passphrase "
		          "with recfs key add VAULT --label NAME --recovery-key-file FILE");
		return CLI_FAIL;
	}
	if (ctx->passfile && new_passfile && strcmp(ctx->passfile, "-") == 0 &&
	    strcmp(new_passfile, "-") == 0) {
		cli_error("standard input ('-') can give only one of the two passphrases; "
		          "put the other in a file");
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int passwd_run(struct cli_ctx *ctx)
{
	const char *vault = ctx->argv[0];
	char err[CLI_ERRSZ] = "", prompt[CLI_ERRSZ];
	struct rfs_secret *pass;
	struct rfs_conf conf;
	uint8_t *master;
	int rc, slot = -1;

	rc = rfs_vault_read_conf(vault, &conf, err, sizeof(err));
	if (rc < 0) {
		cli_report_vault_error(vault, rc, err);
		return CLI_FAIL;
	}
	char *conf_path = cli_path_join(vault, RFS_CONF_NAME);

	master = sodium_malloc(RFS_MASTER_KEY_SIZE);
	if (!conf_path || !master) {
		free(conf_path);
		sodium_free(master);
		cli_error("out of memory");
		return CLI_FAIL;
	}
	snprintf(prompt, sizeof(prompt), "Current passphrase for %s: ", vault);
	rc = rfs_secret_read(ctx->passfile, prompt, &pass, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s", err);
		rc = CLI_FAIL;
	} else {
		rc = rfs_keyslot_unlock(&conf, pass->text, pass->len, master, &slot);
		rfs_secret_free(pass);
		if (rc == -EACCES)
			cli_error("wrong passphrase for %s; the passphrase was not changed", vault);
		else if (rc < 0)
			cli_error("cannot unlock %s: %s", vault, strerror(-rc));
		rc = rc < 0 ? CLI_FAIL
		            : rewrap_and_save(vault, conf_path, &conf, slot, master, new_passfile, fast_kdf);
	}
	sodium_free(master);
	free(conf_path);
	return rc;
}

static const struct cli_option passwd_options[] = {
	CLI_VALUE("new-passphrase-file", 'n', &new_passfile),
	CLI_FLAG("insecure-fast-kdf", 'F', &fast_kdf),
	{ 0 },
};

const struct cli_command cmd_passwd = {
	.help = &passwd_help, .options = passwd_options, .args = { 1, 1, "VAULT" },
	.check = passwd_check, .run = passwd_run,
};
