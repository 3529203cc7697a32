/*
** verify_tool: `recfs archive verify` without the rest of recfs, for the tests of
** archive/verify and its report (tests/integration/archive_hostile.sh) while the
** archive command is built elsewhere: the same options, the same output and exit codes.
** Must never: differ from tools/archive_verify_cli.c, which does all the work.
*/
#include "crypto/secmem.h"
#include "tools/archive_verify_cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *file = NULL, *identity = NULL, *pubkey = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--identity") && i + 1 < argc)
			identity = argv[++i];
		else if (!strcmp(argv[i], "--pubkey") && i + 1 < argc)
			pubkey = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!file && argv[i][0] != '-')
			file = argv[i];
		else
			file = NULL, i = argc;
	}
	if (!file) {
		fprintf(stderr, "usage: verify_tool FILE [--identity FILE] [--pubkey FILE] [--json]\n");
		return 2;
	}
	if (rfs_secmem_init()) {
		fprintf(stderr, "verify_tool: cannot initialise libsodium\n");
		return 2;
	}
	return archive_verify_cli_run(file, identity, pubkey, json);
}
