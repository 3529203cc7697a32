/* The example schedule of issue 11, exactly as written there. */
#ifndef RECFS_TEST_ANYTOWN_H
#define RECFS_TEST_ANYTOWN_H

static const char anytown_policy[] =
	"# Retention schedule of Anytown Council (example)\n"
	"organisation = Anytown Council\n"
	"archive      = /srv/records/archive        # where 'then = archive' writes its archives (outside the vault)\n"
	"\n"
	"[roles]\n"
	"records-manager = @recordsteam, jsmith      # Unix users and @groups; may load policy, set, close, hold, dispose\n"
	"approver        = @informationgovernance    # may approve reviews\n"
	"\n"
	"[class adult-social-care-case]\n"
	"records   = cases/*              # each folder directly under cases/ is one record\n"
	"retain    = 8 years after closed\n"
	"then      = review               # destroy | review | archive\n"
	"lock      = when closed          # never | when closed | always\n"
	"authority = NHS Records Management Code of Practice 2021, adult social care records\n"
	"\n"
	"[class provider-contract]\n"
	"records   = contracts/*\n"
	"retain    = 6 years after end    # 'end' is a dated property of the record\n"
	"then      = archive\n"
	"authority = Limitation Act 1980 s.5\n"
	"\n"
	"[class contract-under-seal]\n"
	"records   = contracts/sealed/*\n"
	"retain    = 12 years after end\n"
	"then      = destroy\n"
	"authority = Limitation Act 1980 s.8\n"
	"\n"
	"[class unsuccessful-tender]\n"
	"records   = tenders/unsuccessful/*\n"
	"retain    = 1 year after created\n"
	"then      = destroy\n";

#endif
