/* Unit tests of crypto/content: header, blocks, sizes, and every tamper case. */
#include <errno.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/content.h"
#include "crypto/secmem.h"

static uint8_t key[32], file_id[16];

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	randombytes_buf(key, sizeof(key));
	randombytes_buf(file_id, sizeof(file_id));
}

TestSuite(content, .init = init);

static void seal_header(uint8_t out[RFS_HEADER_SIZE], uint16_t flags)
{
	struct rfs_header h = { .version = RFS_CONTENT_VERSION, .flags = flags };

	memcpy(h.file_id, file_id, 16);
	rfs_content_header_seal(out, &h, key);
}

Test(content, header_round_trip)
{
	uint8_t hdr[RFS_HEADER_SIZE];
	struct rfs_header h;

	seal_header(hdr, RFS_HDR_NONEMPTY);
	cr_assert_eq(hdr[0], 1);
	cr_assert_eq(hdr[1], 0);
	cr_assert_eq(rfs_content_header_parse(&h, hdr, sizeof(hdr)), 0);
	cr_assert_eq(h.version, RFS_CONTENT_VERSION);
	cr_assert_eq(h.flags, RFS_HDR_NONEMPTY);
	cr_assert_eq(memcmp(h.file_id, file_id, 16), 0);
	cr_assert_eq(rfs_content_header_verify(hdr, key), 0);
}

Test(content, header_every_flipped_byte_is_caught)
{
	uint8_t hdr[RFS_HEADER_SIZE];

	seal_header(hdr, 0);
	for (size_t i = 0; i < RFS_HEADER_SIZE; i++) {
		hdr[i] ^= 0x01;
		cr_assert_eq(rfs_content_header_verify(hdr, key), -EIO, "flip at byte %zu accepted", i);
		hdr[i] ^= 0x01;
	}
	cr_assert_eq(rfs_content_header_verify(hdr, key), 0);
}

Test(content, header_wrong_key_and_bad_input)
{
	uint8_t hdr[RFS_HEADER_SIZE], other[32];
	struct rfs_header h;

	seal_header(hdr, 0);
	randombytes_buf(other, sizeof(other));
	cr_assert_eq(rfs_content_header_verify(hdr, other), -EIO);
	cr_assert_eq(rfs_content_header_parse(&h, hdr, RFS_HEADER_SIZE - 1), -EIO);
	cr_assert_eq(rfs_content_header_parse(&h, NULL, 0), -EIO);
	hdr[0] = 7;
	cr_assert_eq(rfs_content_header_parse(&h, hdr, sizeof(hdr)), -EPROTONOSUPPORT);
	memset(hdr, 0, sizeof(hdr));
	cr_assert_eq(rfs_content_header_parse(&h, hdr, sizeof(hdr)), -EIO, "all zeros is garbage");
	seal_header(hdr, 0x0100);
	cr_assert_eq(rfs_content_header_parse(&h, hdr, sizeof(hdr)), -EIO, "unknown flag bit");
}

Test(content, header_nonces_are_fresh)
{
	uint8_t a[RFS_HEADER_SIZE], b[RFS_HEADER_SIZE];

	seal_header(a, 0);
	seal_header(b, 0);
	cr_assert_eq(memcmp(a, b, 20), 0);
	cr_assert_neq(memcmp(a + 20, b + 20, 24), 0);
}

Test(content, sizes_round_trip)
{
	const uint64_t sizes[] = { 0, 1, 40, 41, 4095, 4096, 4097, 8192, 8193, 1u << 20,
	                           (1ull << 32) + 5, (1ull << 40) + 4096 };
	bool valid;

	cr_assert_eq(rfs_content_cipher_size(0), RFS_HEADER_SIZE);
	cr_assert_eq(rfs_content_cipher_size(1), RFS_HEADER_SIZE + 41);
	cr_assert_eq(rfs_content_cipher_size(4096), RFS_HEADER_SIZE + RFS_SLOT_SIZE);
	cr_assert_eq(rfs_content_cipher_size(4097), RFS_HEADER_SIZE + RFS_SLOT_SIZE + 41);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		valid = false;
		cr_assert_eq(rfs_content_plain_size(rfs_content_cipher_size(sizes[i]), &valid), sizes[i]);
		cr_assert(valid, "size %llu", (unsigned long long)sizes[i]);
	}
	for (uint64_t p = 0; p < 3 * RFS_BLOCK_SIZE; p++) {
		cr_assert_eq(rfs_content_plain_size(rfs_content_cipher_size(p), &valid), p);
		cr_assert(valid);
	}
}

