/*
** age: the age v1 file format (age-encryption.org/v1) with X25519 recipients,
** streaming both ways: a writer that encrypts to one or more "age1..."
** recipients, and a reader that opens files the standard age tool made.
**
** Owns: the only age code (Bech32 keys, the header and its MAC, the STREAM
** payload); the file key, chunk keys and identities live in sodium_malloc memory.
** Must never: hand out a plaintext byte before its chunk's tag checked, accept
** a truncated file as complete, or print or copy a secret key.
*/
#ifndef RECFS_CRYPTO_AGE_H
#define RECFS_CRYPTO_AGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RFS_AGE_MAGIC "age-encryption.org/v1\n"
bool rfs_age_looks_encrypted(const void *head, size_t n);       /* starts with the magic */
int  rfs_age_recipient_parse(const char *text, uint8_t pk[32]);  /* "age1..." Bech32; 0 or -EINVAL */
struct rfs_age_identities;   /* X25519 identities in sodium_malloc memory */
int  rfs_age_identities_read(const char *path, struct rfs_age_identities **out, char *err, size_t errsz);
int  rfs_age_identities_parse(const char *text, size_t len, struct rfs_age_identities **out);
void rfs_age_identities_free(struct rfs_age_identities *ids);
typedef int (*rfs_age_sink)(void *arg, const void *buf, size_t len);          /* 0 or -errno */
struct rfs_age_writer;
int  rfs_age_writer_start(const uint8_t (*recipients)[32], size_t n, rfs_age_sink sink, void *arg,
                          struct rfs_age_writer **out);
int  rfs_age_writer_write(struct rfs_age_writer *w, const void *buf, size_t len);
int  rfs_age_writer_finish(struct rfs_age_writer *w);   /* last chunk, frees w; 0 or -errno */
void rfs_age_writer_abort(struct rfs_age_writer *w);
typedef ssize_t (*rfs_age_source)(void *arg, void *buf, size_t len);         /* n, 0 at end, -errno */
struct rfs_age_reader;
/* Reads and checks the header: -ENOKEY no identity opens it; -EBADMSG not age v1 or tampered. */
int  rfs_age_reader_start(const struct rfs_age_identities *ids, rfs_age_source src, void *arg,
                          struct rfs_age_reader **out);
/* Plaintext: n, 0 at the authenticated end; -EBADMSG a chunk fails; -EPIPE truncated. */
ssize_t rfs_age_reader_read(struct rfs_age_reader *r, void *buf, size_t len);
void rfs_age_reader_free(struct rfs_age_reader *r);

/* Additions to the plan's interface. */
#define RFS_AGE_RECIPIENT_LEN 62     /* "age1" + 52 + 6 checksum characters */
void rfs_age_recipient_format(const uint8_t pk[32], char out[RFS_AGE_RECIPIENT_LEN + 1]);
size_t rfs_age_identities_count(const struct rfs_age_identities *ids);
/* The public key (recipient) of identity i: 0 or -EINVAL. */
int  rfs_age_identity_recipient(const struct rfs_age_identities *ids, size_t i, uint8_t pk[32]);

#endif
