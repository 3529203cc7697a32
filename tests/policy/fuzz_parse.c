/* libFuzzer target of policy/policy.c and policy/classify: any bytes are a policy or errors with
** places, never a crash, a leak or undefined behaviour. Built with clang (tests/policy/meson.build). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;
	unsigned lines = 1;
	int rc = rfs_policy_parse(text, size, &p, &r);

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (rc != 0) {
		assert(rc == -EINVAL || rc == -EFBIG);
		assert(p == NULL && r.count > 0);
		for (size_t i = 0; i < r.count; i++)
			assert(r.diags[i].line >= 1 && r.diags[i].line <= lines && r.diags[i].column >= 1);
		return 0;
	}
	/* Each line of the input is also a path to classify. */
	for (size_t start = 0; start <= size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		struct rfs_classification c;
		if (rfs_classify_path(p, text + start, end - start, &c) == 0 &&
		    c.place == RFS_PLACE_RECORD)
			assert(c.class_index < p->class_count && c.record_len <= end - start);
		start = end + 1;
	}
	rfs_policy_free(p);
	return 0;
}
