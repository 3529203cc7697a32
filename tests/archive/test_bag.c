/* Unit tests of archive/bag (with tar_out and ocfl under it): bags of made-up records,
** written through read callbacks into a file under /tmp, then checked with the real tools:
** GNU tar lists and extracts them, sha512sum -c passes on both manifests, python3's json and
** hashlib check every OCFL inventory against its content, the output is byte-identical run
** after run (plain, gzip, zstd), and the real age decrypts an encrypted bag to the plain one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive/bag.h"
#include "crypto/age.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/recfs-unit-bag.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	if (getenv("RFS_TEST_KEEP"))
		return;                  /* to look at what a test wrote */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(bag, .init = setup, .fini = teardown);

/* A shell command run in dir: its exit status. */
__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[4096], full[4200];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s\n}", dir, cmd);
	st = system(full);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Made-up content: text, or size bytes of a pattern from seed; change_on makes the call of
** that number (from 1) give other bytes. */
struct src {
	const char *text;
	uint64_t size;
	uint32_t seed;
	int calls, change_on;
	int64_t extra;                 /* bytes put beyond size (negative: fewer) */
};

static int src_read(void *arg, rfs_bag_put_fn put, void *put_arg)
{
	struct src *s = arg;
	uint8_t chunk[65536];
	uint64_t size = s->text ? strlen(s->text) : s->size, done = 0;
	uint32_t x = s->seed | 1;
	int rc;

	s->calls++;
	size = (uint64_t)((int64_t)size + s->extra);
	if (s->text)
		return put(put_arg, s->text, size);
	while (done < size) {
		size_t n = size - done < sizeof(chunk) ? (size_t)(size - done) : sizeof(chunk);

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			chunk[i] = (uint8_t)x;
		}
		if (s->calls == s->change_on && done == 0)
			chunk[0] ^= 1;
		if ((rc = put(put_arg, chunk, n)) < 0)
			return rc;
		done += n;
	}
	return 0;
}

#define T0 1700000000            /* 2023-11-14T22:13:20Z */
#define DAY 86400

static const struct rfs_bag_info INFO = {
	.name = "Telecare",
	.source_organization = "Example Council",
	.external_identifier = "recfs:Telecare:test",
	.software_agent = "recfs 0.1.0",
	.note = "Handed to the housing association",
	.state_time = T0 + 3 * DAY,
};

static struct rfs_bag *start(const char *file, enum rfs_bag_compress c,
                             const uint8_t (*recipients)[32], size_t n, int *fd)
{
	struct rfs_bag_out out = { .compress = c, .recipients = recipients, .n_recipients = n };
	struct rfs_bag *b = NULL;
	char path[128], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	*fd = out.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(*fd, 0);
	cr_assert_eq(rfs_bag_start(&INFO, &out, &b, err, sizeof(err)), 0, "%s", err);
	return b;
}

