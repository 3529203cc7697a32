/* Unit tests of policy/date: calendar arithmetic, clamping, ISO 8601 text, local days. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "policy/policy.h"
#include "leak_check.h"

TestSuite(date, .fini = leak_check);

static struct rfs_date D(int y, int m, int d)
{
	return (struct rfs_date){ y, m, d };
}

static void expect_add(struct rfs_date from, int64_t n, enum rfs_period_unit unit,
                       struct rfs_date want)
{
	struct rfs_date got;
	char a[RFS_DATE_TEXT_SIZE], b[RFS_DATE_TEXT_SIZE];

	cr_assert_eq(rfs_date_add(from, n, unit, &got), 0);
	rfs_date_format(got, a);
	rfs_date_format(want, b);
	cr_expect_eq(rfs_date_cmp(got, want), 0, "%04d-%02d-%02d %+lld (unit %d): got %s, want %s",
	             from.year, from.month, from.day, (long long)n, unit, a, b);
}

Test(date, leap_years_and_month_lengths)
{
	cr_expect_eq(rfs_date_days_in_month(2024, 2), 29);
	cr_expect_eq(rfs_date_days_in_month(2023, 2), 28);
	cr_expect_eq(rfs_date_days_in_month(1900, 2), 28);   /* century, not 400 */
	cr_expect_eq(rfs_date_days_in_month(2000, 2), 29);   /* 400 */
	cr_expect_eq(rfs_date_days_in_month(2023, 4), 30);
	cr_expect_eq(rfs_date_days_in_month(2023, 12), 31);
	cr_expect_eq(rfs_date_days_in_month(2023, 0), 0);
	cr_expect_eq(rfs_date_days_in_month(2023, 13), 0);
}

Test(date, validity)
{
	cr_expect(rfs_date_valid(D(1, 1, 1)));
	cr_expect(rfs_date_valid(D(9999, 12, 31)));
	cr_expect(rfs_date_valid(D(2024, 2, 29)));
	cr_expect_not(rfs_date_valid(D(2023, 2, 29)));
	cr_expect_not(rfs_date_valid(D(0, 12, 31)));
	cr_expect_not(rfs_date_valid(D(10000, 1, 1)));
	cr_expect_not(rfs_date_valid(D(2023, 4, 31)));
	cr_expect_not(rfs_date_valid(D(2023, 1, 0)));
	cr_expect_not(rfs_date_valid(RFS_DATE_NONE));
	cr_expect_not(rfs_date_is_set(RFS_DATE_NONE));
	cr_expect(rfs_date_is_set(D(2023, 1, 1)));
}

Test(date, clamping_at_month_ends)
{
	expect_add(D(2024, 2, 29), 1, RFS_YEARS, D(2025, 2, 28));
	expect_add(D(2024, 2, 29), 4, RFS_YEARS, D(2028, 2, 29));
	expect_add(D(2024, 2, 29), -1, RFS_YEARS, D(2023, 2, 28));
	expect_add(D(2024, 2, 29), 100, RFS_YEARS, D(2124, 2, 29));
	expect_add(D(2000, 2, 29), 100, RFS_YEARS, D(2100, 2, 28));   /* 2100 is no leap year */
	expect_add(D(2023, 1, 31), 1, RFS_MONTHS, D(2023, 2, 28));
	expect_add(D(2024, 1, 31), 1, RFS_MONTHS, D(2024, 2, 29));
	expect_add(D(2024, 3, 31), 1, RFS_MONTHS, D(2024, 4, 30));
	expect_add(D(2024, 3, 31), -1, RFS_MONTHS, D(2024, 2, 29));
	expect_add(D(2024, 1, 30), 1, RFS_MONTHS, D(2024, 2, 29));
	expect_add(D(2024, 8, 31), 6, RFS_MONTHS, D(2025, 2, 28));
	/* clamping does not carry: 31 Jan + 1 month + 1 month is 28 Mar, + 2 months is 31 Mar */
	expect_add(D(2023, 2, 28), 1, RFS_MONTHS, D(2023, 3, 28));
	expect_add(D(2023, 1, 31), 2, RFS_MONTHS, D(2023, 3, 31));
}

