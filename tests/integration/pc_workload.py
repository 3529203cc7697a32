#!/usr/bin/env python3
# pc_workload: a mixed office workload for the power-cut tests, and the check
# of what it was promised.
#
# Usage: pc_workload.py run MOUNT PROMISES SECONDS SEED
#        pc_workload.py check MOUNT PROMISES
# Environment for run: RECFS (the binary), PC_VAULT (the vault folder),
# PASSFILE (its passphrase; passwd writes PASSFILE.new first and replaces
# PASSFILE only once passwd returned).
#
# run: for SECONDS does what staff programs do: new files, appends, O_TRUNC
# rewrites, office saves (temp, fsync, rename over, fsyncdir), renames of
# files and folders, mkdir, unlinks and folder deletes, an untar (tar -x of a
# small tree, fsync'd or not), and on the mount `recfs restore` (an older
# version, or a deleted file), `recfs gc` and `recfs passwd`. It starts from
# what the mount holds (a clean unmount made it durable) and appends to
# PROMISES one line per promise the kernel or recfs gave, only after it was
# given (the cut may come at any instant):
#   F <sha256> <size> <path>  the file has exactly this content
#   A <path>                  an append is under way: the last F is a prefix
#   T <sha256> <size> <path>  a truncate is under way: the last F, or this
#   X <path>                  content no longer promised (rewrite, restore)
#   G <path>                  the name is gone (unlink or rename, then fsyncdir)
#   D <path>                  the folder exists (mkdir, then fsyncdir)
# Fields are tab-separated; paths are relative to MOUNT.
# A failing call is printed with its time (time.time()), so the caller can
# tell a failure before the cut (a finding) from one the cut caused.
#
# check: every path's last line must hold on the mount. Prints one "# " line
# per broken promise (up to 8), then "BAD N FILES M DIRS D GONE G INFLIGHT I",
# where I of the N broken are files whose fsync'd content an append or a
# truncate under way at the cut damaged (issue 9's defect 4, being fixed).
# Must never: write anywhere but MOUNT, PROMISES and PASSFILE(.new).
import hashlib, io, json, os, random, shutil, subprocess, sys, tarfile, time


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def fsync_path(p, directory=False):
    fd = os.open(p, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Workload:
    def __init__(self, mount, promises, seed):
        self.mount = mount
        self.rng = random.Random(seed)
        self.log = open(promises, "a", buffering=1, encoding="utf-8", errors="surrogateescape")
        self.files = {}      # rel -> True when its content is promised
        self.dirs = [""]
        self.deleted = []    # files unlinked this run: candidates for restore
        self.recfs = os.environ.get("RECFS")
        self.vault = os.environ.get("PC_VAULT")
        self.passfile = os.environ.get("PASSFILE")
        self.damaged = 0

    def full(self, rel):
        return os.path.join(self.mount, rel)

    def parent(self, rel):
        return os.path.dirname(self.full(rel)) or self.mount

    def note(self, kind, rel, data=None):
        if kind in "FT":
            self.log.write("%s\t%s\t%d\t%s\n" % (kind, sha(data), len(data), rel))
        else:
            self.log.write("%s\t%s\n" % (kind, rel))
        self.log.flush()

    def promise(self, rel):
        self.note("F", rel, read(self.full(rel)))
        self.files[rel] = True

    def start(self):
        """Everything the mount holds now was made durable by the clean
        unmount before it. A file the last cut left unreadable (never
        fsync'd, so never promised) is deleted, as its owner would."""
        for top, dnames, fnames in os.walk(self.mount):
            rel_top = os.path.relpath(top, self.mount)
            rel_top = "" if rel_top == "." else rel_top
            if not rel_top:    # the mount's own state (a passwd's keyslot log), not a user folder
                dnames[:] = [d for d in dnames if d != ".recfs"]
            for d in dnames:
                self.dirs.append(os.path.join(rel_top, d))
                self.note("D", os.path.join(rel_top, d))
            for n in fnames:
                rel = os.path.join(rel_top, n)
                if n.startswith(".~lock"):
                    os.unlink(self.full(rel))    # an office save's temp file the cut left
                    continue
                try:
                    self.promise(rel)
                except OSError:
                    self.damaged += 1
                    self.note("X", rel)
                    os.unlink(self.full(rel))
        print("pc_workload: started, %d unreadable files deleted" % self.damaged, flush=True)

    def blob(self):
        n = self.rng.choice([0, 1, 100, 4095, 4096, 4097, 20000, 70000, 300000, 1100000])
        return self.rng.randbytes(n)

    def new_name(self, d):
        base = self.rng.choice(["notes", "plan", "Care plan", "contrat-été", "x" * 190, "report"])
        return os.path.join(d, "%s-%d.txt" % (base, self.rng.randrange(10**6)))

    def pick_file(self):
        return self.rng.choice(sorted(self.files)) if self.files else None

    def under(self, d, rel):
        return rel.startswith(d + "/")

    def op_create(self):
        rel = self.new_name(self.rng.choice(self.dirs))
        with open(self.full(rel), "wb") as f:
            f.write(self.blob()); f.flush(); os.fsync(f.fileno())
        fsync_path(self.parent(rel), True)
        self.promise(rel)

    def op_append(self):
        rel = self.pick_file()
        if rel is None: return self.op_create()
        if self.files[rel]: self.note("A", rel)
        with open(self.full(rel), "ab") as f:
            f.write(self.rng.randbytes(self.rng.choice([1, 10, 4000, 9000]))); f.flush(); os.fsync(f.fileno())
        self.promise(rel)

    def op_truncate(self):
        rel = self.pick_file()
        if rel is None: return self.op_create()
        data = read(self.full(rel))
        n = self.rng.randrange(0, len(data) + 1)
        if self.files[rel]: self.note("T", rel, data[:n])
        os.truncate(self.full(rel), n)
        fsync_path(self.full(rel))
        self.promise(rel)

    def op_rewrite(self):
        rel = self.pick_file()
        if rel is None: return self.op_create()
        self.note("X", rel); self.files[rel] = False
        with open(self.full(rel), "wb") as f:          # O_TRUNC, as cp and > do
            f.write(self.blob())
            if self.rng.random() < 0.7:
                f.flush(); os.fsync(f.fileno())
                self.promise(rel)

    def op_office_save(self):
        rel = self.pick_file()
        if rel is None: return self.op_create()
        tmp = os.path.join(os.path.dirname(rel), ".~lock%d" % self.rng.randrange(10**6))
        with open(self.full(tmp), "wb") as f:
            f.write(self.blob()); f.flush(); os.fsync(f.fileno())
        self.note("X", rel)
        os.rename(self.full(tmp), self.full(rel))
        fsync_path(self.parent(rel), True)
        self.promise(rel)

    def op_rename(self):
        rel = self.pick_file()
        if rel is None: return self.op_create()
        dst = self.new_name(self.rng.choice(self.dirs))
        durable = self.files.pop(rel)
        self.note("X", rel)
        os.rename(self.full(rel), self.full(dst))
        fsync_path(self.parent(dst), True); fsync_path(self.parent(rel), True)
        self.note("G", rel)
        # The rename moved a name: the content is promised only if it was fsync'd.
        if durable:
            self.promise(dst)
        else:
            self.files[dst] = False

    def op_rename_dir(self):
        src = self.rng.choice(self.dirs)
        if not src: return self.op_mkdir()
        dparent = self.rng.choice([d for d in self.dirs if d != src and not self.under(src, d)])
        dst = os.path.join(dparent, "case-%d" % self.rng.randrange(10**6))
        moved = {r: v for r, v in self.files.items() if self.under(src, r)}
        for r in moved: self.note("X", r)
        for d in self.dirs:
            if d == src or self.under(src, d): self.note("X", d)
        os.rename(self.full(src), self.full(dst))
        fsync_path(self.parent(dst), True); fsync_path(self.parent(src), True)
        self.note("G", src)
        self.dirs = [dst + d[len(src):] if d == src or self.under(src, d) else d for d in self.dirs]
        for d in self.dirs:
            if d == dst or self.under(dst, d): self.note("D", d)
        for r, durable in moved.items():
            del self.files[r]
            nr = dst + r[len(src):]
            if durable:
                self.promise(nr)
            else:
                self.files[nr] = False

    def op_unlink(self):
        rel = self.pick_file()
        if rel is None: return self.op_create()
        self.note("X", rel)
        os.unlink(self.full(rel)); del self.files[rel]
        if self.rng.random() < 0.5:
            fsync_path(self.parent(rel), True)
            self.note("G", rel)
        self.deleted.append(rel)

    def op_rmtree(self):
        d = self.rng.choice(self.dirs)
        if not d: return self.op_unlink()
        gone = [r for r in self.files if self.under(d, r)]
        for r in gone: self.note("X", r)
        for x in self.dirs:
            if x == d or self.under(d, x): self.note("X", x)
        shutil.rmtree(self.full(d))
        fsync_path(self.parent(d), True)
        self.note("G", d)
        for r in gone:
            del self.files[r]
            self.deleted.append(r)
        self.dirs = [x for x in self.dirs if x != d and not self.under(d, x)]

    def op_mkdir(self):
        d = os.path.join(self.rng.choice(self.dirs), "case-%d" % self.rng.randrange(10**6))
        os.mkdir(self.full(d))
        fsync_path(self.full(d), True); fsync_path(self.parent(d), True)
        self.note("D", d)
        self.dirs.append(d)

    def op_untar(self):
        """tar -x of a small tree; half the time then fsync'd, file by file
        and folder by folder (tar itself never fsyncs)."""
        top = "unpacked-%d" % self.rng.randrange(10**6)
        where = self.rng.choice(self.dirs)
        buf = io.BytesIO()
        names, subdirs = [], [top]
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for i in range(self.rng.randrange(5, 40)):
                if self.rng.random() < 0.15:
                    subdirs.append(os.path.join(self.rng.choice(subdirs), "sub%d" % i))
                    info = tarfile.TarInfo(subdirs[-1]); info.type = tarfile.DIRTYPE; info.mode = 0o755
                    tar.addfile(info)
                    continue
                name = os.path.join(self.rng.choice(subdirs), "f%d.h" % i)
                data = self.rng.randbytes(self.rng.randrange(0, 9000))
                info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
                names.append(name)
        subprocess.run(["tar", "-x", "-f", "-", "-C", self.full(where) if where else self.mount],
                       input=buf.getvalue(), check=True, capture_output=True, timeout=60)
        self.dirs.extend(os.path.join(where, d) for d in subdirs)
        for n in names: self.files[os.path.join(where, n)] = False
        if self.rng.random() < 0.5:
            for n in names:
                rel = os.path.join(where, n)
                fsync_path(self.full(rel))
                self.promise(rel)
            for d in reversed(subdirs):
                fsync_path(self.full(os.path.join(where, d)), True)
            fsync_path(self.full(where) if where else self.mount, True)
            for d in subdirs: self.note("D", os.path.join(where, d))

    def cli(self, *args):
        return subprocess.run([self.recfs] + list(args), capture_output=True, text=True, timeout=120)

    def fail_cli(self, what, r):
        raise OSError("recfs %s exit %d: %s" % (what, r.returncode, (r.stderr or r.stdout).strip()[-300:]))

    def versions(self, rel):
        r = self.cli("log", self.full(rel), "--json-lines", "-n", "20")
        if r.returncode != 0:
            return []        # no version yet: the committer has not caught up
        out = []
        for line in r.stdout.splitlines():
            v = json.loads(line)
            if not v["what"].startswith("deleted"):
                out.append((v["rev"], line))
        return out

    def restore(self, rel):
        revs = self.versions(rel)
        if not revs: return False
        rev, line = self.rng.choice(revs)
        for _ in range(50):
            r = self.cli("restore", self.full(rel), "--rev", rev)
            if r.returncode == 0: return True
            if "busy" not in (r.stderr + r.stdout).lower():
                self.fail_cli("restore (of the version recfs log listed as %s)" % line, r)
            time.sleep(0.1)  # the kernel releases a closed file's handle a moment later
        self.fail_cli("restore (busy)", r)

    def op_restore(self):
        if self.deleted and self.rng.random() < 0.4:
            rel = self.deleted.pop(self.rng.randrange(len(self.deleted)))
            if os.path.lexists(self.full(rel)): return
            d = rel
            while d:                     # restore brings back deleted folders too
                self.note("X", d); d = os.path.dirname(d)
            if not self.restore(rel): return
            d = os.path.dirname(rel)
            while d and d not in self.dirs:
                self.dirs.append(d); d = os.path.dirname(d)
        else:
            rel = self.pick_file()
            if rel is None: return self.op_create()
            self.note("X", rel)
            if not self.restore(rel): return
        self.promise(rel)    # restore returned: the restored content is durable

    def op_gc(self):
        r = self.cli("gc", self.mount)
        if r.returncode != 0: self.fail_cli("gc", r)

    def op_passwd(self):
        new = self.passfile + ".new"
        with open(new, "w") as f:
            f.write("pc-%d-%d\n" % (os.getpid(), self.rng.randrange(10**9)))
        r = self.cli("passwd", self.vault, "--passphrase-file", self.passfile,
                     "--new-passphrase-file", new, "--insecure-fast-kdf")
        if r.returncode != 0: self.fail_cli("passwd", r)
        os.replace(new, self.passfile)

    def run(self, seconds):
        ops = [self.op_create] * 4 + [self.op_append] * 3 + [self.op_rewrite] * 2 + \
              [self.op_office_save] * 3 + [self.op_rename] * 2 + [self.op_unlink, self.op_mkdir,
              self.op_untar, self.op_rename_dir, self.op_restore, self.op_restore, self.op_truncate]
        rare = [self.op_gc, self.op_passwd, self.op_rmtree]
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            try:
                op = self.rng.choice(rare) if self.rng.random() < 0.04 else self.rng.choice(ops)
                op()
                n += 1
                print("pc_workload: op %d done" % n, flush=True)
            except (OSError, subprocess.SubprocessError) as e:
                # After the cut every call fails; before it, any error is a finding.
                print("pc_workload: failed at %.6f: op %d (%s): %s" % (time.time(), n, op.__name__, e),
                      file=sys.stderr)
                break
        print("pc_workload: %d operations, %d unreadable files deleted at the start" % (n, self.damaged))


def check(mount, promises):
    last, prefix = {}, {}
    for line in open(promises, encoding="utf-8", errors="surrogateescape"):
        f = line.rstrip("\n").split("\t")
        if f[0] == "F":
            last[f[3]] = f
            prefix[f[3]] = f
        elif f[0] == "A":
            last[f[1]] = ["A", f[1]]
        elif f[0] == "T":
            last[f[3]] = f
        else:
            last[f[1]] = f
            prefix.pop(f[1], None)
    bad, counts, inflight = [], {"F": 0, "A": 0, "T": 0, "D": 0, "G": 0}, 0
    for path, f in sorted(last.items()):
        kind, full = f[0], os.path.join(mount, path)
        if kind in counts: counts[kind] += 1
        nbad = len(bad)
        try:
            if kind in "FAT" and path in prefix:
                want, size = prefix[path][1], int(prefix[path][2])
                data = read(full)
                if sha(data[:size] if kind == "A" else data) != want and \
                   (kind != "T" or sha(data) != f[1]):
                    bad.append("%s: want %s (%d bytes), got %d bytes %s" %
                               (path, want[:12], size, len(data), sha(data)[:12]))
            elif kind == "D" and not os.path.isdir(full):
                bad.append("%s: folder missing" % path)
            elif kind == "G" and os.path.lexists(full):
                bad.append("%s: deleted, and back after the cut" % path)
        except OSError as e:
            bad.append("%s: %s" % (path, e))
        if len(bad) > nbad and kind in "AT":
            inflight += 1
            bad[-1] += " (an append or truncate under way at the cut)"
    for b in bad[:8]:
        print("# " + b[-200:])
    print("BAD %d FILES %d DIRS %d GONE %d INFLIGHT %d" %
          (len(bad), counts["F"] + counts["A"] + counts["T"], counts["D"], counts["G"], inflight))


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        w = Workload(sys.argv[2], sys.argv[3], int(sys.argv[5]))
        try:
            w.start()
        except OSError as e:
            print("pc_workload: failed at %.6f: start: %s" % (time.time(), e), file=sys.stderr)
            sys.exit(3)
        w.run(float(sys.argv[4]))
