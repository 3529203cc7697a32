/*
** recfs init VAULT: create a new vault with one keyslot.
**
** Owns: choosing the key-derivation cost, the slot label and the vault
** format (3; 2 only for tests, RECFS_TEST_FORMAT=2), and asking for the new
** passphrase (twice on a terminal).
** Must never: create a vault with an empty passphrase, or use the insecure
** fast KDF without saying so.
*/
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/vault.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/passphrase.h"

/* The vault format to make: RFS_FORMAT_VERSION. Tests that check a vault of
** format 2 still mounts and works set RECFS_TEST_FORMAT=2 (not for users:
** format 2 names cannot be destroyed). */
static unsigned vault_format(void)
{
	const char *test = getenv("RECFS_TEST_FORMAT");

	return test && strcmp(test, "2") == 0 ? 2 : RFS_FORMAT_VERSION;
}

static const struct cli_help init_help = {
	"VAULT [--passphrase-file FILE] [--label NAME] [--insecure-fast-kdf]",
	"Create a new, empty vault in the folder VAULT (which must not exist, or be empty),\n"
	"protected by a passphrase that is asked for twice on the terminal.\n"
	"\n"
	"  --passphrase-file FILE  read the new passphrase from the first line of FILE\n"
	"                          ('-' is standard input)\n"
	"  --label NAME            name of the keyslot, e.g. a login name (default: yours);\n"
	"                          letters, digits and . _ @ - only\n"
	"  --insecure-fast-kdf     derive the key cheaply: makes the passphrase easy to guess.\n"
	"                          For tests only.\n"
	"  -h, --help              show this help\n",
};

static bool label_is_valid(const char *label)
{
	static const char allowed[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-";
	size_t len = strlen(label);

	return len > 0 && len < sizeof(((struct rfs_keyslot *)0)->label) &&
	       label[strspn(label, allowed)] == '\0';
}

/* The login name when it makes a valid label, else "default". */
static const char *default_label(void)
{
	struct passwd *pw = getpwuid(getuid());

	return pw && label_is_valid(pw->pw_name) ? pw->pw_name : "default";
}

static int report_create_error(const char *vault, int rc)
{
	switch (rc) {
	case -EEXIST:
		cli_error("%s already exists and is not empty; choose a new folder", vault);
		break;
	case -ENOENT:
		cli_error("the folder that should hold %s does not exist; create it first", vault);
		break;
	case -ENOTDIR:
		cli_error("%s: a part of this path is not a folder", vault);
		break;
	default:
		cli_error("cannot create a vault at %s: %s", vault, strerror(-rc));
		break;
	}
	return CLI_FAIL;
}

static const char *label;
static bool fast_kdf;

static int init_run(struct cli_ctx *ctx)
{
	const char *vault = ctx->argv[0];
	char err[CLI_ERRSZ], prompt[CLI_ERRSZ];
	struct rfs_secret *pass;
	struct rfs_kdf kdf;
	int rc;

	if (label && !label_is_valid(label)) {
		cli_error("label '%s' is not allowed; use 1 to 63 letters, digits and . _ @ -", label);
		return CLI_FAIL;
	}
	cli_choose_kdf(fast_kdf, &kdf);
	snprintf(prompt, sizeof(prompt), "New passphrase for %s: ", vault);
	rc = rfs_secret_read_new(ctx->passfile, prompt, &pass, err, sizeof(err));
	if (rc < 0) {
		cli_error("%s", err);
		return CLI_FAIL;
	}
	rc = rfs_vault_create_format(vault, pass->text, pass->len, &kdf,
	                             label ? label : default_label(), vault_format());
	rfs_secret_free(pass);
	if (rc < 0)
		return report_create_error(vault, rc);
	printf("Created the vault %s. Mount it with: %s mount %s MOUNTPOINT\n", vault, cli_program,
	       cli_shell_quote(vault));
	return CLI_OK;
}

static const struct cli_option init_options[] = {
	CLI_VALUE("label", 'l', &label), CLI_FLAG("insecure-fast-kdf", 'F', &fast_kdf), { 0 },
};

const struct cli_command cmd_init = {
	.help = &init_help, .options = init_options, .args = { 1, 1, "VAULT" }, .run = init_run,
};
