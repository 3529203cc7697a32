/*
** demo_records: the fictional records of Northmoor Borough Council.
**
** Everything is generated from the small tables below, deterministically (no
** clock, no randomness), so every demo vault holds the same records. Each
** document is written into an in-memory FILE (open_memstream) and queued as a
** save; the queue is sorted by date and handed to the caller. The records of
** the retention story (aged_cases, aged_contracts, the deed, the tender) have
** dates counted back from the year the caller gives; the rest have fixed dates.
** Must never: do file I/O, read a clock, or name a real person: every name is
** invented.
*/
#include "tools/demo_records.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- people ---------------------------------------------------------------- */

struct staff {
	const char *login, *name, *role;
};

enum { PEMBERTON, OKAFOR, MARSDEN, THWAITE, HALLORAN, FAIRBAIRN, BUCKLEY, DUNMORE };

static const struct staff staff[] = {
	[PEMBERTON] = { "jpemberton", "Joanne Pemberton", "Social Worker" },
	[OKAFOR] = { "aokafor", "Adebayo Okafor", "Senior Practitioner" },
	[MARSDEN] = { "lmarsden", "Lesley Marsden", "Records Manager" },
	[THWAITE] = { "rthwaite", "Rachel Thwaite", "Commissioning Officer" },
	[HALLORAN] = { "nhalloran", "Niamh Halloran", "Head of Commissioning" },
	[FAIRBAIRN] = { "kfairbairn", "Keith Fairbairn", "Finance Officer" },
	[BUCKLEY] = { "gbuckley", "Gareth Buckley", "Telecare Service Manager" },
	[DUNMORE] = { "sdunmore", "Shona Dunmore", "Telecare Coordinator" },
};

#define COUNCIL "Northmoor Borough Council"
#define MAX_REVIEWS 3
#define CASES_DIR "adult-social-care/cases"
#define CONTRACTS_DIR "home-care-contracts"
#define DEEDS_DIR CONTRACTS_DIR "/sealed"
#define TENDERS_DIR "tenders/unsuccessful"

struct service_user {
	const char *case_id, *name, *born, *address;
	const char *needs, *outcomes;
	int worker;                         /* index into staff[] */
	const char *provider, *visits;
	const char *assessed;               /* "YYYY-MM-DD" */
	const char *reviews[MAX_REVIEWS];   /* dates; NULL ends */
	const char *review_notes[MAX_REVIEWS];
	const char *closed, *closure_reason; /* NULL while the case is open */
};

static const struct service_user service_users[] = {
	{ "ASC-2020-0093", "Thomas Kettlewell", "1944-08-30", "3 Quarry Row, Upper Northmoor NM7 2DL",
	  "Lives alone since his wife died in 2019. Falls at home (three in 2019), mild cognitive\n"
	  "impairment, forgets meals. Wears a telecare pendant alarm.",
	  "To stay in his own home near his allotment for as long as it is safe.",
	  OKAFOR, "HC-2020-03 Brightwell Home Care Ltd", "2 visits a day (08:00, 18:00), 30 minutes each",
	  "2020-02-17", { "2021-03-01", "2022-03-07", NULL },
	  { "Managing well with two visits. One fall in the year, pendant alarm used, no injury.",
	    "Memory worse; missed medication twice. Added a lunchtime visit; family to be asked about\n"
	    "residential care.", NULL },
	  "2023-03-06", "Moved to Heatherbank residential care home on 2023-02-28 at his own wish.\n"
	  "Home care ended 2023-02-27. Telecare alarm collected 2023-03-02." },
	{ "ASC-2021-0147", "Margaret Hollis", "1938-05-11", "14 Moorgate Terrace, Northmoor NM3 4QP",
	  "Discharged from Northmoor General after a hip fracture. Walks with a frame, cannot\n"
	  "manage the stairs or a bath alone. Lives alone; daughter visits at weekends.",
	  "To wash and dress with help, get back to her church group, and not move into a home.",
	  PEMBERTON, "HC-2020-03 Brightwell Home Care Ltd", "2 visits a day (07:30, 19:00), 45 minutes each",
	  "2021-04-12", { "2022-04-20", "2023-04-18", NULL },
	  { "Mobility much better. Evening visit cut to 30 minutes. Stair lift fitted in March.",
	    "Stable. Attends church group on Tuesdays with community transport. No change.", NULL },
	  NULL, NULL },
	{ "ASC-2022-0311", "Derek Ashworth", "1951-01-23", "Flat 6, Calder House, Northmoor NM2 8RT",
	  "Diagnosed with Alzheimer's disease in 2021. Leaves the cooker on, has got lost twice.\n"
	  "Wife Brenda is his main carer and is exhausted.",
	  "To stay at home with Brenda; Brenda to have two free afternoons a week.",
	  OKAFOR, "HC-2021-07 Moorside Care Partnership", "4 visits a day, 30 minutes; sitting service Tue and Fri 13:00-17:00",
	  "2022-06-03", { "2023-06-14", NULL },
	  { "Brenda's carer's assessment done. Day centre place at Heather Lane on Wednesdays.", NULL },
	  NULL, NULL },
	{ "ASC-2022-0588", "Priya Chaudhry", "1979-10-02", "27 Ridgeway Close, Northmoor NM5 1HX",
	  "Relapsing-remitting multiple sclerosis. Fatigue and weak hands in a relapse; works part\n"
	  "time from home. Two children aged 9 and 12.",
	  "To keep working and to get the children to school; to choose her own personal assistant.",
	  PEMBERTON, "HC-2022-01 Evergreen Homecare CIC", "1 morning visit, 60 minutes; direct payment for 6 PA hours a week",
	  "2022-11-21", { "2023-11-22", NULL },
	  { "Direct payment working well; PA employed since January. Relapse in August covered by\n"
	    "Evergreen for three weeks.", NULL },
	  NULL, NULL },
};

