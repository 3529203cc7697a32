/*
** date: calendar days of the proleptic Gregorian calendar, years 1 to 9999; ISO 8601 text.
**
** Owns: day/month/year arithmetic with end-of-month clamping, the local day of a Unix time at a
** given UTC offset, and the one spelling of a date and of a timestamp.
** Must never: read a clock or a time zone database (the caller passes the offset), or accept
** a second spelling of a value (no "2023-8-1", no fractions, no leap second).
*/
#include "policy/policy.h"

#include <errno.h>

#define MIN_DAYS (-719162)   /* 0001-01-01 */
#define MAX_DAYS 2932896     /* 9999-12-31 */

static bool is_leap(int32_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int rfs_date_days_in_month(int32_t year, int32_t month)
{
	static const int8_t days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (month < 1 || month > 12)
		return 0;
	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

bool rfs_date_is_set(struct rfs_date d)
{
	return d.year != 0 || d.month != 0 || d.day != 0;
}

bool rfs_date_valid(struct rfs_date d)
{
	return d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
	       d.day <= rfs_date_days_in_month(d.year, d.month);
}

int rfs_date_cmp(struct rfs_date a, struct rfs_date b)
{
	if (a.year != b.year)
		return a.year < b.year ? -1 : 1;
	if (a.month != b.month)
		return a.month < b.month ? -1 : 1;
	if (a.day != b.day)
		return a.day < b.day ? -1 : 1;
	return 0;
}

/* H. Hinnant's days_from_civil: exact for every Gregorian date. */
int rfs_date_to_days(struct rfs_date d, int64_t *days)
{
	if (!rfs_date_valid(d))
		return -EINVAL;
	int64_t y = d.month <= 2 ? d.year - 1 : d.year;
	int64_t era = y / 400;   /* y >= 0 here */
	int64_t yoe = y - era * 400;
	int64_t mp = (d.month + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days = era * 146097 + doe - 719468;
	return 0;
}

int rfs_date_from_days(int64_t days, struct rfs_date *out)
{
	if (days < MIN_DAYS || days > MAX_DAYS)
		return -ERANGE;
	int64_t z = days + 719468;   /* >= 306 here, so no negative division */
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	out->year = (int32_t)(yoe + era * 400 + (month <= 2));
	out->month = (int32_t)month;
	out->day = (int32_t)(doy - (153 * mp + 2) / 5 + 1);
	return 0;
}

int rfs_date_add(struct rfs_date d, int64_t n, enum rfs_period_unit unit, struct rfs_date *out)
{
	int64_t days;

	if (!rfs_date_valid(d))
		return -EINVAL;
	if (n > 10000 * 366 || n < -10000 * 366)
		return -ERANGE;
	if (unit == RFS_DAYS) {
		rfs_date_to_days(d, &days);
		return rfs_date_from_days(days + n, out);
	}
	if (unit != RFS_MONTHS && unit != RFS_YEARS)
		return -EINVAL;
	int64_t months = (int64_t)d.year * 12 + (d.month - 1) + (unit == RFS_YEARS ? n * 12 : n);
	int64_t year = months / 12;   /* months >= 0 whenever the result can be in range */
	if (months < 12 || year > 9999)
		return -ERANGE;
	struct rfs_date r = { (int32_t)year, (int32_t)(months % 12) + 1, d.day };
	int last = rfs_date_days_in_month(r.year, r.month);
	if (r.day > last)
		r.day = last;
	*out = r;
	return 0;
}

int rfs_date_add_period(struct rfs_date d, struct rfs_period p, struct rfs_date *out)
{
	return rfs_date_add(d, p.count, p.unit, out);
}

/* Exactly n decimal digits at text[0..n). */
static bool digits(const char *text, size_t n, int32_t *value)
{
	int32_t v = 0;

	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		v = v * 10 + (text[i] - '0');
	}
	*value = v;
	return true;
}

int rfs_date_parse(const char *text, size_t len, struct rfs_date *out)
{
	struct rfs_date d;

	if (len != 10 || text[4] != '-' || text[7] != '-' || !digits(text, 4, &d.year) ||
	    !digits(text + 5, 2, &d.month) || !digits(text + 8, 2, &d.day) || !rfs_date_valid(d))
		return -EINVAL;
	*out = d;
	return 0;
}

static void put2(char *out, int v)
{
	out[0] = (char)('0' + v / 10);
	out[1] = (char)('0' + v % 10);
}

int rfs_date_format(struct rfs_date d, char out[RFS_DATE_TEXT_SIZE])
{
	if (!rfs_date_valid(d))
		return -EINVAL;
	put2(out, d.year / 100);
	put2(out + 2, d.year % 100);
	out[4] = '-';
	put2(out + 5, d.month);
	out[7] = '-';
	put2(out + 8, d.day);
	out[10] = '\0';
	return 0;
}

/* Floor division by a positive divisor. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

int rfs_date_from_unix(int64_t unix_seconds, int32_t utc_offset, struct rfs_date *out)
{
	if (utc_offset > RFS_MAX_UTC_OFFSET || utc_offset < -RFS_MAX_UTC_OFFSET)
		return -EINVAL;
	/* Beyond this the result is out of range anyway, and the sum below cannot overflow. */
	if (unix_seconds > (int64_t)(MAX_DAYS + 2) * 86400 ||
	    unix_seconds < (int64_t)(MIN_DAYS - 2) * 86400)
		return -ERANGE;
	return rfs_date_from_days(floor_div(unix_seconds + utc_offset, 86400), out);
}

int rfs_date_timestamp_local_date(struct rfs_timestamp t, struct rfs_date *out)
{
	return rfs_date_from_unix(t.unix_seconds, t.utc_offset, out);
}

int rfs_date_timestamp_parse(const char *text, size_t len, struct rfs_timestamp *out)
{
	struct rfs_date d;
	int32_t hh, mm, ss, oh = 0, om = 0, sign = 1;
	int64_t days;

	if (len < 20 || rfs_date_parse(text, 10, &d) != 0 || text[10] != 'T' || text[13] != ':' ||
	    text[16] != ':' || !digits(text + 11, 2, &hh) || !digits(text + 14, 2, &mm) ||
	    !digits(text + 17, 2, &ss) || hh > 23 || mm > 59 || ss > 59)
		return -EINVAL;
	if (len == 20) {
		if (text[19] != 'Z')
			return -EINVAL;
	} else if (len == 25 && (text[19] == '+' || text[19] == '-') && text[22] == ':' &&
	           digits(text + 20, 2, &oh) && digits(text + 23, 2, &om) && om <= 59) {
		sign = text[19] == '-' ? -1 : 1;
	} else {
		return -EINVAL;
	}
	int32_t offset = sign * (oh * 3600 + om * 60);
	if (offset > RFS_MAX_UTC_OFFSET || offset < -RFS_MAX_UTC_OFFSET ||
	    (sign < 0 && offset == 0))  /* "-00:00" means "offset unknown" in RFC 3339: refuse */
		return -EINVAL;
	rfs_date_to_days(d, &days);
	out->unix_seconds = days * 86400 + hh * 3600 + mm * 60 + ss - offset;
	out->utc_offset = offset;
	return 0;
}

int rfs_date_timestamp_format(struct rfs_timestamp t, char out[RFS_TIMESTAMP_TEXT_SIZE])
{
	struct rfs_date d;
	int64_t days;
	int rc;

	if (t.utc_offset % 60 != 0)
		return -EINVAL;  /* ISO 8601 offsets are whole minutes */
	rc = rfs_date_timestamp_local_date(t, &d);
	if (rc != 0)
		return rc;
	rfs_date_to_days(d, &days);
	int64_t secs = t.unix_seconds + t.utc_offset - days * 86400;
	rfs_date_format(d, out);
	out[10] = 'T';
	put2(out + 11, (int)(secs / 3600));
	out[13] = ':';
	put2(out + 14, (int)(secs / 60 % 60));
	out[16] = ':';
	put2(out + 17, (int)(secs % 60));
	if (t.utc_offset == 0) {
		out[19] = 'Z';
		out[20] = '\0';
		return 0;
	}
	int32_t off = t.utc_offset < 0 ? -t.utc_offset : t.utc_offset;
	out[19] = t.utc_offset < 0 ? '-' : '+';
	put2(out + 20, off / 3600);
	out[22] = ':';
	put2(out + 23, off / 60 % 60);
	out[25] = '\0';
	return 0;
}
