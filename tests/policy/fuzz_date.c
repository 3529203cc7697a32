/* libFuzzer target of policy/date: parsing dates and timestamps, and arithmetic on whatever
** the bytes say. Every accepted text formats back to itself (but "+00:00", which is written
** "Z"); every result is a real day. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_arithmetic(const uint8_t *data, size_t size)
{
	int64_t n = 0;
	int32_t y = 0, m = 0, d = 0, offset = 0;
	struct rfs_date out, day;

	if (size < 24)
		return;
	memcpy(&n, data, 8);
	memcpy(&y, data + 8, 4);
	memcpy(&m, data + 12, 4);
	memcpy(&d, data + 16, 4);
	memcpy(&offset, data + 20, 4);
	day = (struct rfs_date){ y % 12000, m % 16, d % 40 };
	for (int unit = RFS_DAYS; unit <= RFS_YEARS; unit++) {
		int rc = rfs_date_add(day, n, (enum rfs_period_unit)unit, &out);
		assert(rc == 0 || rc == -EINVAL || rc == -ERANGE);
		assert(rc != 0 || rfs_date_valid(out));
		assert(rc != -EINVAL || !rfs_date_valid(day));
	}
	int rc = rfs_date_from_unix(n, offset % (20 * 3600), &out);
	assert(rc != 0 || rfs_date_valid(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct rfs_date d;
	struct rfs_timestamp t;
	char out[RFS_TIMESTAMP_TEXT_SIZE];

	if (rfs_date_parse(text, size, &d) == 0) {
		assert(rfs_date_valid(d) && rfs_date_format(d, out) == 0);
		assert(size == 10 && memcmp(out, text, 10) == 0);
	}
	if (rfs_date_timestamp_parse(text, size, &t) == 0) {
		assert(rfs_date_timestamp_format(t, out) == 0);
		if (size == 25 && memcmp(text + 19, "+00:00", 6) == 0)
			assert(strlen(out) == 20 && memcmp(out, text, 19) == 0 && out[19] == 'Z');
		else
			assert(strlen(out) == size && memcmp(out, text, size) == 0);
		assert(rfs_date_timestamp_local_date(t, &d) == 0 && rfs_date_valid(d));
	}
	check_arithmetic(data, size);
	return 0;
}