Test(content, impossible_sizes_are_flagged)
{
	bool valid = false;

	cr_assert_eq(rfs_content_plain_size(0, &valid), 0);
	cr_assert(valid, "an empty backing file is a new file");
	for (uint64_t c = 1; c < RFS_HEADER_SIZE; c++) {
		valid = true;
		cr_assert_eq(rfs_content_plain_size(c, &valid), 0);
		cr_assert_not(valid, "cipher size %llu", (unsigned long long)c);
	}
	for (uint64_t r = 1; r <= RFS_BLOCK_OVERHEAD; r++) {
		valid = true;
		cr_assert_eq(rfs_content_plain_size(RFS_HEADER_SIZE + RFS_SLOT_SIZE + r, &valid), RFS_BLOCK_SIZE);
		cr_assert_not(valid);
	}
	cr_assert_eq(rfs_content_plain_size(RFS_HEADER_SIZE + 41, NULL), 1);
}

Test(content, block_round_trip_every_length_class)
{
	const size_t lens[] = { 1, 2, 100, 4095, 4096 };
	uint8_t plain[RFS_BLOCK_SIZE], ct[RFS_SLOT_SIZE], back[RFS_BLOCK_SIZE];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int final = 0; final <= 1; final++) {
			randombytes_buf(plain, lens[i]);
			rfs_content_block_seal(ct, plain, lens[i], 77, final, file_id, key);
			cr_assert_eq(rfs_content_block_open(back, ct, lens[i] + RFS_BLOCK_OVERHEAD, 77, final,
			                                    file_id, key), 0);
			cr_assert_eq(memcmp(plain, back, lens[i]), 0);
			cr_assert_not(rfs_content_slot_is_hole(ct, lens[i] + RFS_BLOCK_OVERHEAD));
		}
	}
}

Test(content, block_opens_in_place_and_refuses_every_tamper)
{
	uint8_t plain[RFS_BLOCK_SIZE], slot[RFS_SLOT_SIZE], copy[RFS_SLOT_SIZE];
	const size_t where[] = { 0, 23, 24, 2000, RFS_SLOT_SIZE - 16, RFS_SLOT_SIZE - 1 };

	for (size_t len = 1; len <= RFS_BLOCK_SIZE; len += 4095) {
		randombytes_buf(plain, len);
		rfs_content_block_seal(slot, plain, len, 9, true, file_id, key);
		memcpy(copy, slot, len + RFS_BLOCK_OVERHEAD);
		for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
			size_t at = where[i] < len + RFS_BLOCK_OVERHEAD ? where[i] : len + RFS_BLOCK_OVERHEAD - 1;

			slot[at] ^= 0x01;
			cr_assert_eq(rfs_content_block_open_in_place(slot, len + RFS_BLOCK_OVERHEAD, 9, true,
			                                             file_id, key), -EIO, "flip at %zu accepted", at);
			cr_assert(sodium_is_zero(slot + RFS_BLOCK_NONCE, len), "unauthenticated bytes left");
			memcpy(slot, copy, len + RFS_BLOCK_OVERHEAD);
		}
		cr_assert_eq(rfs_content_block_open_in_place(slot, len + RFS_BLOCK_OVERHEAD, 9, false, file_id,
		                                             key), -EIO);
		memcpy(slot, copy, len + RFS_BLOCK_OVERHEAD);
		cr_assert_eq(rfs_content_block_open_in_place(slot, len + RFS_BLOCK_OVERHEAD, 9, true, file_id,
		                                             key), 0);
		cr_assert_eq(memcmp(slot + RFS_BLOCK_NONCE, plain, len), 0);
	}
	cr_assert_eq(rfs_content_block_open_in_place(slot, RFS_BLOCK_OVERHEAD, 9, true, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open_in_place(slot, RFS_SLOT_SIZE + 1, 9, true, file_id, key), -EIO);
}

Test(content, block_nonces_are_fresh)
{
	uint8_t plain[100] = { 0 }, a[140], b[140];

	rfs_content_block_seal(a, plain, 100, 0, true, file_id, key);
	rfs_content_block_seal(b, plain, 100, 0, true, file_id, key);
	cr_assert_neq(memcmp(a, b, sizeof(a)), 0);
}