static void finish(struct rfs_bag *b, int fd, struct rfs_bag_result *res)
{
	char err[256];

	cr_assert_eq(rfs_bag_finish(b, res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(close(fd), 0);
}

#define OK(call) cr_assert_eq((call), 0, "%s: %s", #call, rfs_bag_error(b))

/* The sample: one object of three versions (content that comes back, a key seen before, a
** file over 1 MiB), then the records as they stand, links, an empty file, tag files. */
static void sample(const char *file, enum rfs_bag_compress c, const uint8_t (*recipients)[32],
                   size_t n, struct rfs_bag_result *res)
{
	struct src first = { .text = "first\n" }, second = { .text = "second\n" },
	           a = { .text = "assessment A\n" }, big = { .size = 1536 * 1024, .seed = 7 },
	           empty = { .text = "" }, other = { .text = "other\n" };
	struct rfs_bag *b;
	int fd;

	b = start(file, c, recipients, n, &fd);
	OK(rfs_bag_object_begin(b, "Mrs Ó Briain", "urn:recfs:Telecare/Mrs Ó Briain"));
	OK(rfs_bag_version_begin(b, T0, 60, "Ann Clerk", "mailto:ann@council", "created"));
	OK(rfs_bag_version_file(b, "notes 1.txt", T0, 6, "k-first", src_read, &first));
	OK(rfs_bag_version_file(b, "assessment.txt", T0, 13, "k-a", src_read, &a));
	OK(rfs_bag_version_end(b));
	OK(rfs_bag_version_begin(b, T0 + DAY, 0, "Bob \"Ó\" Worker", "mailto:bob@council",
	                         "edited\tnotes\n(line two)"));
	OK(rfs_bag_version_file(b, "notes 1.txt", T0 + DAY, 7, "k-second", src_read, &second));
	OK(rfs_bag_version_file(b, "assessment.txt", T0, 13, "k-a", src_read, &a));
	OK(rfs_bag_version_end(b));
	OK(rfs_bag_version_begin(b, T0 + 2 * DAY, -300, "Ann Clerk", "mailto:ann@council",
	                         "reverted"));
	OK(rfs_bag_version_file(b, "notes 1.txt", T0 + 2 * DAY, 6, NULL, src_read, &first));
	OK(rfs_bag_version_file(b, "assessment.txt", T0, 13, "k-a", src_read, &a));
	OK(rfs_bag_version_file(b, "scans/big.bin", T0 + 2 * DAY, big.size, "k-big", src_read,
	                        &big));
	OK(rfs_bag_version_end(b));
	OK(rfs_bag_object_end(b));

	OK(rfs_bag_folder(b, "Mrs Ó Briain", 0755, T0 + 2 * DAY));
	OK(rfs_bag_file(b, "Mrs Ó Briain/notes 1.txt", 0644, T0 + 2 * DAY, 6, NULL, src_read,
	                &first));
	OK(rfs_bag_file(b, "Mrs Ó Briain/assessment.txt", 0644, T0, 13, "k-a", src_read, &a));
	OK(rfs_bag_folder(b, "Mrs Ó Briain/scans", 0755, T0 + 2 * DAY));
	OK(rfs_bag_file(b, "Mrs Ó Briain/scans/big.bin", 0644, T0 + 2 * DAY, big.size, "k-big",
	                src_read, &big));
	OK(rfs_bag_file(b, "Mrs Ó Briain/empty.txt", 0644, T0 + DAY, 0, NULL, src_read, &empty));
	OK(rfs_bag_symlink(b, "Mrs Ó Briain/latest", "notes 1.txt", T0 + DAY));
	OK(rfs_bag_symlink(b, "Mrs Ó Briain/scans dir", "scans", T0 + DAY));
	OK(rfs_bag_file(b, "Other/x y.txt", 0755, T0 + DAY, 6, NULL, src_read, &other));
	OK(rfs_bag_symlink(b, "Other/to big", "../Mrs Ó Briain/scans dir/big.bin", T0 + DAY));
	OK(rfs_bag_symlink(b, "Other/dangling", "nothing here", T0 + DAY));
	OK(rfs_bag_tag_file(b, "records.csv", "path,class\r\nMrs Ó Briain,care\r\n", 32));
	OK(rfs_bag_tag_file(b, "records.json", "[]\n", 3));
	finish(b, fd, res);
	cr_assert_eq(first.calls + second.calls + a.calls + other.calls + empty.calls, 7,
	             "first %d second %d a %d other %d empty %d", first.calls, second.calls,
	             a.calls, other.calls, empty.calls);
	cr_assert_eq(big.calls, 1, "a file over 1 MiB of a size not stored before: read once");
}

/* The sample in a child process too: output that does not depend on the process. */
static void sample_in_child(const char *file, enum rfs_bag_compress c)
{
	pid_t pid = fork();
	int st;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rfs_bag_result res;

		sample(file, c, NULL, 0, &res);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static const char CHECK_OCFL[] =
	"python3 - \"$1\" <<'EOF'\n"
	"import hashlib, json, os, sys\n"
	"root = sys.argv[1]\n"
	"text = open(os.path.join(root, 'inventory.json'), encoding='utf-8').read()\n"
	"inv = json.loads(text)\n"
	"assert text == json.dumps(inv, indent=2, sort_keys=True, ensure_ascii=False) + '\\n', 'not canonical'\n"
	"assert inv['type'] == 'https://ocfl.io/1.1/spec/#inventory' and inv['digestAlgorithm'] == 'sha512'\n"
	"assert open(os.path.join(root, '0=ocfl_object_1.1')).read() == 'ocfl_object_1.1\\n'\n"
	"stored = set()\n"
	"for d, paths in inv['manifest'].items():\n"
	"    assert len(paths) == 1, d\n"
	"    for p in paths:\n"
	"        assert hashlib.sha512(open(os.path.join(root, p), 'rb').read()).hexdigest() == d, p\n"
	"        stored.add(p)\n"
	"found = set()\n"
	"for dp, dn, fn in os.walk(root):\n"
	"    for f in fn:\n"
	"        p = os.path.relpath(os.path.join(dp, f), root)\n"
	"        if '/content/' in p: found.add(p)\n"
	"assert found == stored, (found, stored)\n"
	"for v, ver in inv['versions'].items():\n"
	"    for d in ver['state']: assert d in inv['manifest'], (v, d)\n"
	"print(inv['head'], len(inv['manifest']), ' '.join(sorted(inv['versions'])))\n"
	"for v in sorted(inv['versions'], key=lambda s: int(s[1:])):\n"
	"    ver = inv['versions'][v]\n"
	"    print(v, ver['created'], ver['user']['name'], repr(ver['message']), sorted(p for ps in ver['state'].values() for p in ps))\n"
	"EOF\n";

/* check_ocfl.sh DIR: an OCFL object checked with python3's json and hashlib. */
static void write_check_ocfl(void)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/check_ocfl.sh", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(CHECK_OCFL, f);
	cr_assert_eq(fclose(f), 0);
}

/* Extracts FILE into x/, runs the standard checks; 0 when all pass. */
static int check_extracted(const char *file)
{
	return sh("rm -rf x && mkdir x && tar -xf %s -C x && cd x/Telecare && "
	          "sha512sum -c --quiet manifest-sha512.txt && "
	          "sha512sum -c --quiet tagmanifest-sha512.txt", file);
}

Test(bag, standard_tools_read_the_plain_bag)
{
	struct rfs_bag_result res;

	sample("a.tar", RFS_BAG_PLAIN, NULL, 0, &res);
	cr_assert_eq(res.objects, 1);
	cr_assert_eq(res.versions, 3);
	cr_assert_eq(sh("tar -tvf a.tar > list"), 0);
	cr_assert_eq(check_extracted("a.tar"), 0);
	/* Every header, pax ones too: owner 0/0 without names, whole-second mtimes, no atime
	** or ctime, pax records only for long or UTF-8 names, named without a process id. */
	cr_assert_eq(sh("python3 - > pax <<'EOF'\n"
	                "import re, tarfile\n"
	                "for m in tarfile.open('a.tar'):\n"
	                "    assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, '', ''), m.name\n"
	                "    assert set(m.pax_headers) <= {'path', 'linkpath'}, (m.name, m.pax_headers)\n"
	                "    assert isinstance(m.mtime, int) and m.mtime >= %d, m.name\n"
	                "data = open('a.tar', 'rb').read()\n"
	                "off = 0\n"
	                "while data[off:off + 512].strip(b'\\0'):\n"
	                "    h = data[off:off + 512]\n"
	                "    size = int(h[124:136].strip(b'\\0 ') or b'0', 8)\n"
	                "    if h[156:157] == b'x':\n"
	                "        name = h[:100].rstrip(b'\\0').decode()\n"
	                "        assert re.fullmatch(r'(.*/)?PaxHeader/[^/]+', name), name\n"
	                "        assert int(h[108:116].strip(b'\\0 '), 8) == 0 and h[265:297].strip(b'\\0') == b''\n"
	                "        print(name)\n"
	                "    off += 512 + (size + 511) // 512 * 512\n"
	                "EOF", T0), 0);
	cr_assert_eq(sh("grep -c PaxHeader pax | grep -qv '^0$'"), 0);
	/* The listing: fixed owners, links, and the order of the layout. */
	cr_assert_eq(sh("! grep -Ev '^([-dh]rw[-x]r-[-x]r-[-x]|lrwxrwxrwx) 0/0 ' list"), 0);
	cr_assert_eq(sh("grep -q ' Telecare/data/records/Mrs Ó Briain/notes 1.txt link to "
	                "Telecare/data/history/Mrs Ó Briain/v1/content/notes 1.txt$' list"), 0);
	cr_assert_eq(sh("grep -q ' Telecare/data/records/Mrs Ó Briain/scans/big.bin link to "
	                "Telecare/data/history/Mrs Ó Briain/v3/content/scans/big.bin$' list"), 0);
	cr_assert_eq(sh("grep -q ' Telecare/data/history/Mrs Ó Briain/v3/inventory.json link to "
	                "Telecare/data/history/Mrs Ó Briain/inventory.json$' list"), 0);
	cr_assert_eq(sh("grep -q 'Telecare/data/records/Mrs Ó Briain/latest -> notes 1.txt$' list"), 0);
	cr_assert_eq(sh("awk '{print $6}' list | head -3 | tr '\\n' ' ' | "
	                "grep -qx 'Telecare/ Telecare/bagit.txt Telecare/data/ '"), 0);
	cr_assert_eq(sh("tail -1 list | grep -q ' Telecare/tagmanifest-sha512.txt$'"), 0);
	/* Stored once: the same content in v1 and v3 (by digest) and in every version (by key). */
	cr_assert_eq(sh("cd 'x/Telecare/data/history/Mrs Ó Briain' && find . -type f | sort | "
	                "tr '\\n' ' ' | grep -qx './0=ocfl_object_1.1 ./inventory.json "
	                "./inventory.json.sha512 ./v1/content/assessment.txt "
	                "./v1/content/notes 1.txt ./v2/content/notes 1.txt "
	                "./v3/content/scans/big.bin ./v3/inventory.json "
	                "./v3/inventory.json.sha512 '"), 0);
	cr_assert_eq(sh("test \"$(stat -c %%h 'x/Telecare/data/records/Mrs Ó Briain/notes 1.txt')\""
	                " = 2"), 0);
	/* mtimes: the versions' dates; sizes 0 and over 1 MiB. */
	cr_assert_eq(sh("cd x/Telecare/data && test $(stat -c %%Y 'history/Mrs Ó Briain/v2/content/"
	                "notes 1.txt') = %d && test $(stat -c %%Y 'records/Other/x y.txt') = %d && "
	                "test $(stat -c %%Y '../bag-info.txt') = %d", T0 + DAY, T0 + DAY,
	                T0 + 3 * DAY), 0);
	cr_assert_eq(sh("cd x/Telecare/data/records && test $(stat -c %%s 'Mrs Ó Briain/empty.txt') "
	                "= 0 && test $(stat -c %%s 'Mrs Ó Briain/scans/big.bin') = %d && "
	                "test $(stat -c %%a 'Other/x y.txt') = 755 && "
	                "test $(stat -c %%a 'Mrs Ó Briain/empty.txt') = 644", 1536 * 1024), 0);
	/* Links: to a file listed with its digest; to a folder or to nothing, not listed. */
	cr_assert_eq(sh("cd x/Telecare && grep -q '  data/records/Other/to big$' manifest-sha512.txt"
	                " && grep -q '  data/records/Mrs Ó Briain/latest$' manifest-sha512.txt && "
	                "! grep -q 'dangling\\|scans dir$' manifest-sha512.txt"), 0);
}

Test(bag, bag_info_and_oxum)
{
	struct rfs_bag_result res;

	sample("a.tar", RFS_BAG_PLAIN, NULL, 0, &res);
	cr_assert_eq(check_extracted("a.tar"), 0);
	cr_assert_eq(sh("cd x/Telecare && cat bagit.txt | tr '\\n' '|' | grep -qx "
	                "'BagIt-Version: 1.0|Tag-File-Character-Encoding: UTF-8|'"), 0);
	cr_assert_eq(sh("cd x/Telecare && grep -qx 'Bagging-Date: 2023-11-17' bag-info.txt && "
	                "grep -qx 'Source-Organization: Example Council' bag-info.txt && "
	                "grep -qx 'Bag-Software-Agent: recfs 0.1.0' bag-info.txt && "
	                "grep -qx 'External-Identifier: recfs:Telecare:test' bag-info.txt && "
	                "grep -qx 'Internal-Sender-Description: Handed to the housing association' "
	                "bag-info.txt && grep -qx 'Bag-Size: [0-9.]* MiB' bag-info.txt"), 0);
	/* Payload-Oxum as bagit-python counts it: every file under data/, links to files too. */
	cr_assert_eq(sh("cd x/Telecare && python3 -c \"\n"
	                "import os\n"
	                "n = b = 0\n"
	                "for dp, dn, fn in os.walk('data'):\n"
	                "    for f in fn:\n"
	                "        p = os.path.join(dp, f)\n"
	                "        if os.path.exists(p): n += 1; b += os.stat(p).st_size\n"
	                "print('Payload-Oxum: %%d.%%d' %% (b, n))\" > oxum && grep -qxFf oxum bag-info.txt"),
	             0);
	cr_assert_eq(sh("cd x/Telecare && test $(wc -l < manifest-sha512.txt) = %" PRIu64,
	                res.payload_files), 0);
	cr_assert_eq(sh("cd x/Telecare && grep -q 'Payload-Oxum: %" PRIu64 ".%" PRIu64 "$' bag-info.txt",
	                res.payload_bytes, res.payload_files), 0);
	cr_assert_eq(sh("cd x/Telecare && cut -c131- tagmanifest-sha512.txt | tr '\\n' ' ' | grep -qx "
	                "'bagit.txt bag-info.txt manifest-sha512.txt records.csv records.json '"), 0);
}

Test(bag, ocfl_inventory_matches_its_content)
{
	struct rfs_bag_result res;

	sample("a.tar", RFS_BAG_PLAIN, NULL, 0, &res);
	cr_assert_eq(check_extracted("a.tar"), 0);
	write_check_ocfl();
	cr_assert_eq(sh("sh check_ocfl.sh 'x/Telecare/data/history/Mrs Ó Briain' > ocfl.out"), 0);
	cr_assert_eq(sh("diff - ocfl.out <<'EOF'\n"
	                "v3 4 v1 v2 v3\n"
	                "v1 2023-11-14T23:13:20+01:00 Ann Clerk 'created' ['assessment.txt', 'notes 1.txt']\n"
	                "v2 2023-11-15T22:13:20+00:00 Bob \"Ó\" Worker 'edited\\tnotes\\n(line two)' "
	                "['assessment.txt', 'notes 1.txt']\n"
	                "v3 2023-11-16T17:13:20-05:00 Ann Clerk 'reverted' "
	                "['assessment.txt', 'notes 1.txt', 'scans/big.bin']\n"
	                "EOF"), 0);
	cr_assert_eq(sh("cd 'x/Telecare/data/history/Mrs Ó Briain' && sha512sum -c --quiet "
	                "inventory.json.sha512 && cd v3 && sha512sum -c --quiet inventory.json.sha512 "
	                "&& cmp inventory.json ../inventory.json"), 0);
	cr_assert_eq(sh("grep -q '\"address\": \"mailto:bob@council\"' "
	                "'x/Telecare/data/history/Mrs Ó Briain/inventory.json'"), 0);
}

Test(bag, output_is_byte_identical)
{
	struct rfs_bag_result r1, r2;
	char hex[129];

	sample("a.tar", RFS_BAG_PLAIN, NULL, 0, &r1);
	sample("b.tar", RFS_BAG_PLAIN, NULL, 0, &r2);
	sample_in_child("c.tar", RFS_BAG_PLAIN);
	cr_assert_eq(sh("cmp a.tar b.tar && cmp a.tar c.tar"), 0);
	cr_assert_eq(memcmp(r1.sha512, r2.sha512, 64), 0);
	cr_assert_eq(r1.bytes, r2.bytes);
	for (int i = 0; i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", r1.sha512[i]);
	cr_assert_eq(sh("test \"$(sha512sum < a.tar | cut -c1-128)\" = %s", hex), 0);
	for (int i = 0; i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", r1.blake2b512[i]);
	cr_assert_eq(sh("test \"$(b2sum < a.tar | cut -c1-128)\" = %s", hex), 0);
	cr_assert_eq(sh("test $(stat -c %%s a.tar) = %" PRIu64 " && test $(($(stat -c %%s a.tar) %% 10240)) = 0",
	                r1.bytes), 0);
}

Test(bag, gzip_is_byte_identical_without_a_timestamp)
{
	struct rfs_bag_result res;

	sample("a.tar.gz", RFS_BAG_GZIP, NULL, 0, &res);
	sample_in_child("b.tar.gz", RFS_BAG_GZIP);
	sample("plain.tar", RFS_BAG_PLAIN, NULL, 0, &res);
	cr_assert_eq(sh("cmp a.tar.gz b.tar.gz && gzip -t a.tar.gz && tar -tzf a.tar.gz > /dev/null"), 0);
	/* The gzip header's MTIME (bytes 4..7) is zero; the stream holds the plain tar's entries. */
	cr_assert_eq(sh("test \"$(od -An -tx1 -j4 -N4 a.tar.gz | tr -d ' ')\" = 00000000"), 0);
	cr_assert_eq(sh("zcat a.tar.gz | tar -t > l1 && tar -tf plain.tar > l2 && cmp l1 l2"), 0);
	cr_assert_eq(check_extracted("a.tar.gz"), 0);
}

Test(bag, zstd_is_byte_identical)
{
	struct rfs_bag_result res;

	sample("a.tar.zst", RFS_BAG_ZSTD, NULL, 0, &res);
	sample_in_child("b.tar.zst", RFS_BAG_ZSTD);
	cr_assert_eq(sh("cmp a.tar.zst b.tar.zst && zstd -q -t a.tar.zst && "
	                "tar --zstd -tf a.tar.zst > /dev/null"), 0);
	cr_assert_eq(sh("rm -rf x && mkdir x && tar --zstd -xf a.tar.zst -C x && cd x/Telecare && "
	                "sha512sum -c --quiet manifest-sha512.txt"), 0);
}

Test(bag, age_decrypts_to_the_plain_bag)
{
	struct rfs_bag_result plain, enc;
	uint8_t pk[2][32];
	char line[256];
	FILE *f;

	cr_assert_eq(sh("age-keygen -o k1 2>/dev/null && age-keygen -o k2 2>/dev/null"), 0);
	for (int i = 0; i < 2; i++) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "age-keygen -y %s/k%d", dir, i + 1);
		cr_assert_not_null(f = popen(cmd, "r"));
		cr_assert_not_null(fgets(line, sizeof(line), f));
		pclose(f);
		line[strcspn(line, "\n")] = '\0';
		cr_assert_eq(rfs_age_recipient_parse(line, pk[i]), 0);
	}
	sample("plain.tar", RFS_BAG_PLAIN, NULL, 0, &plain);
	sample("a.tar.age", RFS_BAG_PLAIN, (const uint8_t (*)[32])pk, 2, &enc);
	cr_assert_eq(sh("head -c 22 a.tar.age | grep -q '^age-encryption.org/v1$'"), 0);
	cr_assert_eq(sh("age -d -i k1 a.tar.age > d1 && age -d -i k2 a.tar.age > d2 && "
	                "cmp d1 plain.tar && cmp d2 plain.tar"), 0);
	cr_assert_eq(sh("test $(stat -c %%s a.tar.age) = %" PRIu64, enc.bytes), 0);
	cr_assert_eq(sh("age -d -i k1 a.tar.age | tar -t > /dev/null"), 0);
	sample("a.tar.zst.age", RFS_BAG_ZSTD, (const uint8_t (*)[32])pk, 1, &enc);
	sample("a.tar.zst", RFS_BAG_ZSTD, NULL, 0, &plain);
	cr_assert_eq(sh("age -d -i k1 a.tar.zst.age | cmp - a.tar.zst"), 0);
}

Test(bag, paths_and_links_are_refused)
{
	static const char *const bad[] = { "", "/abs", "a/../b", "./a", "a//b", "a/.", "..", "a/",
	                                   "\xff\xfe", "caf\xc3" };
	static const char *const out[] = { "/etc/passwd", "../../x", "../../Other/x", "a/../../x",
	                                   "sub/../x", "" };
	struct src s = { .text = "x\n" };
	struct rfs_bag_result res;
	struct rfs_bag *b;
	int fd;

	b = start("a.tar", RFS_BAG_PLAIN, NULL, 0, &fd);
	cr_assert_eq(rfs_bag_object_begin(b, "../up", "id"), -EINVAL);
	cr_assert_eq(rfs_bag_object_begin(b, "/abs", "id"), -EINVAL);
	OK(rfs_bag_object_begin(b, "R", "id"));
	OK(rfs_bag_version_begin(b, T0, 0, "A", "mailto:a@h", "m"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(rfs_bag_version_file(b, bad[i], T0, 2, NULL, src_read, &s), -EINVAL,
		             "%s", bad[i]);
		cr_assert_neq(rfs_bag_error(b)[0], '\0');
	}
	OK(rfs_bag_version_file(b, "ok", T0, 2, NULL, src_read, &s));
	OK(rfs_bag_version_end(b));
	OK(rfs_bag_object_end(b));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(rfs_bag_file(b, bad[i], 0644, T0, 2, NULL, src_read, &s), -EINVAL, "%s",
		             bad[i]);
		cr_assert_eq(rfs_bag_folder(b, bad[i], 0755, T0), -EINVAL, "%s", bad[i]);
		cr_assert_eq(rfs_bag_symlink(b, bad[i], "x", T0), -EINVAL, "%s", bad[i]);
	}
	OK(rfs_bag_file(b, "Other/x", 0644, T0, 2, NULL, src_read, &s));
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		cr_assert_eq(rfs_bag_symlink(b, "Other/l", out[i], T0), -EXDEV, "%s", out[i]);
	cr_assert(strstr(rfs_bag_error(b), "Other/l") != NULL, "%s", rfs_bag_error(b));
	OK(rfs_bag_symlink(b, "Other/deeper/l", "../x", T0));
	OK(rfs_bag_symlink(b, "Other/l", "./x", T0));
	cr_assert_eq(rfs_bag_file(b, "Other/x", 0644, T0, 2, NULL, src_read, &s), -EEXIST);
	cr_assert_eq(rfs_bag_file(b, "Other/x/y", 0644, T0, 2, NULL, src_read, &s), -ENOTDIR);
	cr_assert_eq(rfs_bag_tag_file(b, "bagit.txt", "x", 1), -EINVAL);
	cr_assert_eq(rfs_bag_tag_file(b, "manifest-md5.txt", "x", 1), -EINVAL);
	cr_assert_eq(rfs_bag_tag_file(b, "data/x", "x", 1), -EINVAL);
	cr_assert_eq(rfs_bag_tag_file(b, "../x", "x", 1), -EINVAL);
	finish(b, fd, &res);
	cr_assert_eq(check_extracted("a.tar"), 0);
	cr_assert_eq(sh("tar -tf a.tar | grep -v '^Telecare/' ; test $? = 1"), 0);
	cr_assert_eq(sh("test \"$(readlink x/Telecare/data/records/Other/deeper/l)\" = ../x && "
	                "test $(tar -tf a.tar | grep -c /l$) = 2"), 0);
}

Test(bag, a_note_must_be_one_line)
{
	struct rfs_bag_info info = INFO;
	struct rfs_bag_out out = { .fd = -1 };
	struct rfs_bag *b = NULL;
	char err[256];

	info.note = "two\nlines";
	cr_assert_eq(rfs_bag_start(&info, &out, &b, err, sizeof(err)), -EINVAL);
	cr_assert_null(b);
	cr_assert(strstr(err, "note") != NULL, "%s", err);
	info.note = NULL;
	info.name = "a/b";
	cr_assert_eq(rfs_bag_start(&info, &out, &b, err, sizeof(err)), -EINVAL);
}

Test(bag, a_file_that_changes_between_reads_fails)
{
	struct src old = { .size = (1 << 20) + 1, .seed = 1 },
	           big = { .size = (1 << 20) + 1, .seed = 3, .change_on = 2 };
	struct rfs_bag_result res;
	struct rfs_bag *b;
	char err[256];
	int fd;

	b = start("a.tar", RFS_BAG_PLAIN, NULL, 0, &fd);
	/* History holds a file of its size: it may be that one, so it is read to digest first. */
	OK(rfs_bag_object_begin(b, "R", "r"));
	OK(rfs_bag_version_begin(b, T0, 0, "A", NULL, NULL));
	OK(rfs_bag_version_file(b, "old", T0, old.size, NULL, src_read, &old));
	OK(rfs_bag_version_end(b));
	OK(rfs_bag_object_end(b));
	cr_assert_eq(old.calls, 1);
	cr_assert_eq(rfs_bag_file(b, "R/big", 0644, T0, big.size, NULL, src_read, &big), -EIO);
	cr_assert(strstr(rfs_bag_error(b), "R/big changed") != NULL, "%s", rfs_bag_error(b));
	cr_assert_eq(big.calls, 2);
	/* The tar is broken from there on: every later call says so, and so does the end. */
	cr_assert_eq(rfs_bag_folder(b, "S", 0755, T0), -EIO);
	cr_assert_eq(rfs_bag_finish(b, &res, err, sizeof(err)), -EIO);
	cr_assert(strstr(err, "changed") != NULL, "%s", err);
	close(fd);
}

Test(bag, a_file_of_another_size_fails)
{
	struct src more = { .text = "x\n", .extra = 1 }, fewer = { .size = 2 << 20, .extra = -1 },
	           ok = { .text = "y\n" };
	struct rfs_bag_result res;
	struct rfs_bag *b;
	int fd;

	char err[256];

	b = start("a.tar", RFS_BAG_PLAIN, NULL, 0, &fd);
	/* A small file is read once before anything is written: refused, the bag goes on. */
	cr_assert_eq(rfs_bag_file(b, "R/more", 0644, T0, 2, NULL, src_read, &more), -EIO);
	OK(rfs_bag_file(b, "R/ok", 0644, T0, 2, NULL, src_read, &ok));
	/* A big one is stored as it is read: the tar has its header, so the bag is broken. */
	cr_assert_eq(rfs_bag_file(b, "R/fewer", 0644, T0, fewer.size + 1, NULL, src_read, &fewer),
	             -EIO);
	cr_assert(strstr(rfs_bag_error(b), "R/fewer changed") != NULL, "%s", rfs_bag_error(b));
	cr_assert_eq(rfs_bag_finish(b, &res, err, sizeof(err)), -EIO);
	close(fd);
}

Test(bag, known_keys_are_not_read_again)
{
	struct src big = { .size = 3 << 20, .seed = 9 }, small = { .text = "s\n" };
	struct rfs_bag_result res;
	struct rfs_bag *b;
	int fd;

	b = start("a.tar", RFS_BAG_PLAIN, NULL, 0, &fd);
	for (int o = 0; o < 2; o++) {
		OK(rfs_bag_object_begin(b, o ? "B" : "A", o ? "b" : "a"));
		for (int v = 0; v < 3; v++) {
			OK(rfs_bag_version_begin(b, T0 + v, 0, "A", NULL, NULL));
			OK(rfs_bag_version_file(b, "big", T0, big.size, "kb", src_read, &big));
			OK(rfs_bag_version_file(b, "small", T0, 2, "ks", src_read, &small));
			OK(rfs_bag_version_end(b));
		}
		OK(rfs_bag_object_end(b));
	}
	/* A: read once, as it is stored; B: its key known, read once to store and checked. */
	cr_assert_eq(big.calls, 2, "%d", big.calls);
	cr_assert_eq(small.calls, 2, "%d", small.calls);
	OK(rfs_bag_file(b, "A/big", 0644, T0, big.size, "kb", src_read, &big));
	OK(rfs_bag_file(b, "A/small", 0755, T0, 2, "ks", src_read, &small));
	cr_assert_eq(big.calls, 2, "linked by key, not read");
	cr_assert_eq(small.calls, 3, "an executable is not a link to 0644 content: stored");
	finish(b, fd, &res);
	cr_assert_eq(res.objects, 2);
	cr_assert_eq(res.versions, 6);
	cr_assert_eq(check_extracted("a.tar"), 0);
	cr_assert_eq(sh("tar -tvf a.tar | grep -c ' link to ' | grep -qx 5"), 0);
	cr_assert_eq(sh("cd x/Telecare/data/history/B && grep -q '\"name\": \"A\"' inventory.json && "
	                "! grep -q 'address\\|message' inventory.json"), 0);
}

Test(bag, compress_of_names)
{
	enum rfs_bag_compress c;
	bool age;

	cr_assert_eq(rfs_bag_compress_of("/x/a.tar", &c, &age), 0);
	cr_assert(c == RFS_BAG_PLAIN && !age);
	cr_assert_eq(rfs_bag_compress_of("a.tar.gz.age", &c, &age), 0);
	cr_assert(c == RFS_BAG_GZIP && age);
	cr_assert_eq(rfs_bag_compress_of("a.tgz", &c, &age), 0);
	cr_assert(c == RFS_BAG_GZIP && !age);
	cr_assert_eq(rfs_bag_compress_of("a.tar.zst.age", &c, &age), 0);
	cr_assert(c == RFS_BAG_ZSTD && age);
	cr_assert_eq(rfs_bag_compress_of("a.zip", &c, &age), -EINVAL);
	cr_assert_eq(rfs_bag_compress_of("a.tar.age.gz", &c, &age), -EINVAL);
	cr_assert_eq(rfs_bag_compress_of(".tar", &c, &age), -EINVAL);
}

Test(bag, manifest_lines_percent_encode_cr_lf_and_percent)
{
	struct src s = { .text = "x\n" };
	struct rfs_bag_result res;
	struct rfs_bag *b;
	int fd;

	b = start("a.tar", RFS_BAG_PLAIN, NULL, 0, &fd);
	OK(rfs_bag_file(b, "50% of\nthe\rnotes", 0644, T0, 2, NULL, src_read, &s));
	finish(b, fd, &res);
	cr_assert_eq(sh("rm -rf x && mkdir x && tar -xf a.tar -C x && cd x/Telecare && "
	                "test $(wc -l < manifest-sha512.txt) = 1 && "
	                "grep -q '  data/records/50%%25 of%%0Athe%%0Dnotes$' manifest-sha512.txt"), 0);
	cr_assert_eq(sh("test -f \"x/Telecare/data/records/50%% of\n"
	                "the$(printf '\\r')notes\""), 0);
}

Test(bag, many_versions_sort_as_json_keys)
{
	struct src s[12];
	struct rfs_bag_result res;
	struct rfs_bag *b;
	char text[12][16];
	int fd;

	b = start("a.tar", RFS_BAG_PLAIN, NULL, 0, &fd);
	OK(rfs_bag_object_begin(b, "R", "r"));
	for (int v = 0; v < 12; v++) {
		snprintf(text[v], sizeof(text[v]), "v%d\n", v + 1);
		s[v] = (struct src){ .text = text[v] };
		OK(rfs_bag_version_begin(b, T0 + v * DAY, 0, "A \x01", "mailto:a@h", "m\x1f"));
		OK(rfs_bag_version_file(b, "ctl\x02name", T0 + v * DAY, strlen(text[v]), NULL,
		                        src_read, &s[v]));
		OK(rfs_bag_version_end(b));
	}
	OK(rfs_bag_object_end(b));
	finish(b, fd, &res);
	cr_assert_eq(res.versions, 12);
	write_check_ocfl();
	cr_assert_eq(check_extracted("a.tar"), 0);
	cr_assert_eq(sh("sh check_ocfl.sh x/Telecare/data/history/R > o && head -1 o | grep -qx "
	                "'v12 12 v1 v10 v11 v12 v2 v3 v4 v5 v6 v7 v8 v9'"), 0);
	cr_assert_eq(sh("grep -q '\"ctl\\\\u0002name\"' x/Telecare/data/history/R/inventory.json && "
	                "test -f x/Telecare/data/history/R/v12/inventory.json"), 0);
}

Test(bag, a_full_disk_is_reported_as_such)
{
	struct rfs_bag_out out = { .compress = RFS_BAG_PLAIN };
	struct src big = { .size = 2 << 20, .seed = 5 };
	struct rfs_bag_result res;
	struct rfs_bag *b = NULL;
	char err[256];

	cr_assert_geq(out.fd = open("/dev/full", O_WRONLY | O_CLOEXEC), 0);
	cr_assert_eq(rfs_bag_start(&INFO, &out, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rfs_bag_file(b, "R/big", 0644, T0, big.size, NULL, src_read, &big), -ENOSPC);
	cr_assert(strstr(rfs_bag_error(b), "R/big cannot be archived: No space left") != NULL, "%s",
	          rfs_bag_error(b));
	cr_assert_eq(rfs_bag_finish(b, &res, err, sizeof(err)), -ENOSPC);
	close(out.fd);
}