struct provider {
	const char *ref, *name, *address, *start, *end, *variation;
	int rate_pence, varied_rate_pence;  /* per hour */
	int hours_per_week;
	const char *areas;
};

static const struct provider providers[] = {
	{ "HC-2020-03", "Brightwell Home Care Ltd", "Unit 4, Tanner's Yard, Northmoor NM1 3AA",
	  "2020-04-01", "2025-03-31", "2022-09-01", 1940, 2180, 410, "Northmoor town, Upper Northmoor" },
	{ "HC-2021-07", "Moorside Care Partnership", "22 Station Road, Eastholme NM9 4LB",
	  "2021-07-01", "2024-06-30", "2023-04-01", 2010, 2260, 260, "Eastholme, Calder valley" },
	{ "HC-2022-01", "Evergreen Homecare CIC", "The Old Library, Ridgeway, Northmoor NM5 2JD",
	  "2022-01-10", "2026-01-09", NULL, 2120, 0, 150, "Ridgeway, Westmoor" },
};

struct telecare_client {
	const char *id, *name, *address, *unit, *installed, *ended, *outcome;
};

static const struct telecare_client telecare_clients[] = {
	{ "TC-1007", "Edith Greenwood", "9 Mill Lane, Northmoor NM3 2PL", "pendant", "2016-05-03", "2023-03-24",
	  "transferred to Pennine Lifeline" },
	{ "TC-1019", "Thomas Kettlewell", "3 Quarry Row, Upper Northmoor NM7 2DL", "pendant+falls", "2019-10-14",
	  "2023-03-02", "ended: moved to residential care" },
	{ "TC-1023", "Walter Binns", "41 Chapel Street, Eastholme NM9 1QE", "pendant", "2017-02-20", "2023-03-27",
	  "transferred to Pennine Lifeline" },
	{ "TC-1031", "Margaret Hollis", "14 Moorgate Terrace, Northmoor NM3 4QP", "pendant", "2021-04-19",
	  "2023-03-24", "transferred to Pennine Lifeline" },
	{ "TC-1042", "Ivy Sutcliffe", "2 Beck Cottages, Westmoor NM6 5TT", "pendant+smoke", "2018-11-08",
	  "2023-03-29", "transferred to Pennine Lifeline" },
	{ "TC-1055", "Arthur Lumb", "18 Ridgeway Close, Northmoor NM5 1HX", "pendant", "2020-09-01",
	  "2022-12-15", "ended: client died" },
	{ "TC-1061", "Dorothy Haigh", "7 Calder Walk, Eastholme NM9 3ZF", "pendant+falls", "2021-08-23",
	  "2023-03-29", "transferred to Pennine Lifeline" },
};

/* ---- the retention story: dates counted back from the year the demo runs ---- */

/* A case opened opened_ago years before this year, reviewed a year after, closed closed_ago
** years before this year (month and day fixed). */
struct aged_case {
	const char *serial, *name, *born, *address, *needs, *outcomes, *provider, *visits;
	int worker;
	int opened_ago, closed_ago;
	const char *opened_on, *closed_on;  /* "MM-DD" */
	const char *review_note, *closure_reason;
};

/* What the story does with each: closed 9 years ago (due for review), closed 10 years ago
** and under a named hold, opened inside the moratorium's range (held by it), closed 2 years
** ago (not due). */
enum { AGED_DUE, AGED_HELD, AGED_MORATORIUM, AGED_RECENT, AGED_CASES };

/* The moratorium covers cases created between these years before this year, both included. */
#define MORATORIUM_FROM_AGO 14
#define MORATORIUM_TO_AGO 12