/* A sealed full block 5 (not final) to tamper with. */
static size_t sealed_block(uint8_t ct[RFS_SLOT_SIZE], uint8_t plain[RFS_BLOCK_SIZE])
{
	randombytes_buf(plain, RFS_BLOCK_SIZE);
	rfs_content_block_seal(ct, plain, RFS_BLOCK_SIZE, 5, false, file_id, key);
	return RFS_SLOT_SIZE;
}

Test(content, block_flipped_byte_in_nonce_ct_or_tag_is_eio)
{
	uint8_t plain[RFS_BLOCK_SIZE], ct[RFS_SLOT_SIZE], back[RFS_BLOCK_SIZE];
	const size_t where[] = { 0, 23, 24, 1000, RFS_SLOT_SIZE - 17, RFS_SLOT_SIZE - 16,
	                         RFS_SLOT_SIZE - 1 };

	sealed_block(ct, plain);
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		ct[where[i]] ^= 0x80;
		cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 5, false, file_id, key), -EIO,
		             "flip at %zu accepted", where[i]);
		cr_assert(sodium_is_zero(back, RFS_BLOCK_SIZE), "unauthenticated bytes returned");
		ct[where[i]] ^= 0x80;
	}
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 5, false, file_id, key), 0);
}

Test(content, block_bound_to_number_file_final_and_key)
{
	uint8_t plain[RFS_BLOCK_SIZE], ct[RFS_SLOT_SIZE], back[RFS_BLOCK_SIZE];
	uint8_t other_id[16], other_key[32];

	sealed_block(ct, plain);
	memcpy(other_id, file_id, 16);
	other_id[15] ^= 1;
	randombytes_buf(other_key, 32);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 4, false, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 5 + (1ull << 32), false, file_id, key),
	             -EIO, "block number must bind all 64 bits");
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 5, false, other_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 5, true, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE, 5, false, file_id, other_key), -EIO);
}

Test(content, block_truncated_or_oversized_slot_is_eio)
{
	uint8_t plain[RFS_BLOCK_SIZE], ct[RFS_SLOT_SIZE + 1], back[RFS_SLOT_SIZE];

	sealed_block(ct, plain);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE - 1, 5, false, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_BLOCK_OVERHEAD + 1, 5, false, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_BLOCK_OVERHEAD, 5, false, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, 0, 5, false, file_id, key), -EIO);
	cr_assert_eq(rfs_content_block_open(back, ct, RFS_SLOT_SIZE + 1, 5, false, file_id, key), -EIO);
}

Test(content, holes)
{
	uint8_t slot[RFS_SLOT_SIZE] = { 0 };

	cr_assert(rfs_content_slot_is_hole(slot, sizeof(slot)));
	cr_assert(rfs_content_slot_is_hole(slot, 41));
	slot[RFS_SLOT_SIZE - 1] = 1;
	cr_assert_not(rfs_content_slot_is_hole(slot, sizeof(slot)));
	slot[RFS_SLOT_SIZE - 1] = 0;
	slot[0] = 1;
	cr_assert_not(rfs_content_slot_is_hole(slot, sizeof(slot)));
	cr_assert_not(rfs_content_slot_is_hole(slot, 0));
}

/* A whole file laid out as content.h says, opened the way a reader would. */
struct file_image {
	uint8_t *bytes;
	size_t size;
};

static struct file_image seal_file(const uint8_t *plain, size_t len)
{
	struct file_image f = { malloc(rfs_content_cipher_size(len)), rfs_content_cipher_size(len) };
	uint64_t blocks = (len + RFS_BLOCK_SIZE - 1) / RFS_BLOCK_SIZE;

	seal_header(f.bytes, len ? RFS_HDR_NONEMPTY : 0);
	for (uint64_t i = 0; i < blocks; i++) {
		size_t n = i + 1 == blocks ? len - i * RFS_BLOCK_SIZE : RFS_BLOCK_SIZE;
		rfs_content_block_seal(f.bytes + rfs_content_slot_offset(i), plain + i * RFS_BLOCK_SIZE, n, i,
		                       i + 1 == blocks, file_id, key);
	}
	return f;
}

