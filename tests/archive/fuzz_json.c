/* libFuzzer target of archive/json: any bytes parse to a document or to an error that says
** where, never a crash, a leak, undefined behaviour, or a read past the input. Built with clang
** (tests/archive/meson.build). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk every value: strings hold n bytes, objects have sorted unique keys. */
static void walk(const struct rfs_json *v, unsigned depth)
{
	assert(depth <= 8);
	if (v->type == RFS_JSON_STRING || v->type == RFS_JSON_NUMBER)
		assert(v->u.str[v->n] == '\0');
	if (v->type == RFS_JSON_ARRAY)
		for (size_t i = 0; i < v->n; i++)
			walk(&v->u.items[i], depth + 1);
	if (v->type == RFS_JSON_OBJECT) {
		for (size_t i = 0; i < v->n; i++) {
			const struct rfs_json_member *m = &v->u.members[i];
			const struct rfs_json_member *prev = &v->u.members[i ? i - 1 : 0];
			assert(!i || prev->key_len != m->key_len || memcmp(prev->key, m->key, m->key_len));
			assert(rfs_json_get(v, m->key) != NULL || strlen(m->key) != m->key_len);
			walk(&m->value, depth + 1);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of exactly size bytes, so that ASan sees any read past the end */
	char *text = malloc(size ? size : 1);
	memcpy(text, data, size);
	struct rfs_json_limits lim = { .max_depth = 8, .max_values = 10000 };
	struct rfs_json_doc *d = NULL;
	char err[200];
	int rc = rfs_json_parse(text, size, &lim, &d, err, sizeof(err));
	if (rc) {
		assert(rc == -EINVAL || rc == -E2BIG);
		assert(d == NULL && strstr(err, "line ") != NULL);
	} else {
		walk(rfs_json_root(d), 0);
		rfs_json_free(d);
	}
	free(text);
	return 0;
}