Test(date, months_and_years_cross_year_ends)
{
	expect_add(D(2023, 12, 15), 1, RFS_MONTHS, D(2024, 1, 15));
	expect_add(D(2023, 1, 15), -1, RFS_MONTHS, D(2022, 12, 15));
	expect_add(D(2023, 11, 30), 14, RFS_MONTHS, D(2025, 1, 30));
	expect_add(D(2023, 1, 15), -13, RFS_MONTHS, D(2021, 12, 15));
	expect_add(D(2017, 3, 10), 8, RFS_YEARS, D(2025, 3, 10));
	expect_add(D(2017, 3, 10), 96, RFS_MONTHS, D(2025, 3, 10));
	expect_add(D(2023, 5, 5), 0, RFS_MONTHS, D(2023, 5, 5));
}

Test(date, days_cross_months_years_and_leap_days)
{
	expect_add(D(2024, 2, 28), 1, RFS_DAYS, D(2024, 2, 29));
	expect_add(D(2024, 2, 29), 1, RFS_DAYS, D(2024, 3, 1));
	expect_add(D(2023, 2, 28), 1, RFS_DAYS, D(2023, 3, 1));
	expect_add(D(2023, 12, 31), 1, RFS_DAYS, D(2024, 1, 1));
	expect_add(D(2024, 1, 1), -1, RFS_DAYS, D(2023, 12, 31));
	expect_add(D(2024, 1, 1), 366, RFS_DAYS, D(2025, 1, 1));
	expect_add(D(2023, 1, 1), 365, RFS_DAYS, D(2024, 1, 1));
	expect_add(D(1970, 1, 1), 0, RFS_DAYS, D(1970, 1, 1));
	expect_add(D(2000, 3, 1), -1, RFS_DAYS, D(2000, 2, 29));
	expect_add(D(1900, 3, 1), -1, RFS_DAYS, D(1900, 2, 28));
}

Test(date, range_limits)
{
	struct rfs_date out;

	expect_add(D(9999, 12, 30), 1, RFS_DAYS, D(9999, 12, 31));
	cr_expect_eq(rfs_date_add(D(9999, 12, 31), 1, RFS_DAYS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(1, 1, 1), -1, RFS_DAYS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(9999, 12, 1), 1, RFS_MONTHS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(1, 1, 31), -1, RFS_MONTHS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(9000, 1, 1), 1000, RFS_YEARS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(2000, 1, 1), INT64_MAX, RFS_DAYS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(2000, 1, 1), INT64_MIN, RFS_YEARS, &out), -ERANGE);
	cr_expect_eq(rfs_date_add(D(2023, 2, 29), 1, RFS_DAYS, &out), -EINVAL);
	cr_expect_eq(rfs_date_add(D(2023, 2, 1), 1, (enum rfs_period_unit)7, &out), -EINVAL);
	expect_add(D(1, 1, 1), 9998, RFS_YEARS, D(9999, 1, 1));
	cr_expect_eq(rfs_date_add_period(D(2020, 1, 31), (struct rfs_period){ 1, RFS_MONTHS }, &out),
	             0);
	cr_expect_eq(rfs_date_cmp(out, D(2020, 2, 29)), 0);
}

Test(date, day_numbers_round_trip_every_day)
{
	int64_t days, prev = 0;
	struct rfs_date d = D(1, 1, 1), back;

	cr_assert_eq(rfs_date_to_days(D(1970, 1, 1), &days), 0);
	cr_assert_eq(days, 0);
	cr_assert_eq(rfs_date_to_days(D(2000, 3, 1), &days), 0);
	cr_assert_eq(days, 11017);
	cr_assert_eq(rfs_date_to_days(D(1969, 12, 31), &days), 0);
	cr_assert_eq(days, -1);
	/* Every day from 0001-01-01 to 9999-12-31: consecutive numbers, each back to its date. */
	for (int i = 0;; i++) {
		cr_assert_eq(rfs_date_to_days(d, &days), 0);
		if (i > 0)
			cr_assert_eq(days, prev + 1, "%d-%d-%d", d.year, d.month, d.day);
		cr_assert_eq(rfs_date_from_days(days, &back), 0);
		cr_assert_eq(rfs_date_cmp(back, d), 0);
		prev = days;
		if (rfs_date_add(d, 1, RFS_DAYS, &d) != 0)
			break;
	}
	cr_assert_eq(rfs_date_cmp(d, D(9999, 12, 31)), 0);
	cr_expect_eq(rfs_date_from_days(prev + 1, &back), -ERANGE);
	cr_expect_eq(rfs_date_from_days(-719163, &back), -ERANGE);
	cr_expect_eq(rfs_date_to_days(D(2023, 2, 30), &days), -EINVAL);
}

