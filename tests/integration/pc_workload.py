#!/usr/bin/env python3
# pc_workload: a mixed office workload for the power-cut tests.
#
# Usage: pc_workload.py MOUNT PROMISES SECONDS SEED
# Runs for SECONDS doing what staff programs do: new files, appends, in-place
# O_TRUNC rewrites, office-style saves (temp file, fsync, rename over), renames,
# mkdir, unlinks, a small untar-like burst. After every fsync that returned it
# appends "sha256  path" to PROMISES (outside the image) and flushes the line;
# before an operation that may legitimately lose a promised file's content
# (truncate, rename over, unlink) it appends "-  path". The cut may come at any
# instant: a line is written only after the kernel promised it.
# Must never: write anywhere but MOUNT and PROMISES.
import hashlib, os, random, sys, time

mount, promises_path, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
log = open(promises_path, "a", buffering=1)
files, dirs = [], [""]

def promise(rel):
    with open(os.path.join(mount, rel), "rb") as f:
        log.write("%s  %s\n" % (hashlib.sha256(f.read()).hexdigest(), rel))
    log.flush()

def forget(rel):
    log.write("-  %s\n" % rel)
    log.flush()

def fsync_path(p, directory=False):
    fd = os.open(p, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

def full(rel):
    return os.path.join(mount, rel)

def parent(rel):
    return os.path.dirname(full(rel)) or mount

def blob():
    n = rng.choice([0, 1, 100, 4095, 4096, 4097, 20000, 70000, 300000, 1100000])
    return rng.randbytes(n)

def new_name(d):
    base = rng.choice(["notes", "plan", "Care plan", "contrat-été", "x" * 190, "report"])
    return os.path.join(d, "%s-%d.txt" % (base, rng.randrange(10**6)))

def op_create():
    rel = new_name(rng.choice(dirs))
    with open(full(rel), "wb") as f:
        f.write(blob()); f.flush(); os.fsync(f.fileno())
    fsync_path(parent(rel), True)
    files.append(rel); promise(rel)

def op_append():
    if not files: return op_create()
    rel = rng.choice(files)
    with open(full(rel), "ab") as f:
        f.write(rng.randbytes(rng.choice([1, 10, 4000, 9000]))); f.flush(); os.fsync(f.fileno())
    promise(rel)

def op_rewrite():
    if not files: return op_create()
    rel = rng.choice(files)
    forget(rel)
    with open(full(rel), "wb") as f:          # O_TRUNC, as cp and > do
        f.write(blob())
        if rng.random() < 0.7:
            f.flush(); os.fsync(f.fileno()); promise(rel)

def op_office_save():
    if not files: return op_create()
    rel = rng.choice(files)
    tmp = os.path.join(os.path.dirname(rel), ".~lock%d" % rng.randrange(10**6))
    with open(full(tmp), "wb") as f:
        f.write(blob()); f.flush(); os.fsync(f.fileno())
    forget(rel)
    os.rename(full(tmp), full(rel))
    fsync_path(parent(rel), True)
    promise(rel)

def op_rename():
    if not files: return op_create()
    rel = rng.choice(files)
    dst = new_name(rng.choice(dirs))
    forget(rel)
    os.rename(full(rel), full(dst))
    fsync_path(parent(dst), True); fsync_path(parent(rel), True)
    files.remove(rel); files.append(dst); promise(dst)

def op_unlink():
    if not files: return op_create()
    rel = rng.choice(files)
    forget(rel)
    os.unlink(full(rel)); files.remove(rel)

def op_mkdir():
    d = os.path.join(rng.choice(dirs), "case-%d" % rng.randrange(10**6))
    os.mkdir(full(d))
    fsync_path(full(d), True); fsync_path(parent(d), True)
    dirs.append(d)

def op_burst():
    d = os.path.join(rng.choice(dirs), "unpacked-%d" % rng.randrange(10**6))
    os.mkdir(full(d)); dirs.append(d)
    for i in range(rng.randrange(5, 40)):
        rel = os.path.join(d, "f%d.h" % i)
        with open(full(rel), "wb") as f:
            f.write(rng.randbytes(rng.randrange(0, 9000)))
        files.append(rel)
    if rng.random() < 0.5:
        for rel in files[-5:]:
            fsync_path(full(rel)); promise(rel)
        fsync_path(full(d), True); fsync_path(parent(d), True)

ops = [op_create] * 4 + [op_append] * 3 + [op_rewrite] * 2 + [op_office_save] * 2 + \
      [op_rename, op_unlink, op_mkdir, op_burst]
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    try:
        rng.choice(ops)()
        n += 1
    except OSError as e:
        # After the cut every call fails; before it, any error is a finding.
        print("pc_workload: op %d: %s" % (n, e), file=sys.stderr)
        sys.exit(3)
print("pc_workload: %d operations" % n)