static const struct aged_case aged_cases[AGED_CASES] = {
	[AGED_DUE] = { "0042", "Harold Pickersgill", "1931-02-14", "5 Weavers Fold, Northmoor NM4 6BT",
	  "Heart failure; breathless on stairs, cannot shop or cook. Lives alone, no family nearby.",
	  "To die at home, not in hospital.", "Dalesway Care Services Ltd", "3 visits a day, 30 minutes",
	  OKAFOR, 11, 9, "09-14", "05-02",
	  "Now bed-bound. District nurses visit daily; visits raised to four a day.",
	  "Died at home, as he wished. Home care ended the next day." },
	[AGED_HELD] = { "0388", "Violet Ackroyd", "1940-12-03", "11 Tenter Street, Eastholme NM9 2RS",
	  "Parkinson's disease; falls, cannot manage medication alone.",
	  "To stay with her cat in her own house.", "Dalesway Care Services Ltd", "2 visits a day, 45 minutes",
	  PEMBERTON, 11, 10, "03-22", "12-09",
	  "Two missed visits reported by her son; provider warned.",
	  "Moved to live with her son in Leeds. Her son disputes the care she received: see the\n"
	  "Ombudsman's complaint." },
	[AGED_MORATORIUM] = { "0017", "Winifred Stott", "1929-07-19", "Room 4, Heatherbank House, Northmoor NM3 7AA",
	  "Dementia; needs help with every personal care task. Placed at Heatherbank House.",
	  "To be safe and to see her grandchildren on Sundays.", "Heatherbank House (residential)",
	  "residential placement", OKAFOR, 13, 10, "01-28", "06-17",
	  "Settled at Heatherbank. Family raised concerns about night staffing.",
	  "Died at Heatherbank House." },
	[AGED_RECENT] = { "0261", "Ronald Firth", "1948-04-30", "2 Gas Street, Northmoor NM1 5PD",
	  "Stroke; left side weak, needs help to wash and dress.",
	  "To walk to the pub on his own again.", "Calderbrook Care Ltd", "2 visits a day, 30 minutes",
	  PEMBERTON, 5, 2, "07-08", "10-21",
	  "Walking with a stick. Morning visit only from now on.",
	  "Recovered; no longer eligible. Home care ended by agreement." },
};

/* A home-care contract from start_ago to end_ago years before this year. */
struct aged_contract {
	const char *serial, *name, *address, *areas;
	int start_ago, end_ago;
	const char *start_on, *end_on;  /* "MM-DD" */
	int rate_pence, hours_per_week;
};

/* Ended 7 years ago (due: archive, then destroy) and 2 years ago (not due). */
static const struct aged_contract aged_contracts[] = {
	{ "02", "Dalesway Care Services Ltd", "Mill House, Dale End, Northmoor NM8 1QQ", "Northmoor town, Dale End",
	  13, 7, "04-01", "03-31", 1510, 380 },
	{ "05", "Calderbrook Care Ltd", "3 Canal Wharf, Eastholme NM9 6TW", "Eastholme",
	  6, 2, "10-01", "09-30", 1980, 120 },
};

#define DEED_AGO 9       /* the lease under seal was signed this many years ago */
#define DEED_TERM 5      /* and runs for this many years */
#define TENDER_AGO 2     /* the unsuccessful tender was received this many years ago */

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the queue of saves ---------------------------------------------------- */

struct plan_item {
	char *path, *data;
	size_t len;
	int by;
	time_t when;
	size_t seq;
};

struct plan {
	struct plan_item *items;
	size_t n, cap;
	int failed;                 /* -ENOMEM once anything could not be queued */
};

/* A document being written: fprintf into doc.f, then plan_add_doc. */
struct doc {
	FILE *f;
	char *buf;
	size_t len;
};

