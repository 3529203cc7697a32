#!/usr/bin/env python3
"""json_check.py DOC OUT ODD: the checks of json.sh, in one process (python's start is most of
the test's time under load). OUT/manifest has one line per output to check, tab-separated:
"json NAME FILE" (FILE is one JSON document with the fields docs/JSON.md lists under
"## recfs NAME", of its types) or "csv NAME JSONFILE CSVFILE" (RFC 4180, the JSON's field names as
header, one row per object, the same values). Then the checks of what json.sh made: the odd
name ODD back exact, the disposal, fsck and verify. Prints "ok - DESC" or "not ok - DESC (why)"
per check, for json.sh to count, then "# all checked".
Must never: write anything."""
import csv
import json
import re
import sys
import traceback

DOC, OUT, ODD = sys.argv[1:]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def documented():
    """{command: [(field, type)]} from the tables of docs/JSON.md."""
    out, section = {}, None
    for line in open(DOC, encoding="utf-8"):
        if line.startswith("## "):
            section = line[3:].strip().removeprefix("recfs ")
        m = re.match(r"\| `([^`]+)` \| ([a-z ]+) \|", line)
        if m and section:
            out.setdefault(section, []).append((m.group(1), m.group(2).strip()))
    return out


FIELDS = documented()


def of_type(v, t):
    if t.endswith(" or null"):
        return v is None or of_type(v, t[:-8])
    return {"string": lambda: isinstance(v, str),
            "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
            "boolean": lambda: isinstance(v, bool),
            "timestamp": lambda: isinstance(v, str) and (v == "" or ISO.match(v)),
            "date": lambda: isinstance(v, str) and (v == "" or DAY.match(v)),
            "object": lambda: isinstance(v, dict),
            "array": lambda: isinstance(v, list)}[t]()


def values(d, key):
    """Every value at key: "a.b" is b of object a, "a[].b" b of each object of array a."""
    out = [d]
    for part in key.split("."):
        nxt = []
        for o in out:
            if o is None:
                continue
            k, each = (part[:-2], True) if part.endswith("[]") else (part, False)
            assert k in o, "no field %s in %s" % (key, json.dumps(o)[:300])
            nxt.extend(o[k] if each else [o[k]])
        out = nxt
    return out


def load(name):
    return json.load(open("%s/%s" % (OUT, name), encoding="utf-8"))


def table(name):
    with open("%s/%s" % (OUT, name), newline="", encoding="utf-8") as f:
        return list(csv.reader(f, strict=True))


def check_json(name, path):
    fields = FIELDS.get(name)
    assert fields, "docs/JSON.md lists no field under ## recfs %s" % name
    data = json.load(open(path, encoding="utf-8"))
    rows = data if isinstance(data, list) else [data]
    assert rows, "%s gave nothing to check" % name
    for r in rows:
        for key, t in fields:
            for v in values(r, key):
                assert of_type(v, t), "%s: %s is %r, not %s" % (name, key, v, t)
        extra = set(r) - {k.split(".")[0].split("[")[0] for k, _ in fields}
        assert not extra, "%s: fields not in docs/JSON.md: %s" % (name, sorted(extra))


def check_csv(name, json_path, csv_path):
    rows = json.load(open(json_path, encoding="utf-8"))
    with open(csv_path, newline="", encoding="utf-8") as f:
        t = list(csv.reader(f, strict=True))
    assert rows, "nothing to compare"
    assert t[0] == list(rows[0].keys()), (t[0], list(rows[0].keys()))
    assert len(t) - 1 == len(rows), (len(t) - 1, len(rows))
    for r, line in zip(rows, t[1:]):
        want = ["" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for v in r.values()]
        assert line == want, (line, want)


def odd_names():
    assert "/cases/" + ODD in [r["path"] for r in load("records.json")]
    assert "/cases/" + ODD in [r[1] for r in table("records.csv")[1:]]
    assert [r[3] for r in table("hold_list.csv")[1:]] == [ODD]          # authority
    odd = "/cases/%s/%s.txt" % (ODD, ODD)
    assert {r["path"] for r in load("log.json")} == {odd}
    assert {r[7] for r in table("log.csv")[1:]} == {odd}


def json_lines():
    lines = [json.loads(l) for l in open(OUT + "/log.lines", encoding="utf-8")]
    assert lines and lines == load("log.json"), lines


def registers():
    d = load("disposals.json")
    assert [(r["number"], r["path"], r["files"]) for r in d] == [(1, "/cases/old", 1)], d
    assert load("hold_list.json")[0]["records"] == 1
    t = load("transfers.json")
    assert [(r["seq"], r["kind"]) for r in t] == [(1, "archive")], t


def sound():
    f = load("fsck.json")
    assert f["complete"] and f["problems"] == 0 and f["findings"] == [] and f["files"] > 0, f
    v = load("verify.json")
    assert v["complete"] and v["problems"] == 0 and v["destroyed"] > 0, v
    assert [(x["kind"], x["problem"]) for x in v["findings"]] == [("destroyed", False)], v


def damaged():
    f = load("fsck_bad.json")
    assert [(x["kind"], x["path"]) for x in f["findings"] if x["problem"]] == \
        [("corrupt", "/cases/held/notes.txt")] and f["problems"] == 1, f
    v = load("verify_bad.json")
    bad = [x for x in v["findings"] if x["problem"]]
    assert "live_differs" in {x["kind"] for x in bad} and v["problems"] == len(bad), v


def run(desc, fn, *args):
    try:
        fn(*args)
        print("ok - " + desc)
    except Exception:
        why = traceback.format_exc(limit=1).strip().splitlines()[-1]
        print("not ok - %s (%s)" % (desc, why[:600].replace("\n", "|")))


for line in open(OUT + "/manifest", encoding="utf-8"):
    kind, name, *files = line.rstrip("\n").split("\t")
    if kind == "json":
        run("%s --json: one JSON document with the documented fields and types" % name,
            check_json, name, *files)
    else:
        run("%s --csv: RFC 4180, the JSON's fields and values, as many rows" % name,
            check_csv, name, *files)
run("log --json-lines: the objects of --json, one a line", json_lines)
run("the odd name comes back exact in records, hold list and log (JSON and CSV)", odd_names)
run("disposals, hold list and transfers give the disposal, the hold and the archive", registers)
run("fsck and verify of a sound vault: complete, no problem; verify lists the destroyed keys, "
    "not as problems", sound)
run("fsck names the damaged file by its clear path; verify says live/ differs", damaged)
print("# all checked")
