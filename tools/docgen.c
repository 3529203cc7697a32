/*
** docgen: recfs's man pages and completion words, from the tables that
** --help prints (see docgen.h).
**
** Owns: roff escaping and the layout of the generated pages: a help text's
** paragraphs are filled when they are plain prose, kept as they are (no-fill)
** when they are aligned in columns (option lists).
** Must never: add to a page what the command's --help does not say, beyond
** the common options that the dispatcher adds for its needs.
*/
#include <stdbool.h>
#include <string.h>

#include "tools/docgen.h"

/* s (n bytes) as roff text: backslashes, hyphens, and a leading '.' or '\''. */
static void put_text(FILE *out, const char *s, size_t n)
{
	if (n > 0 && (s[0] == '.' || s[0] == '\''))
		fputs("\\&", out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			fputs("\\e", out);
		else if (s[i] == '-')
			fputs("\\-", out);
		else
			fputc(s[i], out);
	}
}

static void put_line(FILE *out, const char *s)
{
	put_text(out, s, strlen(s));
	fputc('\n', out);
}

/* Is the paragraph [p, end) aligned in columns (an indented line, or two spaces inside)? */
static bool in_columns(const char *p, const char *end)
{
	for (const char *line = p; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end;

		if (*line == ' ')
			return true;
		for (const char *q = line; q + 1 < stop; q++)
			if (q[0] == ' ' && q[1] == ' ')
				return true;
		line = stop + 1;
	}
	return false;
}

/* A help text as roff: paragraphs split at empty lines. */
static void put_help_text(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *end = strstr(p, "\n\n");
		bool columns;

		end = end ? end + 1 : p + strlen(p);
		columns = in_columns(p, end);
		fputs(columns ? ".PP\n.nf\n" : ".PP\n", out);
		for (const char *line = p; line < end;) {
			const char *nl = memchr(line, '\n', (size_t)(end - line));
			const char *stop = nl ? nl : end;

			put_text(out, line, (size_t)(stop - line));
			fputc('\n', out);
			line = stop + 1;
		}
		if (columns)
			fputs(".fi\n", out);
		p = end;
		while (*p == '\n')
			p++;
	}
}

/* NAME upper-cased, for .TH. */
static void put_title(FILE *out, const char *name, const char *section, const char *version)
{
	fputs(".TH \"", out);
	for (const char *p = name; *p; p++)
		fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, out);
	fprintf(out, "\" \"%s\" \"\" \"recfs %s\" \"recfs manual\"\n", section, version);
}

void docgen_main_page(FILE *out, const char *version, const char *intro, const char *notes,
                      const struct docgen_command *cmds, size_t n)
{
	put_title(out, "recfs", "1", version);
	fputs(".SH NAME\nrecfs \\- keep records in an encrypted vault, shown as ordinary folders\n"
	      ".SH SYNOPSIS\n.nf\n\\fBrecfs\\fR \\fICOMMAND\\fR [\\fIARGS\\fR...]\n"
	      "\\fBrecfs\\fR \\fICOMMAND\\fR \\-\\-help\n\\fBrecfs\\fR \\-\\-version\n.fi\n"
	      ".SH DESCRIPTION\n", out);
	put_help_text(out, intro);
	fputs(".SH COMMANDS\n", out);
	for (size_t i = 0; i < n; i++) {
		fputs(".TP\n\\fB", out);
		put_text(out, cmds[i].name, strlen(cmds[i].name));
		fputs("\\fR\n", out);
		put_line(out, cmds[i].summary);
		fputs(".br\nSee \\fBrecfs\\-", out);
		put_text(out, cmds[i].name, strlen(cmds[i].name));
		fputs("\\fR(1).\n", out);
	}
	fputs(".SH NOTES\n", out);
	put_help_text(out, notes);
	fputs(".SH SEE ALSO\n"
	      "\\fBrecfs\\-policy\\fR(5), \\fBrecfs\\-vault\\fR(5), \\fBfusermount3\\fR(1)\n", out);
}

void docgen_command_page(FILE *out, const char *version, const struct docgen_command *c)
{
	char title[40];
	const char *usage = c->cmd->help->usage;

	snprintf(title, sizeof(title), "recfs-%s", c->name);
	put_title(out, title, "1", version);
	fputs(".SH NAME\nrecfs\\-", out);
	put_text(out, c->name, strlen(c->name));
	fputs(" \\- ", out);
	put_line(out, c->summary);
	fputs(".SH SYNOPSIS\n.nf\n\\fBrecfs ", out);
	put_text(out, c->name, strlen(c->name));
	fputs("\\fR ", out);
	for (const char *line = usage; *line;) {          /* later lines say "recfs NAME ..." again */
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		size_t indent = strspn(line, " ");

		if (indent > len)
			indent = len;
		/* "       recfs hold ..." starts a line; a longer indent continues the one above */
		if (strncmp(line + indent, "recfs ", 6) == 0 || indent <= 7) {
			line += indent;
			len -= indent;
		} else {
			line += 7;
			len -= 7;
		}
		put_text(out, line, len);
		fputc('\n', out);
		line += len + (nl ? 1 : 0);
	}
	fputs(".fi\n.SH DESCRIPTION\n", out);
	put_help_text(out, c->cmd->help->text);
	fputs(".SH COMMON OPTIONS\n", out);
	if (c->needs & CLI_NEEDS_PATH)
		fputs(".TP\n\\fB\\-\\-vault\\fR \\fIVAULT\\fR\n"
		      "the vault is not mounted: a path is relative to its root\n", out);
	if (c->needs & CLI_NEEDS_PASSPHRASE)
		fputs(".TP\n\\fB\\-\\-passphrase\\-file\\fR \\fIFILE\\fR\n"
		      "read the passphrase from the first line of \\fIFILE\\fR ('\\-' is standard input)\n", out);
	fputs(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nshow the help of this command\n"
	      ".SH EXIT STATUS\n0 done; 1 problems found; 2 usage error or failure.\n"
	      ".SH SEE ALSO\n\\fBrecfs\\fR(1)\n", out);
}

void docgen_options(FILE *out, const struct docgen_command *c, bool with_value)
{
	for (const struct cli_option *o = c->cmd->options; o && o->key; o++)
		if (o->name && (!with_value || o->has_arg == required_argument))
			fprintf(out, "--%s\n", o->name);
	if (c->needs & CLI_NEEDS_PATH)
		fputs("--vault\n", out);
	if (c->needs & CLI_NEEDS_PASSPHRASE)
		fputs("--passphrase-file\n", out);
	if (!with_value)
		fputs("--help\n", out);
}

void docgen_subcommands(FILE *out, const struct docgen_command *c)
{
	char prefix[40];
	const char *line = c->cmd->help->usage, *last = NULL;
	size_t last_n = 0;

	snprintf(prefix, sizeof(prefix), "recfs %s ", c->name);
	for (bool first = true; line; first = false) {
		bool again;
		size_t n;

		line += strspn(line, " ");
		again = strncmp(line, prefix, strlen(prefix)) == 0;   /* "recfs hold release ..." */
		if (again)
			line += strlen(prefix);
		n = strspn(line, "abcdefghijklmnopqrstuvwxyz");
		if ((first || again) && n > 0 && strchr(" \n", line[n]) &&
		    !(last && n == last_n && !strncmp(line, last, n))) {
			fprintf(out, "%.*s\n", (int)n, line);
			last = line;
			last_n = n;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}