/* "YYYY-MM-DD" or "YYYY-MM-DD HH:MM", read as UTC. */
static time_t at(const char *date, const char *time_of_day)
{
	struct tm tm = { 0 };

	sscanf(date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	if (time_of_day)
		sscanf(time_of_day, "%d:%d", &tm.tm_hour, &tm.tm_min);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void plan_take(struct plan *p, int by, time_t when, const char *path, char *data, size_t len)
{
	char *path_copy = strdup(path);

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct plan_item *grown = realloc(p->items, cap * sizeof(*grown));

		if (grown) {
			p->items = grown;
			p->cap = cap;
		}
	}
	if (!data || !path_copy || p->n == p->cap) {
		free(data);
		free(path_copy);
		p->failed = -ENOMEM;
		return;
	}
	p->items[p->n] = (struct plan_item){ path_copy, data, len, by, when, p->n };
	p->n++;
}

static FILE *doc_open(struct doc *d)
{
	d->buf = NULL;
	d->len = 0;
	d->f = open_memstream(&d->buf, &d->len);
	return d->f;
}

/* Queue the document as a save of path (printf-style) and close it. */
static void plan_add_doc(struct plan *p, struct doc *d, int by, time_t when, const char *path_fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void plan_add_doc(struct plan *p, struct doc *d, int by, time_t when, const char *path_fmt, ...)
{
	char path[1024];
	va_list ap;
	int bad = !d->f || ferror(d->f);

	va_start(ap, path_fmt);
	vsnprintf(path, sizeof(path), path_fmt, ap);
	va_end(ap);
	if (d->f && fclose(d->f) != 0)
		bad = 1;
	if (bad) {
		free(d->buf);
		d->buf = NULL;
	}
	plan_take(p, by, when, path, d->buf, d->len);
	d->f = NULL;
	d->buf = NULL;
}

static int by_date(const void *a, const void *b)
{
	const struct plan_item *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- documents ------------------------------------------------------------- */

static void write_letterhead(FILE *f, const char *department, const char *title)
{
	fprintf(f, "%s\n%s\n\n%s\n", COUNCIL, department, title);
	for (size_t i = strlen(title); i > 0; i--)
		fputc('=', f);
	fputs("\n\n", f);
}

/* A small, valid one-page PDF: a signed consent form as scanned into a case. */
static void write_consent_pdf(FILE *f, const struct service_user *u)
{
	long offsets[6];
	char stream[1024];
	int n = snprintf(stream, sizeof(stream),
	                 "BT /F1 16 Tf 72 770 Td (%s - Adult Social Care) Tj\n"
	                 "/F1 12 Tf 0 -32 Td (Consent to share information) Tj\n"
	                 "0 -24 Td (Case %s: %s, born %s) Tj\n"
	                 "0 -18 Td (I agree that my information may be shared with my care provider,) Tj\n"
	                 "0 -18 Td (my GP and the telecare service, to arrange my care.) Tj\n"
	                 "0 -36 Td (Signed: [signature]      Date: %s) Tj\n"
	                 "0 -36 Td (FICTIONAL RECORD - recfs demonstration data) Tj ET\n",
	                 COUNCIL, u->case_id, u->name, u->born, u->assessed);

	fputs("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", f);
	offsets[1] = ftell(f);
	fputs("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n", f);
	offsets[2] = ftell(f);
	fputs("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n", f);
	offsets[3] = ftell(f);
	fputs("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
	      "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>\nendobj\n", f);
	offsets[4] = ftell(f);
	fputs("4 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n", f);
	offsets[5] = ftell(f);
	fprintf(f, "5 0 obj\n<< /Length %d >>\nstream\n%sendstream\nendobj\n", n, stream);

	long xref = ftell(f);

	fputs("xref\n0 6\n0000000000 65535 f \n", f);
	for (int i = 1; i <= 5; i++)
		fprintf(f, "%010ld 00000 n \n", offsets[i]);
	fprintf(f, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n", xref);
}

static void write_care_plan(FILE *f, const struct service_user *u, int reviews_done)
{
	fprintf(f, "# Care and support plan: %s\n\n", u->name);
	fprintf(f, "- **Case:** %s\n- **Born:** %s\n- **Address:** %s\n", u->case_id, u->born, u->address);
	fprintf(f, "- **Social worker:** %s\n- **Status:** %s\n\n", staff[u->worker].name,
	        reviews_done < 0 ? "closed" : "open");
	fprintf(f, "## What matters to %s\n\n%s\n\n", u->name, u->outcomes);
	fprintf(f, "## Eligible needs (Care Act 2014)\n\n%s\n\n", u->needs);
	fprintf(f, "## Support arranged\n\n- Home care: %s\n- Visits: %s\n\n", u->provider, u->visits);
	fprintf(f, "## Plan history\n\n- %s: plan agreed after assessment\n", u->assessed);
	for (int i = 0; i < MAX_REVIEWS && u->reviews[i] && (reviews_done < 0 || i < reviews_done); i++)
		fprintf(f, "- %s: reviewed. %s\n", u->reviews[i], u->review_notes[i]);
	if (reviews_done < 0)
		fprintf(f, "- %s: case closed. %s\n", u->closed, u->closure_reason);
}

static void add_case_file(struct plan *p, const struct service_user *u)
{
	const struct staff *worker = &staff[u->worker];
	struct doc d;
	int reviewer = u->worker == OKAFOR ? PEMBERTON : OKAFOR;
	const char *dir = CASES_DIR;

	if (doc_open(&d)) {
		write_letterhead(d.f, "Adult Social Care", "Needs assessment (Care Act 2014, s.9)");
		fprintf(d.f, "Case:        %s\nName:        %s\nBorn:        %s\nAddress:     %s\n"
		        "Assessed on: %s by %s, %s\n\n",
		        u->case_id, u->name, u->born, u->address, u->assessed, worker->name, worker->role);
		fprintf(d.f, "Presenting needs\n----------------\n%s\n\nWhat the person wants\n"
		        "---------------------\n%s\n\nDecision\n--------\nEligible needs under the Care and Support "
		        "(Eligibility Criteria) Regulations 2015.\nRecommended: %s, %s.\n",
		        u->needs, u->outcomes, u->provider, u->visits);
	}
	plan_add_doc(p, &d, u->worker, at(u->assessed, "10:30"), "%s/%s %s/assessment.txt", dir, u->case_id, u->name);

	if (doc_open(&d))
		write_consent_pdf(d.f, u);
	plan_add_doc(p, &d, u->worker, at(u->assessed, "11:15"), "%s/%s %s/consent-to-share.pdf", dir, u->case_id,
	             u->name);

	if (doc_open(&d))
		write_care_plan(d.f, u, 0);
	plan_add_doc(p, &d, u->worker, at(u->assessed, "16:40"), "%s/%s %s/care-plan.md", dir, u->case_id, u->name);

	for (int i = 0; i < MAX_REVIEWS && u->reviews[i]; i++) {
		if (doc_open(&d)) {
			write_letterhead(d.f, "Adult Social Care", "Care and support plan review (Care Act 2014, s.27)");
			fprintf(d.f, "Case:     %s, %s\nReviewed: %s by %s, %s\nPresent:  %s; %s; %s\n\n%s\n",
			        u->case_id, u->name, u->reviews[i], staff[reviewer].name, staff[reviewer].role,
			        u->name, staff[reviewer].name, u->provider, u->review_notes[i]);
		}
		plan_add_doc(p, &d, reviewer, at(u->reviews[i], "14:00"), "%s/%s %s/reviews/%s-review.txt", dir,
		             u->case_id, u->name, u->reviews[i]);
		if (doc_open(&d))
			write_care_plan(d.f, u, i + 1);
		plan_add_doc(p, &d, u->worker, at(u->reviews[i], "16:20"), "%s/%s %s/care-plan.md", dir, u->case_id,
		             u->name);
	}
	if (!u->closed)
		return;
	if (doc_open(&d)) {
		write_letterhead(d.f, "Adult Social Care", "Case closure");
		fprintf(d.f, "Case:   %s, %s\nClosed: %s by %s, %s\n\nReason\n------\n%s\n\n"
		        "Retention: keep this case file for 8 years after closure, then review.\n",
		        u->case_id, u->name, u->closed, worker->name, worker->role, u->closure_reason);
	}
	plan_add_doc(p, &d, u->worker, at(u->closed, "09:45"), "%s/%s %s/case-closure.txt", dir, u->case_id, u->name);
	if (doc_open(&d))
		write_care_plan(d.f, u, -1);
	plan_add_doc(p, &d, u->worker, at(u->closed, "09:50"), "%s/%s %s/care-plan.md", dir, u->case_id, u->name);
}

static void write_contract(FILE *f, const struct provider *c, int varied)
{
	write_letterhead(f, "Adult Social Care Commissioning", "Contract for the provision of home care services");
	fprintf(f, "Contract:  %s\nProvider:  %s, %s\nTerm:      %s to %s\nAreas:     %s\n"
	        "Volume:    about %d hours a week, spot-purchased per service user\n"
	        "Rate:      GBP %d.%02d per hour of care delivered%s\n\n",
	        c->ref, c->name, c->address, c->start, c->end, c->areas, c->hours_per_week,
	        c->rate_pence / 100, c->rate_pence % 100, varied ? " (until the variation below)" : "");
	fputs("1. The Provider shall deliver personal care as set out in each service user's care and\n"
	      "   support plan, at the times agreed, and record each visit electronically.\n"
	      "2. Missed or late visits (more than 30 minutes) are reported to the Council within 24 hours.\n"
	      "3. The Provider invoices monthly in arrears for hours delivered.\n"
	      "4. Records made under this contract belong to the Council and are returned to it on expiry.\n"
	      "5. Records retention: 6 years after the end of the contract (Limitation Act 1980, s.5).\n", f);
	if (varied)
		fprintf(f, "\nVariation 1, agreed %s\n-------------------------\nThe hourly rate becomes GBP %d.%02d "
		        "from %s (National Living Wage uplift).\nSigned for the Council: %s, %s.\n",
		        c->variation, c->varied_rate_pence / 100, c->varied_rate_pence % 100, c->variation,
		        staff[HALLORAN].name, staff[HALLORAN].role);
}

/* A tiny deterministic generator, so every demo vault is the same. */
static uint32_t next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* Invoices from the contract start to the end of year. */
static void write_invoices(FILE *f, const struct provider *c, int year, uint32_t *rng)
{
	int start_year, start_month;

	sscanf(c->start, "%d-%d", &start_year, &start_month);
	fputs("invoice,period,hours,rate_gbp,amount_gbp,status\n", f);
	for (int y = start_year; y <= year; y++) {
		for (int m = y == start_year ? start_month : 1; m <= 12; m++) {
			char period[24];
			int hours = c->hours_per_week * 13 / 3 - 40 + (int)(next_random(rng) % 80);
			snprintf(period, sizeof(period), "%04d-%02d", y, m);

			int rate = c->variation && strncmp(period, c->variation, 7) >= 0 ? c->varied_rate_pence : c->rate_pence;
			long amount = (long)hours * rate;

			fprintf(f, "%s-%04d%02d,%s,%d,%d.%02d,%ld.%02ld,%s\n", c->ref, y, m, period, hours,
			        rate / 100, rate % 100, amount / 100, amount % 100,
			        y == year && m == 12 ? "awaiting payment" : "paid");
		}
	}
}

/* The contract's documents, and its invoices up to last_invoice_year. */
static void add_contract(struct plan *p, const struct provider *c, int last_invoice_year, uint32_t *rng)
{
	const char *dir = CONTRACTS_DIR;
	struct doc d;
	int start_year, end_year;

	sscanf(c->start, "%d", &start_year);
	sscanf(c->end, "%d", &end_year);
	if (doc_open(&d))
		write_contract(d.f, c, 0);
	plan_add_doc(p, &d, THWAITE, at(c->start, "09:00") - 14 * 86400, "%s/%s %s/contract.txt", dir, c->ref, c->name);
	if (doc_open(&d)) {
		write_letterhead(d.f, "Adult Social Care Commissioning", "Visit schedule");
		fprintf(d.f, "Contract %s, %s\n\nRound       Days     Window         Carers\n"
		        "Morning     Mon-Sun  07:00-10:30    4\nLunch       Mon-Sun  11:30-14:00    2\n"
		        "Tea         Mon-Sun  16:00-18:00    2\nBed         Mon-Sun  19:00-22:00    3\n", c->ref, c->name);
	}
	plan_add_doc(p, &d, THWAITE, at(c->start, "09:30") - 7 * 86400, "%s/%s %s/visit-schedule.txt", dir, c->ref,
	             c->name);
	if (c->variation) {
		if (doc_open(&d))
			write_contract(d.f, c, 1);
		plan_add_doc(p, &d, HALLORAN, at(c->variation, "11:00"), "%s/%s %s/contract.txt", dir, c->ref, c->name);
	}
	for (int year = start_year; year <= last_invoice_year && year <= end_year; year++) {
		char year_end[24];

		snprintf(year_end, sizeof(year_end), "%04d-12-31", year);
		if (doc_open(&d))
			write_invoices(d.f, c, year, rng);
		plan_add_doc(p, &d, FAIRBAIRN, at(year_end, "15:00"), "%s/%s %s/invoices.csv", dir, c->ref, c->name);
	}
}

static void write_client_list(FILE *f, const char *as_of)
{
	fputs("client,name,address,equipment,installed,ended,outcome\n", f);
	for (size_t i = 0; i < N(telecare_clients); i++) {
		const struct telecare_client *t = &telecare_clients[i];

		if (strcmp(t->installed, as_of) > 0)
			continue;
		int ended = strcmp(t->ended, as_of) <= 0;

		fprintf(f, "%s,%s,\"%s\",%s,%s,%s,%s\n", t->id, t->name, t->address, t->unit, t->installed,
		        ended ? t->ended : "", ended ? t->outcome : "active");
	}
}

static void write_alarm_log(FILE *f, int year, int quarter, uint32_t *rng)
{
	static const char *const events[] = { "pendant pressed", "pendant pressed", "test call",
	                                      "falls detector", "low battery", "smoke detector",
	                                      "no response to daily check" };
	static const char *const outcomes[] = { "spoke to client, no help needed", "family contacted",
	                                        "mobile warden attended", "ambulance called",
	                                        "false alarm, reset", "engineer booked" };

	fprintf(f, "# %s telecare alarm monitoring centre: calls %d Q%d\n", COUNCIL, year, quarter);
	for (int day = 0; day < 91; day += 1 + (int)(next_random(rng) % 3)) {
		const struct telecare_client *t = &telecare_clients[next_random(rng) % N(telecare_clients)];
		struct tm tm = { .tm_year = year - 1900, .tm_mon = (quarter - 1) * 3, .tm_mday = 1 + day };
		time_t when = timegm(&tm) + (time_t)(next_random(rng) % 86400);
		char stamp[32];

		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime_r(&when, &tm));
		if (strcmp(stamp, t->installed) < 0 || strcmp(stamp, t->ended) > 0)
			continue;
		fprintf(f, "%s %s %-28s operator=%s outcome=%s\n", stamp, t->id,
		        events[next_random(rng) % N(events)], next_random(rng) % 2 ? "SD" : "GB",
		        outcomes[next_random(rng) % N(outcomes)]);
	}
}

static void add_telecare_service(struct plan *p, uint32_t *rng)
{
	static const char *const list_dates[] = { "2021-01-05", "2022-06-30", "2023-03-31" };
	static const int list_by[] = { BUCKLEY, DUNMORE, BUCKLEY };
	const char *dir = DEMO_CLOSED_SERVICE;
	struct doc d;

	for (size_t i = 0; i < N(list_dates); i++) {
		if (doc_open(&d))
			write_client_list(d.f, list_dates[i]);
		plan_add_doc(p, &d, list_by[i], at(list_dates[i], "12:00"), "%s/client-list.csv", dir);
	}
	for (int q = 0; q < 4; q++) {
		int year = q < 3 ? 2022 : 2023, quarter = q < 3 ? q + 2 : 1;
		char quarter_end[24];

		snprintf(quarter_end, sizeof(quarter_end), "%04d-%02d-28", year, quarter * 3);
		if (doc_open(&d))
			write_alarm_log(d.f, year, quarter, rng);
		plan_add_doc(p, &d, DUNMORE, at(quarter_end, "17:00"), "%s/alarm-logs/%d-Q%d.log", dir, year, quarter);
	}
	if (doc_open(&d)) {
		write_letterhead(d.f, "Adult Social Care", "Notice of closure: Northmoor Telecare alarm service");
		fputs("The Council's telecare alarm service closed at 17:00 on 31 March 2023.\n\n"
		      "Clients who wished to keep an alarm were transferred to Pennine Lifeline (a fictional\n"
		      "provider) between 24 and 29 March 2023; see client-list.csv. Alarm units not transferred\n"
		      "were collected. The monitoring centre's call logs are kept in alarm-logs/.\n\n"
		      "Records: this folder is closed. Its records go to Pennine Lifeline as one signed,\n"
		      "encrypted archive; the Council keeps its copy for a year after they confirm receipt,\n"
		      "then destroys it.\n\n", d.f);
		fprintf(d.f, "%s, %s\n", staff[BUCKLEY].name, staff[BUCKLEY].role);
	}
	plan_add_doc(p, &d, BUCKLEY, at("2023-03-31", "17:30"), "%s/service-closure-notice.txt", dir);
}

static void add_readme(struct plan *p)
{
	struct doc d;

	if (doc_open(&d)) {
		fprintf(d.f, "%s: records (FICTIONAL)\n\n", COUNCIL);
		fputs("Everything in this vault is invented for the recfs demonstration: the council, its\n"
		      "staff, its service users and its providers. Any likeness to real people is chance.\n\n"
		      "adult-social-care/cases/   one folder per service user: assessment, care plan,\n"
		      "                           reviews, scanned consent form\n"
		      "home-care-contracts/       one folder per provider: contract, visit schedule, invoices\n"
		      "home-care-contracts/sealed/ leases and other contracts under seal\n"
		      "tenders/unsuccessful/      bids the council did not accept\n"
		      DEMO_CLOSED_SERVICE "/\n"
		      "                           a closed service: closure notice, client list, alarm logs\n", d.f);
	}
	plan_add_doc(p, &d, MARSDEN, at("2020-01-06", "09:00"), "README.txt");
}

/* ---- the retention story's records ------------------------------------------ */

static void date_ago(char out[DEMO_DATE_SIZE], int this_year, int years_ago, const char *month_day)
{
	unsigned year = (unsigned)(this_year - years_ago) % 10000u;  /* 4 digits, for the compiler */

	snprintf(out, DEMO_DATE_SIZE, "%04u-%.5s", year, month_day);
}

/* An aged case as a service user with real dates (pointing into *dc). */
struct dated_case {
	struct service_user u;
	char case_id[24], assessed[DEMO_DATE_SIZE], review[DEMO_DATE_SIZE], closed[DEMO_DATE_SIZE];
};

static void dated_case_make(struct dated_case *dc, const struct aged_case *a, int this_year)
{
	date_ago(dc->assessed, this_year, a->opened_ago, a->opened_on);
	date_ago(dc->review, this_year, a->opened_ago - 1, a->opened_on);
	date_ago(dc->closed, this_year, a->closed_ago, a->closed_on);
	snprintf(dc->case_id, sizeof(dc->case_id), "ASC-%04d-%s", this_year - a->opened_ago, a->serial);
	dc->u = (struct service_user){ dc->case_id, a->name, a->born, a->address, a->needs, a->outcomes,
	                               a->worker, a->provider, a->visits, dc->assessed, { dc->review },
	                               { a->review_note }, dc->closed, a->closure_reason };
}

struct dated_contract {
	struct provider c;
	char ref[16], start[DEMO_DATE_SIZE], end[DEMO_DATE_SIZE];
};

static void dated_contract_make(struct dated_contract *dc, const struct aged_contract *a, int this_year)
{
	date_ago(dc->start, this_year, a->start_ago, a->start_on);
	date_ago(dc->end, this_year, a->end_ago, a->end_on);
	snprintf(dc->ref, sizeof(dc->ref), "HC-%04d-%s", this_year - a->start_ago, a->serial);
	dc->c = (struct provider){ dc->ref, a->name, a->address, dc->start, dc->end, NULL,
	                           a->rate_pence, 0, a->hours_per_week, a->areas };
}

static void deed_path(char out[128], int this_year)
{
	snprintf(out, 128, DEEDS_DIR "/DEED-%04d-01 Heatherbank House lease", this_year - DEED_AGO);
}

static void tender_path(char out[128], int this_year)
{
	snprintf(out, 128, TENDERS_DIR "/TND-%04d-04 Ashgrove Care night sitting bid", this_year - TENDER_AGO);
}

static void add_deed_and_tender(struct plan *p, int this_year)
{
	char path[128], signed_on[DEMO_DATE_SIZE], ends[DEMO_DATE_SIZE], received[DEMO_DATE_SIZE];
	struct doc d;

	date_ago(signed_on, this_year, DEED_AGO, "06-01");
	date_ago(ends, this_year, DEED_AGO - DEED_TERM, "05-31");
	deed_path(path, this_year);
	if (doc_open(&d)) {
		write_letterhead(d.f, "Legal Services", "Lease of Heatherbank House (executed as a deed)");
		fprintf(d.f, "Landlord: %s\nTenant:   Heatherbank Care Ltd\nTerm:     %s to %s\n\n"
		        "Executed as a deed under the Council's common seal on %s.\n"
		        "Records retention: 12 years after the end of the lease (Limitation Act 1980, s.8).\n",
		        COUNCIL, signed_on, ends, signed_on);
	}
	plan_add_doc(p, &d, HALLORAN, at(signed_on, "12:00"), "%s/lease.txt", path);

	date_ago(received, this_year, TENDER_AGO, "02-10");
	tender_path(path, this_year);
	if (doc_open(&d)) {
		write_letterhead(d.f, "Adult Social Care Commissioning", "Tender evaluation: night sitting service");
		fprintf(d.f, "Bidder:   Ashgrove Care (fictional)\nReceived: %s\nScore:    41/100 (threshold 60)\n"
		        "Outcome:  unsuccessful; bidder told on the day of the award.\n", received);
	}
	plan_add_doc(p, &d, THWAITE, at(received, "15:00"), "%s/evaluation.txt", path);
}

int demo_records_generate(int this_year, demo_save_fn fn, void *ctx)
{
	struct plan p = { 0 };
	uint32_t rng = 0x4e4d4243;   /* fixed: the same records every time */
	int rc = 0;

	add_readme(&p);
	for (size_t i = 0; i < N(service_users); i++)
		add_case_file(&p, &service_users[i]);
	for (size_t i = 0; i < N(providers); i++)
		add_contract(&p, &providers[i], 2023, &rng);
	add_telecare_service(&p, &rng);
	for (size_t i = 0; i < N(aged_cases); i++) {
		struct dated_case dc;

		dated_case_make(&dc, &aged_cases[i], this_year);
		add_case_file(&p, &dc.u);
	}
	for (size_t i = 0; i < N(aged_contracts); i++) {
		struct dated_contract dc;

		dated_contract_make(&dc, &aged_contracts[i], this_year);
		add_contract(&p, &dc.c, this_year - aged_contracts[i].end_ago - 1, &rng);
	}
	add_deed_and_tender(&p, this_year);
	rc = p.failed;
	if (rc == 0)
		qsort(p.items, p.n, sizeof(p.items[0]), by_date);
	for (size_t i = 0; i < p.n && rc == 0; i++) {
		const struct plan_item *it = &p.items[i];
		const struct demo_save save = { it->path, staff[it->by].login, staff[it->by].name,
		                                it->when, it->data, it->len };

		rc = fn(&save, ctx);
	}
	for (size_t i = 0; i < p.n; i++) {
		free(p.items[i].path);
		free(p.items[i].data);
	}
	free(p.items);
	return rc;
}

/* ---- the retention story's actions ---------------------------------------------- */

static void record_path(char out[128], const char *dir, const char *id, const char *name)
{
	snprintf(out, 128, "%s/%s %s", dir, id, name);
}

static int act_set(demo_action_fn fn, void *ctx, const char *path, const char *key, const char *date)
{
	struct demo_action a = { .kind = DEMO_SET, .key = key };

	snprintf(a.path, sizeof(a.path), "%s", path);
	snprintf(a.date, sizeof(a.date), "%s", date);
	return fn(&a, ctx);
}

static int act_close(demo_action_fn fn, void *ctx, const struct service_user *u)
{
	struct demo_action a = { .kind = DEMO_CLOSE };

	record_path(a.path, CASES_DIR, u->case_id, u->name);
	snprintf(a.date, sizeof(a.date), "%s", u->closed);
	return fn(&a, ctx);
}

void demo_records_story_cases(int this_year, char due[128], char held[128])
{
	struct dated_case dc;

	dated_case_make(&dc, &aged_cases[AGED_DUE], this_year);
	record_path(due, CASES_DIR, dc.u.case_id, dc.u.name);
	dated_case_make(&dc, &aged_cases[AGED_HELD], this_year);
	record_path(held, CASES_DIR, dc.u.case_id, dc.u.name);
}

int demo_records_retention(int this_year, demo_action_fn fn, void *ctx)
{
	struct dated_case cases[AGED_CASES];
	struct demo_action hold = { .kind = DEMO_HOLD_RECORD };
	char path[128];
	int rc = 0;

	/* Contracts end: 'end' is the date their retention counts from. */
	for (size_t i = 0; i < N(providers) && rc == 0; i++) {
		record_path(path, CONTRACTS_DIR, providers[i].ref, providers[i].name);
		rc = act_set(fn, ctx, path, "end", providers[i].end);
	}
	for (size_t i = 0; i < N(aged_contracts) && rc == 0; i++) {
		struct dated_contract dc;

		dated_contract_make(&dc, &aged_contracts[i], this_year);
		record_path(path, CONTRACTS_DIR, dc.c.ref, dc.c.name);
		rc = act_set(fn, ctx, path, "end", dc.c.end);
	}
	if (rc == 0) {
		char ends[DEMO_DATE_SIZE];

		date_ago(ends, this_year, DEED_AGO - DEED_TERM, "05-31");
		deed_path(path, this_year);
		rc = act_set(fn, ctx, path, "end", ends);
	}
	/* Cases close (and their class locks them from then on). */
	for (size_t i = 0; i < N(service_users) && rc == 0; i++)
		if (service_users[i].closed)
			rc = act_close(fn, ctx, &service_users[i]);
	for (size_t i = 0; i < AGED_CASES && rc == 0; i++) {
		dated_case_make(&cases[i], &aged_cases[i], this_year);
		rc = act_close(fn, ctx, &cases[i].u);
	}
	if (rc)
		return rc;
	/* A complaint to the Ombudsman holds one case. */
	record_path(hold.path, CASES_DIR, cases[AGED_HELD].u.case_id, cases[AGED_HELD].u.name);
	hold.hold_name = "ombudsman-complaint";
	snprintf(hold.authority, sizeof(hold.authority),
	         "Local Government and Social Care Ombudsman: complaint about case %s, under investigation",
	         cases[AGED_HELD].u.case_id);
	rc = fn(&hold, ctx);
	if (rc)
		return rc;
	/* A public inquiry's moratorium holds every case opened in its years. */
	hold = (struct demo_action){ .kind = DEMO_HOLD_CLASS, .hold_name = "heatherbank-inquiry",
	                             .class_name = "adult-social-care-case" };
	date_ago(hold.from, this_year, MORATORIUM_FROM_AGO, "01-01");
	date_ago(hold.to, this_year, MORATORIUM_TO_AGO, "12-31");
	snprintf(hold.authority, sizeof(hold.authority),
	         "Heatherbank House Inquiry: no case file opened %d to %d may be destroyed",
	         this_year - MORATORIUM_FROM_AGO, this_year - MORATORIUM_TO_AGO);
	return fn(&hold, ctx);
}
