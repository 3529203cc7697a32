/*
** policy: the retention policy's config text (docs/POLICY.md) parsed into a struct rfs_policy.
**
** Owns: the syntax: lines, '#' comments, sections, keys, the retain/then/lock/roles values,
** and every message a records manager sees for a mistake, each with its line and column.
** Must never: return a policy from text that has any error, stop at the first error when the
** next lines can still be checked, or crash, loop or read past len on any input.
*/
#include "policy/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_LIMIT 64          /* class, property, user and group names */
#define MAX_DAYS_RETAINED 366000u
#define QUOTE_LIMIT 60         /* bytes of a value quoted in a message */

enum section { SECTION_TOP, SECTION_ROLES, SECTION_CLASS, SECTION_UNKNOWN };
enum class_key { KEY_RECORDS, KEY_RETAIN, KEY_THEN, KEY_LOCK, KEY_AUTHORITY, CLASS_KEY_COUNT };

static const char *const class_keys[CLASS_KEY_COUNT] = { "records", "retain", "then", "lock",
                                                         "authority" };
static const char *const role_names[RFS_ROLE_COUNT] = { "records-manager", "approver" };

/* Where each key of a class was written (line 0: not written), for later checks. */
struct class_marks {
	unsigned key_line[CLASS_KEY_COUNT];
	unsigned records_column;
};

/* A piece of the current line: [s, s + n). */
struct span {
	const char *s;
	size_t n;
};

struct parser {
	struct rfs_policy *policy;
	struct rfs_policy_report *report;
	const char *line_start;
	unsigned line;
	enum section section;
	struct class_marks *marks;      /* one per class */
	size_t class_capacity;
	unsigned top_key_line[2];       /* organisation, archive */
	unsigned roles_line;
	unsigned role_line[RFS_ROLE_COUNT];
	bool out_of_memory;
};

const char *rfs_policy_role_name(enum rfs_role role)
{
	return (unsigned)role < RFS_ROLE_COUNT ? role_names[role] : NULL;
}

static unsigned column_of(const struct parser *ps, const char *at)
{
	unsigned column = 1;

	for (const char *c = ps->line_start; c < at; c++)
		column += ((unsigned char)*c & 0xC0) != 0x80;
	return column;
}

static void add_diag(struct rfs_policy_report *r, unsigned line, unsigned column,
                     const char *fmt, va_list ap)
{
	if (r->count == RFS_POLICY_MAX_DIAGS) {
		r->truncated = true;
		return;
	}
	struct rfs_policy_diag *d = &r->diags[r->count++];
	d->line = line;
	d->column = column;
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
}

