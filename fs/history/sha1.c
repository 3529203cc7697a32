/*
** sha1: SHA-1 (FIPS 180-4) with the CPU's SHA instructions when it has them,
** for git object ids and the pack trailer git requires (see sha1.h).
** Must never: be used where security depends on it (git's format needs it).
*/
#include "fs/history/sha1.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- SHA-1 (FIPS 180-4), only for the pack trailer git requires ---- */

static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
		else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
		else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
		else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
		uint32_t t = rol32(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol32(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

/* The SHA extensions of x86 (most CPUs since 2017): several times faster,
** and every byte of every pack goes through SHA-1. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

static bool have_sha_ni;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_detect(void)
{
	unsigned a, b, c, d;
	have_sha_ni = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
	              __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19));   /* SHA, SSE4.1 */
}

__attribute__((target("sha,sse4.1,ssse3")))
static void sha1_blocks_ni(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
	__m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1B);
	__m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
	for (; nblocks; nblocks--, p += 64) {
		__m128i abcd_in = abcd, e_in = e0, w[20], e, prev = abcd;
		for (int i = 0; i < 4; i++)
			w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
		for (int i = 4; i < 20; i++)
			w[i] = _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(w[i - 4], w[i - 3]), w[i - 2]),
			                          w[i - 1]);
		for (int g = 0; g < 20; g++) {     /* four rounds each */
			e = g ? _mm_sha1nexte_epu32(prev, w[g]) : _mm_add_epi32(e0, w[0]);
			prev = abcd;
			switch (g / 5) {
			case 0: abcd = _mm_sha1rnds4_epu32(abcd, e, 0); break;
			case 1: abcd = _mm_sha1rnds4_epu32(abcd, e, 1); break;
			case 2: abcd = _mm_sha1rnds4_epu32(abcd, e, 2); break;
			default: abcd = _mm_sha1rnds4_epu32(abcd, e, 3); break;
			}
		}
		e0 = _mm_sha1nexte_epu32(prev, e_in);
		abcd = _mm_add_epi32(abcd, abcd_in);
	}
	_mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1B));
	h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

static void sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
	pthread_once(&sha_once, sha_detect);
	if (have_sha_ni) {
		sha1_blocks_ni(h, p, nblocks);
		return;
	}
	for (; nblocks; nblocks--, p += 64)
		sha1_block(h, p);
}
#else
static void sha1_blocks(uint32_t h[5], const uint8_t *p, size_t nblocks)
{
	for (; nblocks; nblocks--, p += 64)
		sha1_block(h, p);
}
#endif

void rfs_sha1_init(struct rfs_sha1 *s)
{
	static const uint32_t iv[5] = { 0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
	                                0xC3D2E1F0u };
	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->used = 0;
}

void rfs_sha1_update(struct rfs_sha1 *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	s->len += n;
	if (s->used) {
		size_t take = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used < 64)
			return;
		sha1_blocks(s->h, s->buf, 1);
		s->used = 0;
	}
	sha1_blocks(s->h, p, n / 64);
	p += n / 64 * 64;
	n %= 64;
	memcpy(s->buf, p, n);
	s->used = n;
}

void rfs_sha1_final(struct rfs_sha1 *s, uint8_t out[20])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	rfs_sha1_update(s, pad, padlen + 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void rfs_sha1_object_id(git_oid *out, git_object_t type, const void *data, size_t len)
{
	char hdr[64];
	int n = snprintf(hdr, sizeof hdr, "%s %zu", git_object_type2string(type), len);
	struct rfs_sha1 s;
	rfs_sha1_init(&s);
	rfs_sha1_update(&s, hdr, (size_t)n + 1);
	rfs_sha1_update(&s, data, len);
	uint8_t id[20];
	rfs_sha1_final(&s, id);
	git_oid_fromraw(out, id);
}
