/*
** encoding: URL-safe base64 (no padding) and lower-case hex.
**
** Owns: the only text forms of binary values recfs writes.
** Must never: accept text that encode would not have produced (non-canonical
** trailing bits, upper-case hex, padding), so one value has one spelling.
*/
#include "crypto/encoding.h"

#include <errno.h>

static const char b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a base64url character, or -1. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t rfs_b64_len(size_t n)
{
	return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

size_t rfs_b64_encode(char *out, const uint8_t *in, size_t n)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

long rfs_b64_decode(uint8_t *out, size_t outsz, const char *in, size_t len)
{
	size_t tail = len % 4, o = 0;
	size_t need = (len / 4) * 3 + (tail ? tail - 1 : 0);
	uint32_t acc = 0;
	unsigned bits = 0;

	if (tail == 1)
		return -EINVAL;
	if (need > outsz)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: otherwise two texts would decode alike. */
	if (acc != 0)
		return -EINVAL;
	return (long)o;
}

void rfs_hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int rfs_hex_decode(uint8_t *out, size_t n, const char *in)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(in[2 * i]);
		int lo = hi < 0 ? -1 : hex_value(in[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