__attribute__((format(printf, 3, 4)))
static void error_at(struct parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_diag(ps->report, ps->line, column_of(ps, at), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void error_line(struct parser *ps, unsigned line, unsigned column, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_diag(ps->report, line, column, fmt, ap);
	va_end(ap);
}

/* Bytes of sp to quote: at most QUOTE_LIMIT, never half a UTF-8 character. */
static int quote_len(struct span sp)
{
	size_t n = sp.n;

	if (n > QUOTE_LIMIT) {
		n = QUOTE_LIMIT;
		while (n > 0 && ((unsigned char)sp.s[n] & 0xC0) == 0x80)
			n--;
	}
	return (int)n;
}

#define Q(sp) quote_len(sp), (sp).s

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static struct span trim(struct span sp)
{
	while (sp.n > 0 && is_space(sp.s[0]))
		sp.s++, sp.n--;
	while (sp.n > 0 && is_space(sp.s[sp.n - 1]))
		sp.n--;
	return sp;
}

static bool span_is(struct span sp, const char *word)
{
	return strlen(word) == sp.n && memcmp(sp.s, word, sp.n) == 0;
}

/* The next run of non-blanks of *rest, consumed. */
static struct span next_word(struct span *rest)
{
	struct span w;

	*rest = trim(*rest);
	w.s = rest->s;
	w.n = 0;
	while (w.n < rest->n && !is_space(w.s[w.n]))
		w.n++;
	rest->s += w.n;
	rest->n -= w.n;
	return w;
}

static char *dup_span(struct parser *ps, struct span sp)
{
	char *s = malloc(sp.n + 1);

	if (!s) {
		ps->out_of_memory = true;
		return NULL;
	}
	memcpy(s, sp.s, sp.n);
	s[sp.n] = '\0';
	return s;
}

/* letters, digits, and the characters of extra; first character a letter or digit. */
static bool is_name(struct span sp, const char *extra, bool upper)
{
	if (sp.n == 0 || sp.n > NAME_LIMIT)
		return false;
	for (size_t i = 0; i < sp.n; i++) {
		char c = sp.s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		          (upper && c >= 'A' && c <= 'Z') || (i > 0 && c && strchr(extra, c));
		if (!ok)
			return false;
	}
	return true;
}

/* ---- [class NAME] values --------------------------------------------------------------- */

static const char retain_syntax[] = "retain is 'N days|months|years after TRIGGER', "
                                    "e.g. 8 years after closed";

static bool parse_count(struct parser *ps, struct span w, uint32_t *count)
{
	uint64_t v = 0;

	for (size_t i = 0; i < w.n; i++) {  /* w is never empty: the value is not */
		if (w.s[i] < '0' || w.s[i] > '9') {
			error_at(ps, w.s, "'%.*s' is not a number of days, months or years; %s", Q(w),
			         retain_syntax);
			return false;
		}
		if (v <= MAX_DAYS_RETAINED)
			v = v * 10 + (uint64_t)(w.s[i] - '0');
	}
	if (v == 0) {
		error_at(ps, w.s, "a retention period of 0 keeps nothing; the shortest is 1 day");
		return false;
	}
	*count = v > MAX_DAYS_RETAINED ? MAX_DAYS_RETAINED + 1 : (uint32_t)v;
	return true;
}

static bool parse_unit(struct parser *ps, struct span w, uint32_t count, enum rfs_period_unit *unit)
{
	static const char *const units[] = { "day", "days", "month", "months", "year", "years" };
	static const uint32_t limit[] = { MAX_DAYS_RETAINED, 12000, 1000 };

	for (unsigned u = 0; u < 6; u++) {
		if (!span_is(w, units[u]))
			continue;
		*unit = (enum rfs_period_unit)(u / 2);
		if (count > limit[u / 2]) {
			error_at(ps, w.s, "a retention period is at most 1000 years (12000 months, "
			                  "366000 days)");
			return false;
		}
		return true;
	}
	if (w.n == 0)
		error_at(ps, w.s, "the period has no unit: write days, months or years");
	else
		error_at(ps, w.s, "unknown unit '%.*s': write days, months or years", Q(w));
	return false;
}

static bool parse_trigger(struct parser *ps, struct span w, struct rfs_policy_class *cls)
{
	static const char *const builtin[] = { "created", "modified", "closed" };

	for (unsigned t = 0; t < 3; t++) {
		if (span_is(w, builtin[t])) {
			cls->trigger = (enum rfs_trigger)t;
			return true;
		}
	}
	if (w.n == 0) {
		error_at(ps, w.s, "the period has no trigger after 'after': created, modified, closed, "
		                  "or a dated property such as end");
		return false;
	}
	if (!is_name(w, "-_", false) || w.s[0] < 'a') {  /* a letter first, not a digit */
		error_at(ps, w.s, "'%.*s' is not a trigger: created, modified, closed, or a dated "
		                  "property (lower-case letters, digits, '-' and '_', at most 64)", Q(w));
		return false;
	}
	cls->trigger = RFS_TRIGGER_PROPERTY;
	cls->trigger_property = dup_span(ps, w);
	return cls->trigger_property != NULL;
}

static void parse_retain(struct parser *ps, struct span value, struct rfs_policy_class *cls)
{
	struct span rest = value;
	struct span count = next_word(&rest), unit = next_word(&rest);
	struct span after = next_word(&rest), trigger = next_word(&rest);
	struct span extra = next_word(&rest);

	if (!parse_count(ps, count, &cls->retain.count) ||
	    !parse_unit(ps, unit, cls->retain.count, &cls->retain.unit))
		return;
	if (!span_is(after, "after")) {
		if (after.n == 0)
			error_at(ps, after.s, "the period needs 'after TRIGGER', e.g. 8 years after closed");
		else
			error_at(ps, after.s, "expected 'after', not '%.*s'; %s", Q(after), retain_syntax);
		return;
	}
	if (parse_trigger(ps, trigger, cls) && extra.n > 0)
		error_at(ps, extra.s, "unexpected '%.*s' after the trigger (a comment starts with "
		                      "' #')", Q(extra));
}

static void parse_then(struct parser *ps, struct span value, struct rfs_policy_class *cls)
{
	static const char *const actions[] = { "destroy", "review", "archive" };

	for (unsigned a = 0; a < 3; a++) {
		if (!span_is(value, actions[a]))
			continue;
		cls->then = (enum rfs_action)a;
		if (cls->then == RFS_ACTION_ARCHIVE && !ps->policy->archive)
			error_at(ps, value.s, "then = archive needs 'archive = FOLDER' at the top of the "
			                      "policy, before the first section");
		return;
	}
	error_at(ps, value.s, "unknown action '%.*s': destroy, review or archive", Q(value));
}

static void parse_lock(struct parser *ps, struct span value, struct rfs_policy_class *cls)
{
	struct span rest = value;
	struct span first = next_word(&rest), second = next_word(&rest);

	if (span_is(value, "never"))
		cls->lock = RFS_LOCK_NEVER;
	else if (span_is(value, "always"))
		cls->lock = RFS_LOCK_ALWAYS;
	else if (span_is(first, "when") && span_is(second, "closed") && trim(rest).n == 0)
		cls->lock = RFS_LOCK_WHEN_CLOSED;
	else
		error_at(ps, value.s, "lock is never, when closed or always, not '%.*s'", Q(value));
}

static void parse_records(struct parser *ps, struct span value, struct rfs_policy_class *cls)
{
	size_t at = 0;
	const char *why = NULL;
	int rc = rfs_classify_pattern_compile(value.s, value.n, &cls->pattern, &at, &why);

	ps->marks[ps->policy->class_count - 1].records_column = column_of(ps, value.s);
	if (rc == -ENOMEM)
		ps->out_of_memory = true;
	else if (rc != 0)
		error_at(ps, value.s + at, "%s", why);
	else
		cls->records = dup_span(ps, value);
}

static void parse_authority(struct parser *ps, struct span value, struct rfs_policy_class *cls)
{
	cls->authority = dup_span(ps, value);
}

/* In the order of class_keys. */
static void (*const parse_value[CLASS_KEY_COUNT])(struct parser *, struct span,
                                                 struct rfs_policy_class *) = {
	parse_records, parse_retain, parse_then, parse_lock, parse_authority,
};

static void class_key(struct parser *ps, struct span key, struct span value)
{
	struct rfs_policy_class *cls = &ps->policy->classes[ps->policy->class_count - 1];
	struct class_marks *marks = &ps->marks[ps->policy->class_count - 1];
	unsigned k = 0;

	while (k < CLASS_KEY_COUNT && !span_is(key, class_keys[k]))
		k++;
	if (k == CLASS_KEY_COUNT) {
		error_at(ps, key.s, "unknown key '%.*s' in [class %s]: records, retain, then, lock "
		                    "or authority", Q(key), cls->name);
		return;
	}
	if (marks->key_line[k]) {
		error_at(ps, key.s, "%s is set twice in [class %s] (first at line %u)", class_keys[k],
		         cls->name, marks->key_line[k]);
		return;
	}
	marks->key_line[k] = ps->line;
	parse_value[k](ps, value, cls);
}

/* A class without records, retain or then has no rule: say so at its header. */
static void finish_class(struct parser *ps)
{
	static const char *const example[] = { "records = cases/*", "retain = 6 years after closed",
	                                       "then = destroy" };

	if (ps->section != SECTION_CLASS)
		return;
	struct rfs_policy_class *cls = &ps->policy->classes[ps->policy->class_count - 1];
	for (unsigned k = KEY_RECORDS; k <= KEY_THEN; k++)
		if (!ps->marks[ps->policy->class_count - 1].key_line[k])
			error_line(ps, cls->line, 1, "[class %s] has no %s (e.g. %s)", cls->name,
			           class_keys[k], example[k]);
}

/* ---- [roles] and the top ----------------------------------------------------------------- */

static bool is_account_name(struct span sp)
{
	/* Portable user and group names (POSIX), plus '@' inside and a final '$' (directories). */
	if (sp.n > 0 && sp.s[sp.n - 1] == '$')
		sp.n--;
	if (sp.n > 1 && sp.s[0] == '_')
		sp.s++, sp.n--;  /* a leading '_' is portable too (_apt, _backup) */
	return is_name(sp, "._-@", true);
}

static void add_member(struct parser *ps, struct rfs_policy_role_members *role, struct span m)
{
	bool group = m.n > 0 && m.s[0] == '@';
	struct span name = { m.s + group, m.n - group };

	if (m.n == 0) {
		error_at(ps, m.s, "an empty name in the list: two commas, or a comma at an end");
		return;
	}
	if (!is_account_name(name)) {
		error_at(ps, m.s, "'%.*s' is not a user or @group name (letters, digits, '.', '_', "
		                  "'-'; no spaces; at most 64)", Q(m));
		return;
	}
	for (size_t i = 0; i < role->count; i++) {
		if (role->members[i].group == group && span_is(name, role->members[i].name)) {
			error_at(ps, m.s, "'%.*s' is named twice in this role", Q(m));
			return;
		}
	}
	struct rfs_policy_member *grown = realloc(role->members,
	                                          (role->count + 1) * sizeof(*grown));
	if (!grown) {
		ps->out_of_memory = true;
		return;
	}
	role->members = grown;
	grown[role->count].group = group;
	grown[role->count].name = dup_span(ps, name);
	if (grown[role->count].name)
		role->count++;
}

static void role_key(struct parser *ps, struct span key, struct span value)
{
	unsigned r = 0;

	while (r < RFS_ROLE_COUNT && !span_is(key, role_names[r]))
		r++;
	if (r == RFS_ROLE_COUNT) {
		error_at(ps, key.s, "unknown role '%.*s': records-manager or approver", Q(key));
		return;
	}
	if (ps->role_line[r]) {
		error_at(ps, key.s, "role %s is given twice (first at line %u)", role_names[r],
		         ps->role_line[r]);
		return;
	}
	ps->role_line[r] = ps->line;
	ps->policy->roles[r].defined = true;
	for (struct span rest = value;;) {
		const char *comma = memchr(rest.s, ',', rest.n);
		size_t n = comma ? (size_t)(comma - rest.s) : rest.n;
		struct span member = trim((struct span){ rest.s, n });
		if (member.n == 0)
			member.s = rest.s + n;  /* point at the comma (or the end) */
		add_member(ps, &ps->policy->roles[r], member);
		if (!comma)
			break;
		rest = (struct span){ comma + 1, rest.n - n - 1 };
	}
}

static void top_key(struct parser *ps, struct span key, struct span value)
{
	static const char *const keys[] = { "organisation", "archive" };
	unsigned k = span_is(key, keys[0]) ? 0 : span_is(key, keys[1]) ? 1 : 2;

	if (k == 2) {
		error_at(ps, key.s, "unknown key '%.*s' at the top: organisation or archive (class "
		                    "keys go under a [class NAME] header)", Q(key));
		return;
	}
	if (ps->top_key_line[k]) {
		error_at(ps, key.s, "%s is set twice (first at line %u)", keys[k], ps->top_key_line[k]);
		return;
	}
	ps->top_key_line[k] = ps->line;
	if (k == 1 && value.s[0] != '/') {
		error_at(ps, value.s, "archive is an absolute folder, starting with '/'");
		return;
	}
	char **slot = k == 0 ? &ps->policy->organisation : &ps->policy->archive;
	*slot = dup_span(ps, value);
}

/* ---- lines and sections ---------------------------------------------------------------- */

static void open_class(struct parser *ps, struct span name)
{
	struct rfs_policy *p = ps->policy;

	if (!is_name(name, "._-", true)) {
		error_at(ps, name.s, "'%.*s' is not a class name (letters, digits, '.', '_' and '-', "
		                     "at most 64)", Q(name));
		ps->section = SECTION_UNKNOWN;
		return;
	}
	for (size_t i = 0; i < p->class_count; i++) {
		if (span_is(name, p->classes[i].name)) {
			error_at(ps, name.s, "class %.*s is defined twice (first at line %u)", Q(name),
			         p->classes[i].line);
			ps->section = SECTION_UNKNOWN;
			return;
		}
	}
	if (p->class_count == ps->class_capacity) {
		size_t cap = ps->class_capacity ? ps->class_capacity * 2 : 8;
		struct rfs_policy_class *classes = realloc(p->classes, cap * sizeof(*classes));
		if (classes)
			p->classes = classes;
		struct class_marks *marks = realloc(ps->marks, cap * sizeof(*marks));
		if (marks)
			ps->marks = marks;
		if (!classes || !marks) {
			ps->out_of_memory = true;
			return;
		}
		ps->class_capacity = cap;
	}
	struct rfs_policy_class *cls = &p->classes[p->class_count];
	memset(cls, 0, sizeof(*cls));
	memset(&ps->marks[p->class_count], 0, sizeof(ps->marks[0]));
	cls->line = ps->line;
	cls->name = dup_span(ps, name);
	if (!cls->name)
		return;
	p->class_count++;
	ps->section = SECTION_CLASS;
}

static void section_header(struct parser *ps, struct span line)
{
	finish_class(ps);
	ps->section = SECTION_UNKNOWN;
	if (line.s[line.n - 1] != ']') {
		error_at(ps, line.s + line.n - 1, "a section header ends with ']'");
		return;
	}
	struct span inner = trim((struct span){ line.s + 1, line.n - 2 });
	struct span rest = inner;
	struct span word = next_word(&rest);
	if (span_is(inner, "roles")) {
		if (ps->roles_line) {
			error_at(ps, inner.s, "a second [roles] section (the first is at line %u)",
			         ps->roles_line);
			return;
		}
		ps->roles_line = ps->line;
		ps->section = SECTION_ROLES;
	} else if (span_is(word, "class")) {
		struct span name = trim(rest);
		if (name.n == 0)
			error_at(ps, line.s + line.n - 1, "[class NAME] needs a name");
		else
			open_class(ps, name);
	} else {
		error_at(ps, inner.n ? inner.s : line.s, "unknown section [%.*s]: [roles] or "
		                                         "[class NAME]", Q(inner));
	}
}

/* The line without its comment: '#' at its start or after a blank begins one. */
static struct span strip_comment(struct span line)
{
	for (size_t i = 0; i < line.n; i++)
		if (line.s[i] == '#' && (i == 0 || is_space(line.s[i - 1])))
			return (struct span){ line.s, i };
	return line;
}

/* A control character or invalid UTF-8 is an error at its column, and the line is skipped. */
static bool line_is_text(struct parser *ps, struct span line)
{
	size_t bad = rfs_classify_utf8_check(line.s, line.n);

	for (size_t i = 0; i < bad; i++) {
		unsigned char c = (unsigned char)line.s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7F) {
			error_at(ps, line.s + i, "control character 0x%02X: a policy is plain text", c);
			return false;
		}
	}
	if (bad < line.n) {
		error_at(ps, line.s + bad, "invalid UTF-8 (byte 0x%02X)", (unsigned char)line.s[bad]);
		return false;
	}
	return true;
}

static void parse_line(struct parser *ps, struct span raw)
{
	if (!line_is_text(ps, raw))
		return;
	struct span line = trim(strip_comment(raw));
	if (line.n == 0)
		return;
	if (line.s[0] == '[') {
		section_header(ps, line);
		return;
	}
	const char *eq = memchr(line.s, '=', line.n);
	if (!eq) {
		error_at(ps, line.s, "expected KEY = VALUE or a [section] header");
		return;
	}
	struct span key = trim((struct span){ line.s, (size_t)(eq - line.s) });
	struct span value = trim((struct span){ eq + 1, line.n - (size_t)(eq - line.s) - 1 });
	if (key.n == 0) {
		error_at(ps, line.s, "no key before '='");
		return;
	}
	if (value.n == 0) {
		error_at(ps, eq, "%.*s has no value after '='", Q(key));
		return;
	}
	switch (ps->section) {
	case SECTION_TOP: top_key(ps, key, value); break;
	case SECTION_ROLES: role_key(ps, key, value); break;
	case SECTION_CLASS: class_key(ps, key, value); break;
	case SECTION_UNKNOWN: break;  /* its header was already an error */
	}
}

/* Equally specific patterns that can cover one path leave the path two classes: refuse. */
static int check_ambiguity(struct parser *ps)
{
	struct rfs_policy *p = ps->policy;

	for (size_t b = 0; b < p->class_count; b++) {
		for (size_t a = 0; a < b; a++) {
			const struct rfs_policy_class *ca = &p->classes[a], *cb = &p->classes[b];
			if (!ca->pattern || !cb->pattern ||
			    rfs_classify_pattern_cmp_specificity(ca->pattern, cb->pattern) != 0)
				continue;
			int rc = rfs_classify_pattern_overlap(ca->pattern, cb->pattern);
			if (rc < 0)
				return rc;
			if (rc)
				error_line(ps, ps->marks[b].key_line[KEY_RECORDS], ps->marks[b].records_column,
				           "records '%s' of class %s and '%s' of class %s (line %u) are as "
				           "specific as each other and can match the same path: make one more "
				           "specific", cb->records, cb->name, ca->records, ca->name,
				           ps->marks[a].key_line[KEY_RECORDS]);
		}
	}
	return 0;
}

/* Stable sort by line, then column: a class's missing keys are found at its end. */
static void sort_diags(struct rfs_policy_report *r)
{
	for (size_t i = 1; i < r->count; i++) {
		struct rfs_policy_diag d = r->diags[i];
		size_t j = i;
		while (j > 0 && (r->diags[j - 1].line > d.line ||
		                 (r->diags[j - 1].line == d.line && r->diags[j - 1].column > d.column))) {
			r->diags[j] = r->diags[j - 1];
			j--;
		}
		r->diags[j] = d;
	}
}

void rfs_policy_free(struct rfs_policy *policy)
{
	if (!policy)
		return;
	for (size_t i = 0; i < policy->class_count; i++) {
		struct rfs_policy_class *c = &policy->classes[i];
		free(c->name);
		free(c->records);
		rfs_classify_pattern_free(c->pattern);
		free(c->trigger_property);
		free(c->authority);
	}
	free(policy->classes);
	for (unsigned r = 0; r < RFS_ROLE_COUNT; r++) {
		for (size_t i = 0; i < policy->roles[r].count; i++)
			free(policy->roles[r].members[i].name);
		free(policy->roles[r].members);
	}
	free(policy->organisation);
	free(policy->archive);
	free(policy);
}

const struct rfs_policy_class *rfs_policy_find_class(const struct rfs_policy *policy,
                                                     const char *name)
{
	for (size_t i = 0; i < policy->class_count; i++)
		if (strcmp(policy->classes[i].name, name) == 0)
			return &policy->classes[i];
	return NULL;
}

int rfs_policy_parse(const char *text, size_t len, struct rfs_policy **out,
                     struct rfs_policy_report *report)
{
	struct rfs_policy_report scratch;
	struct parser ps = { .report = report ? report : &scratch, .section = SECTION_TOP };
	int rc = 0;

	*out = NULL;
	ps.report->count = 0;
	ps.report->truncated = false;
	if (len > RFS_POLICY_MAX_TEXT) {
		error_line(&ps, 1, 1, "the policy is larger than %u bytes", RFS_POLICY_MAX_TEXT);
		return -EFBIG;
	}
	ps.policy = calloc(1, sizeof(*ps.policy));
	if (!ps.policy)
		return -ENOMEM;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		text += 3, len -= 3;  /* a byte order mark, as some editors write */
	for (size_t start = 0; start < len && !ps.out_of_memory;) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;
		size_t n = end - start;
		if (n > 0 && text[end - 1] == '\r')
			n--;  /* CRLF line ends */
		ps.line++;
		ps.line_start = text + start;
		parse_line(&ps, (struct span){ text + start, n });
		start = end + 1;
	}
	if (!ps.out_of_memory) {
		finish_class(&ps);
		rc = check_ambiguity(&ps);
	}
	free(ps.marks);
	if (ps.out_of_memory || rc != 0) {
		rfs_policy_free(ps.policy);
		return -ENOMEM;
	}
	sort_diags(ps.report);
	if (ps.report->count > 0) {
		rfs_policy_free(ps.policy);
		return -EINVAL;
	}
	*out = ps.policy;
	return 0;
}