/* 0 and the plaintext in out, or -EIO: never partial wrong bytes. */
static int open_file(uint8_t *out, const uint8_t *bytes, size_t size)
{
	bool valid;
	uint64_t plain = rfs_content_plain_size(size, &valid);
	uint64_t blocks = (plain + RFS_BLOCK_SIZE - 1) / RFS_BLOCK_SIZE;
	struct rfs_header h;

	if (!valid || rfs_content_header_parse(&h, bytes, size) != 0 || rfs_content_header_verify(bytes, key) != 0)
		return -EIO;
	if ((h.flags & RFS_HDR_NONEMPTY) && blocks == 0)
		return -EIO;
	for (uint64_t i = 0; i < blocks; i++) {
		size_t ct_len = i + 1 == blocks ? size - rfs_content_slot_offset(i) : RFS_SLOT_SIZE;
		const uint8_t *ct = bytes + rfs_content_slot_offset(i);
		if (i + 1 < blocks && rfs_content_slot_is_hole(ct, ct_len)) {
			memset(out + i * RFS_BLOCK_SIZE, 0, RFS_BLOCK_SIZE);
			continue;
		}
		if (rfs_content_block_open(out + i * RFS_BLOCK_SIZE, ct, ct_len, i, i + 1 == blocks,
		                           h.file_id, key) != 0)
			return -EIO;
	}
	return 0;
}

Test(content, whole_file_round_trip_and_file_level_tampering)
{
	size_t len = 3 * RFS_BLOCK_SIZE + 1000;
	uint8_t *plain = malloc(len), *out = malloc(len), *tmp = malloc(RFS_SLOT_SIZE);
	struct file_image f;

	randombytes_buf(plain, len);
	f = seal_file(plain, len);
	cr_assert_eq(open_file(out, f.bytes, f.size), 0);
	cr_assert_eq(memcmp(out, plain, len), 0);

	/* Swapped blocks 0 and 1. */
	memcpy(tmp, f.bytes + rfs_content_slot_offset(0), RFS_SLOT_SIZE);
	memcpy(f.bytes + rfs_content_slot_offset(0), f.bytes + rfs_content_slot_offset(1), RFS_SLOT_SIZE);
	memcpy(f.bytes + rfs_content_slot_offset(1), tmp, RFS_SLOT_SIZE);
	cr_assert_eq(open_file(out, f.bytes, f.size), -EIO, "swapped blocks accepted");
	memcpy(f.bytes + rfs_content_slot_offset(1), f.bytes + rfs_content_slot_offset(0), RFS_SLOT_SIZE);
	memcpy(f.bytes + rfs_content_slot_offset(0), tmp, RFS_SLOT_SIZE);
	cr_assert_eq(open_file(out, f.bytes, f.size), 0);

	/* Cut at a slot boundary: the new last block was not sealed as final. */
	cr_assert_eq(open_file(out, f.bytes, rfs_content_slot_offset(3)), -EIO, "cut at boundary accepted");
	cr_assert_eq(open_file(out, f.bytes, rfs_content_slot_offset(3) + 20), -EIO, "ragged cut accepted");
	/* Cut to the header alone: the header says blocks must follow. */
	cr_assert_eq(open_file(out, f.bytes, RFS_HEADER_SIZE), -EIO, "cut to header accepted");

	/* A block moved into another file (same key, other id) fails. */
	struct file_image g;
	file_id[0] ^= 1;
	g = seal_file(plain, len);
	file_id[0] ^= 1;
	memcpy(f.bytes + rfs_content_slot_offset(2), g.bytes + rfs_content_slot_offset(2), RFS_SLOT_SIZE);
	cr_assert_eq(open_file(out, f.bytes, f.size), -EIO, "block from another file accepted");
	free(g.bytes);
	free(f.bytes);
	free(plain);
	free(out);
	free(tmp);
}

Test(content, zeroed_slot_reads_as_hole_but_never_as_last_block)
{
	size_t len = 2 * RFS_BLOCK_SIZE + 10;
	uint8_t *plain = malloc(len), *out = malloc(len);
	struct file_image f;

	randombytes_buf(plain, len);
	f = seal_file(plain, len);
	memset(f.bytes + rfs_content_slot_offset(0), 0, RFS_SLOT_SIZE);
	cr_assert_eq(open_file(out, f.bytes, f.size), 0);
	cr_assert(sodium_is_zero(out, RFS_BLOCK_SIZE));
	cr_assert_eq(memcmp(out + RFS_BLOCK_SIZE, plain + RFS_BLOCK_SIZE, len - RFS_BLOCK_SIZE), 0);
	memset(f.bytes + rfs_content_slot_offset(2), 0, f.size - rfs_content_slot_offset(2));
	cr_assert_eq(open_file(out, f.bytes, f.size), -EIO);
	free(f.bytes);
	free(plain);
	free(out);
}