Test(date, compare)
{
	cr_expect_lt(rfs_date_cmp(D(2023, 1, 1), D(2023, 1, 2)), 0);
	cr_expect_gt(rfs_date_cmp(D(2023, 2, 1), D(2023, 1, 31)), 0);
	cr_expect_gt(rfs_date_cmp(D(2024, 1, 1), D(2023, 12, 31)), 0);
	cr_expect_eq(rfs_date_cmp(D(2023, 5, 6), D(2023, 5, 6)), 0);
	cr_expect_lt(rfs_date_cmp(RFS_DATE_NONE, D(1, 1, 1)), 0);
}

Test(date, parse_and_format_iso_dates)
{
	struct rfs_date d;
	char text[RFS_DATE_TEXT_SIZE];

	cr_assert_eq(rfs_date_parse("2023-08-31", 10, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2023, 8, 31)), 0);
	cr_assert_eq(rfs_date_parse("0001-01-01", 10, &d), 0);
	cr_assert_eq(rfs_date_format(d, text), 0);
	cr_expect_str_eq(text, "0001-01-01");
	cr_assert_eq(rfs_date_parse("2024-02-29xyz", 10, &d), 0);   /* len bounds the text */
	cr_assert_eq(rfs_date_format(D(9999, 12, 31), text), 0);
	cr_expect_str_eq(text, "9999-12-31");
	cr_expect_eq(rfs_date_format(D(2023, 2, 29), text), -EINVAL);
	const char *bad[] = { "2023-8-31", "2023-08-1", "23-08-31", "2023/08/31", "2023-08-31 ",
	                      " 2023-08-3", "2023-02-29", "2023-13-01", "2023-00-10", "2023-01-00",
	                      "0000-01-01", "20230831", "2023-08-3a", "+023-08-31", "2023-04-31",
	                      "", "2023-08-31T00:00:00Z", "-023-08-31", "2023-0８-31", "2023-a8-31",
	                      "2023-08-x1", "20a3-08-31", "2023-1-031" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfs_date_parse(bad[i], strlen(bad[i]), &d), -EINVAL, "accepted '%s'",
		             bad[i]);
}

Test(date, local_day_of_a_unix_time)
{
	struct rfs_date d;

	cr_assert_eq(rfs_date_from_unix(0, 0, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(1970, 1, 1)), 0);
	cr_assert_eq(rfs_date_from_unix(-1, 0, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(1969, 12, 31)), 0);
	/* 2023-06-30T23:30:00Z is 1 July in London (BST, +01:00) and 30 June in New York. */
	cr_assert_eq(rfs_date_from_unix(1688167800, 3600, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2023, 7, 1)), 0);
	cr_assert_eq(rfs_date_from_unix(1688167800, 0, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2023, 6, 30)), 0);
	cr_assert_eq(rfs_date_from_unix(1688167800, -4 * 3600, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2023, 6, 30)), 0);
	/* 2024-01-01T00:30:00Z is still 2023 at -01:00. */
	cr_assert_eq(rfs_date_from_unix(1704069000, -3600, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2023, 12, 31)), 0);
	cr_assert_eq(rfs_date_from_unix(1704069000, 14 * 3600, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2024, 1, 1)), 0);
	cr_expect_eq(rfs_date_from_unix(0, 18 * 3600 + 1, &d), -EINVAL);
	cr_expect_eq(rfs_date_from_unix(0, -18 * 3600 - 1, &d), -EINVAL);
	cr_expect_eq(rfs_date_from_unix(INT64_MAX, 0, &d), -ERANGE);
	cr_expect_eq(rfs_date_from_unix(INT64_MIN, 0, &d), -ERANGE);
	cr_expect_eq(rfs_date_from_unix(253402300800, 0, &d), -ERANGE);   /* 10000-01-01 */
	cr_assert_eq(rfs_date_from_unix(253402300799, 0, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(9999, 12, 31)), 0);
	cr_expect_eq(rfs_date_from_unix(253402300799, 3600, &d), -ERANGE);
}

