/*
** escape: see escape.h.
*/
#include "fs/escape.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (2..4), or 0: overlong forms,
** surrogates, code points past U+10FFFF and C1 controls (U+0080..U+009F) are
** not accepted. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
	unsigned cp;

	if (n == 0 || c > 0xf4)
		return 0;
	cp = c & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

char *rfs_escape(char *out, size_t outsz, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t used = 0;

	if (outsz == 0)
		return out;
	while (*s) {
		char esc[8];
		size_t n = 1;
		const char *piece = esc;

		if (*s == '\\')
			piece = "\\\\";
		else if (*s == '\n')
			piece = "\\n";
		else if (*s == '\t')
			piece = "\\t";
		else if (*s == '\r')
			piece = "\\r";
		else if (*s < 0x20 || *s == 0x7f)
			snprintf(esc, sizeof(esc), "\\%03o", *s);
		else if (*s < 0x80) {
			esc[0] = (char)*s;
			esc[1] = '\0';
		} else if ((n = utf8_len(s)) > 0) {
			memcpy(esc, s, n);
			esc[n] = '\0';
		} else {
			n = 1;
			snprintf(esc, sizeof(esc), "\\%03o", *s);
		}
		size_t len = strlen(piece);
		if (used + len >= outsz)
			break;
		memcpy(out + used, piece, len);
		used += len;
		s += n;
	}
	out[used] = '\0';
	return out;
}

const char *rfs_escape_line(const char *in)
{
	static char bufs[8][4 * PATH_MAX + 1];
	static unsigned next;
	char *b = bufs[next++ % 8];

	return rfs_escape(b, sizeof(bufs[0]), in ? in : "");
}

void rfs_escape_json(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	while (*p) {
		size_t n = *p < 0x80 ? 1 : utf8_len(p);

		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p < 0x20 || *p == 0x7F) {
			fprintf(f, "\\u%04x", *p);
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fprintf(f, "\\u%04x", p[1]);   /* a C1 control: valid, but never raw */
			n = 2;
		} else if (n == 0) {
			fputs("\\ufffd", f);
			n = 1;
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
	}
	fputc('"', f);
}

void rfs_escape_csv(FILE *f, const char *s)
{
	s = s ? s : "";
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}