static void expect_timestamp(const char *text, int64_t unix_seconds, int32_t offset)
{
	struct rfs_timestamp t;
	char out[RFS_TIMESTAMP_TEXT_SIZE];

	cr_assert_eq(rfs_date_timestamp_parse(text, strlen(text), &t), 0, "refused '%s'", text);
	cr_expect_eq(t.unix_seconds, unix_seconds, "%s", text);
	cr_expect_eq(t.utc_offset, offset, "%s", text);
	cr_assert_eq(rfs_date_timestamp_format(t, out), 0);
	cr_expect_str_eq(out, text);
}

Test(date, timestamps_keep_their_offset)
{
	struct rfs_timestamp t;
	struct rfs_date d;
	char out[RFS_TIMESTAMP_TEXT_SIZE];

	expect_timestamp("1970-01-01T00:00:00Z", 0, 0);
	expect_timestamp("2023-07-01T00:30:00+01:00", 1688167800, 3600);
	expect_timestamp("2023-06-30T19:30:00-04:00", 1688167800, -4 * 3600);
	expect_timestamp("2023-06-30T23:30:00Z", 1688167800, 0);
	expect_timestamp("2023-07-01T05:00:00+05:30", 1688167800, 5 * 3600 + 1800);
	expect_timestamp("0001-01-01T00:00:00Z", -62135596800, 0);
	expect_timestamp("9999-12-31T23:59:59Z", 253402300799, 0);
	cr_assert_eq(rfs_date_timestamp_parse("2023-07-01T00:30:00+01:00", 25, &t), 0);
	cr_assert_eq(rfs_date_timestamp_local_date(t, &d), 0);
	cr_expect_eq(rfs_date_cmp(d, D(2023, 7, 1)), 0);
	const char *bad[] = { "2023-07-01T00:30:00", "2023-07-01T24:00:00Z", "2023-07-01T23:60:00Z",
	                      "2023-07-01T23:59:60Z", "2023-07-01 00:30:00Z", "2023-07-01T00:30:00z",
	                      "2023-07-01T00:30:00.5Z", "2023-07-01T00:30:00+0100",
	                      "2023-07-01T00:30:00+01", "2023-07-01T00:30:00-00:00",
	                      "2023-07-01T00:30:00+19:00", "2023-07-01T00:30:00+01:60",
	                      "2023-07-01T0:30:00Z", "2023-02-29T00:00:00Z", "2023-07-01T00:30:00Zx",
	                      "2023-07-01T00:30:00*01:00", "2023-07-01T00:30:00+01-00", "",
	                      "2023-07-01Tx0:30:00Z", "2023-07-01T00:x0:00Z", "2023-07-01T00:30:x0Z",
	                      "2023-07-01T00-30:00Z", "2023-07-01T00:30-00Z", "2023-07-01T00:30:00+0x:00",
	                      "2023-07-01T00:30:00+01:x0", "2023-07-01T00:30:00Z+01:0",
	                      "2023-07-01T00:30:00-19:00", "2023-0x-01T00:30:00Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfs_date_timestamp_parse(bad[i], strlen(bad[i]), &t), -EINVAL, "accepted '%s'",
		             bad[i]);
	cr_expect_eq(rfs_date_timestamp_format((struct rfs_timestamp){ 0, 30 }, out), -EINVAL);
	cr_expect_eq(rfs_date_timestamp_format((struct rfs_timestamp){ 0, 19 * 3600 }, out), -EINVAL);
	cr_expect_eq(rfs_date_timestamp_format((struct rfs_timestamp){ INT64_MAX, 0 }, out), -ERANGE);
	/* local midnight at a negative offset */
	cr_assert_eq(rfs_date_timestamp_format((struct rfs_timestamp){ 4 * 3600, -4 * 3600 }, out), 0);
	cr_expect_str_eq(out, "1970-01-01T00:00:00-04:00");
}
