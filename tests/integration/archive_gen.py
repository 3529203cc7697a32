#!/usr/bin/env python3
# archive_gen.py: writes the bags and the hostile tarballs that archive_hostile.sh gives to
# `recfs archive verify`: a valid bag in the layout of the README (BagIt outside, one OCFL
# object inside, the records as they stand with a hard link into the object), and each way
# of spoiling it. Standard library only (tarfile, hashlib, gzip, json).
#
#   archive_gen.py CASE OUT       CASE: see CASES below; OUT ends in .tar, .tar.gz or .tar.zst
#
# Everything streams: the 10-million-line manifest and the gzip bomb are generated as they
# are written, never held in memory or on disk uncompressed.
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import struct
import tarfile
import zlib

NAME = "Telecare"
T = 1767225600  # 2026-01-01T00:00:00Z


def sha(b):
    return hashlib.sha512(b).hexdigest()


class Bag:
    """The entries of a bag, in the order recfs writes them, before they go to a tar."""

    def __init__(self):
        self.entries = []  # (tarinfo, bytes or None)

    def add(self, name, data=None, kind="file", target=None, mtime=T, mode=None):
        ti = tarfile.TarInfo(name)
        ti.mtime = mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        if kind == "dir":
            ti.type, ti.mode = tarfile.DIRTYPE, mode or 0o755
        elif kind == "symlink":
            ti.type, ti.mode, ti.linkname = tarfile.SYMTYPE, 0o777, target
        elif kind == "hardlink":
            ti.type, ti.mode, ti.linkname = tarfile.LNKTYPE, 0o644, target
        else:
            ti.mode = mode or 0o644
            ti.size = len(data)
        self.entries.append((ti, data))


def ocfl_object(bag, root, versions):
    """versions: [(created, message, {logical: bytes})]; returns {logical: content path} of the head."""
    manifest, states, where = {}, {}, {}
    bag.add(root + "/", kind="dir")
    decl = b"ocfl_object_1.1\n"
    bag.add(root + "/0=ocfl_object_1.1", decl)
    for i, (created, message, files) in enumerate(versions, 1):
        v = "v%d" % i
        state = {}
        for logical, data in sorted(files.items()):
            d = sha(data)
            if d not in manifest:
                path = "%s/content/%s" % (v, logical)
                manifest[d] = [path]
                bag.add("%s/%s" % (root, path), data)
            state.setdefault(d, []).append(logical)
            where[logical] = manifest[d][0]
        states[v] = {"created": created, "message": message, "state": state,
                     "user": {"name": "Ann Smith", "address": "mailto:ann@example.org"}}
    inv = {"id": "urn:recfs:" + root, "type": "https://ocfl.io/1.1/spec/#inventory",
           "digestAlgorithm": "sha512", "head": "v%d" % len(versions),
           "manifest": manifest, "versions": states}
    text = (json.dumps(inv, indent=2, sort_keys=True) + "\n").encode()
    bag.add(root + "/inventory.json", text)
    bag.add(root + "/inventory.json.sha512", ("%s  inventory.json\n" % sha(text)).encode())
    head = "v%d" % len(versions)
    bag.add("%s/%s/inventory.json" % (root, head), kind="hardlink", target=root + "/inventory.json")
    bag.add("%s/%s/inventory.json.sha512" % (root, head), kind="hardlink",
            target=root + "/inventory.json.sha512")
    return where, text


def valid_bag(mutate=None):
    """The bag as recfs lays it out. mutate(stage, ...) hooks let a case spoil one thing."""
    m = mutate or (lambda *a: None)
    b = Bag()
    b.add(NAME + "/", kind="dir")
    bagit = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    b.add(NAME + "/bagit.txt", bagit)
    b.add(NAME + "/data/", kind="dir")
    b.add(NAME + "/data/history/", kind="dir")
    obj = NAME + "/data/history/client 1"
    v1 = {"care plan.txt": b"plan, first draft\n", "notes \u00e9.txt": b"n1\n"}
    v2 = {"care plan.txt": b"plan, agreed on 3 March\n", "notes \u00e9.txt": b"n1\n"}
    where, _ = ocfl_object(b, obj, [("2026-01-02T10:00:00+00:00", "created", v1),
                                    ("2026-03-03T11:30:00+01:00", "saved", v2)])
    m("after-ocfl", b)
    b.add(NAME + "/data/records/", kind="dir")
    b.add(NAME + "/data/records/client 1/", kind="dir")
    for logical, data in sorted(v2.items()):
        b.add(NAME + "/data/records/client 1/" + logical, kind="hardlink",
              target=obj + "/" + where[logical])
    b.add(NAME + "/data/records/rota.csv", b"day,who\nMon,Ann\n")
    b.add(NAME + "/data/records/rota-link.csv", kind="symlink", target="rota.csv")
    m("after-records", b)
    # Digests and sizes of the payload, in write order: hard links and links to files carry
    # their target's (and count in Payload-Oxum, as the manifest lists them)
    digest_of, size_of, lines = {}, {}, []
    for ti, data in b.entries:
        rel = ti.name[len(NAME) + 1:]
        if ti.type == tarfile.REGTYPE:
            digest_of[rel], size_of[rel] = sha(data), len(data)
            continue
        if ti.type == tarfile.LNKTYPE:
            target = ti.linkname[len(NAME) + 1:]
        elif ti.type == tarfile.SYMTYPE:
            target = os.path.normpath(os.path.join(os.path.dirname(rel), ti.linkname))
        else:
            continue
        if target in digest_of:  # else a link to a folder, dangling or outside: not listed
            digest_of[rel], size_of[rel] = digest_of[target], size_of[target]
    for rel in digest_of:
        if rel.startswith("data/"):
            lines.append("%s  %s\n" % (digest_of[rel], rel.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")))
    oxum_files = sum(1 for k in size_of if k.startswith("data/"))
    oxum_bytes = sum(v for k, v in size_of.items() if k.startswith("data/"))
    lines = m("manifest-lines", lines) or lines
    manifest = "".join(lines).encode()
    b.add(NAME + "/manifest-sha512.txt", manifest)
    info = ("Source-Organization: Anytown Council\nBagging-Date: 2026-03-03\n"
            "Bag-Software-Agent: recfs 0.1.0\nExternal-Identifier: urn:recfs:test\n"
            "Payload-Oxum: %d.%d\nBag-Size: %d B\n" % (oxum_bytes, oxum_files, oxum_bytes)).encode()
    b.add(NAME + "/bag-info.txt", info)
    csv = b"path,class\nclient 1,care\n"
    b.add(NAME + "/records.csv", csv)
    tags = [("bagit.txt", bagit), ("bag-info.txt", info), ("manifest-sha512.txt", manifest),
            ("records.csv", csv)]
    b.add(NAME + "/tagmanifest-sha512.txt",
          "".join("%s  %s\n" % (sha(d), n) for n, d in tags).encode())
    m("end", b)
    return b


def open_out(out):
    """A binary stream to OUT, compressed as its name says (zstd through the zstd tool)."""
    if out.endswith(".tar.gz") or out.endswith(".tgz"):
        return gzip.GzipFile(out, "wb", compresslevel=1, mtime=0), None
    if out.endswith(".tar.zst"):
        f = open(out, "wb")
        p = subprocess.Popen(["zstd", "-q", "-1", "-c"], stdin=subprocess.PIPE, stdout=f)
        return p.stdin, (p, f)
    return open(out, "wb"), None


def close_out(f, extra):
    f.close()
    if extra:
        extra[0].wait()
        extra[1].close()


def write(bag, out):
    f, extra = open_out(out)
    with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as t:
        for ti, data in bag.entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    close_out(f, extra)


class Stream(io.RawIOBase):
    """A file of size bytes made by gen() pieces, read once (for tarfile.addfile)."""

    def __init__(self, gen):
        self.gen, self.buf = gen, b""

    def readable(self):
        return True

    def read(self, n=-1):
        while len(self.buf) < n:
            try:
                self.buf += next(self.gen)
            except StopIteration:
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def case_manifest_huge(out, n=10_000_000, first=False):
    """A bag whose manifest lists n files that are not there (n a multiple of 10,000); first:
    the manifest comes before the payload (its lines wait for their files)."""
    b = valid_bag()
    entries = [e for e in b.entries if not e[0].name.endswith("manifest-sha512.txt")
               or e[0].name.endswith("tagmanifest-sha512.txt")]
    # fixed-width lines "<digest>  data/fKKKKKNNNN": one block of 10,000 made once, its
    # KKKKK replaced per block (at C speed)
    template = b"".join(("%s  data/fKKKKK%04d\n" % ("ab" * 64, i)).encode() for i in range(10000))
    width = len(template) // 10000

    def gen():
        for k in range(n // 10000):
            yield template.replace(b"KKKKK", b"%05d" % k)

    f, extra = open_out(out)
    with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as t:
        for ti, data in entries:
            if ti.name == (NAME + "/data/" if first else NAME + "/bag-info.txt"):
                mi = tarfile.TarInfo(NAME + "/manifest-sha512.txt")
                mi.size, mi.mtime, mi.mode = n * width, T, 0o644
                t.addfile(mi, Stream(gen()))
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    close_out(f, extra)


def gf2_times(mat, vec):
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec, i = vec >> 1, i + 1
    return s


def gf2_square(mat):
    return [gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1, crc2, len2):
    """zlib's crc32_combine: the CRC-32 of A+B from those of A and B (B len2 bytes)."""
    op = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit, over GF(2)
    for _ in range(3):
        op = gf2_square(op)                           # one zero byte
    while len2:
        if len2 & 1:
            crc1 = gf2_times(op, crc1)
        op, len2 = gf2_square(op), len2 >> 1
    return crc1 ^ crc2


def crc32_zeros(n):
    """CRC-32 of n zero bytes (n a multiple of 1 MiB), by doubling."""
    mib, c, out, have = 1 << 20, zlib.crc32(bytes(1 << 20)), 0, 0
    n //= mib
    size = mib
    while n:
        if n & 1:
            out, have = crc32_combine(out, c, size) if have else c, 1
        c, size, n = crc32_combine(c, c, size), size * 2, n >> 1
    return out


def case_gzip_bomb(out, gib=10):
    """One payload file of gib GiB of zeros in about 1 MB per GiB of gzip: one deflate block
    of 1 MiB of zeros after a full flush stands alone, so it is written gib * 1024 times."""
    b = valid_bag()
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc, isize = 0, 0
    with open(out, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")

        def emit(data):
            nonlocal crc, isize
            crc, isize = zlib.crc32(data, crc), isize + len(data)
            f.write(co.compress(data))

        for ti, data in b.entries[:3]:
            emit(ti.tobuf(tarfile.PAX_FORMAT))
            if data:
                emit(data + bytes((512 - len(data) % 512) % 512))
        bi = tarfile.TarInfo(NAME + "/data/zeros.bin")
        bi.size, bi.mtime = gib << 30, T
        emit(bi.tobuf(tarfile.PAX_FORMAT))
        f.write(co.flush(zlib.Z_FULL_FLUSH))
        zero = bytes(1 << 20)
        z = co.compress(zero) + co.flush(zlib.Z_FULL_FLUSH)
        for _ in range(gib << 10):
            f.write(z)
        crc, isize = crc32_combine(crc, crc32_zeros(gib << 30), gib << 30), isize + (gib << 30)
        emit(bytes(10240))
        f.write(co.flush())
        f.write(struct.pack("<II", crc, isize & 0xFFFFFFFF))


def ustar_block(name, size, typeflag):
    """One raw ustar header block (tarfile is too slow for a 100 MiB pax record)."""
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = ("%011o\0" % size).encode()
    h[136:148] = ("%011o\0" % T).encode()
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[257:265] = b"ustar\x0000"
    h[148:156] = ("%06o\0 " % sum(h)).encode()
    return bytes(h)


def case_pax_huge(out, mib=100):
    """A pax extended header of mib MiB (one enormous comment record) before a file."""
    b = valid_bag()
    f, extra = open_out(out)
    with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT) as t:
        for ti, data in b.entries[:2]:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
        t.fileobj.flush() if hasattr(t.fileobj, "flush") else None
        # tarfile buffers; write the raw blocks through it so that the order holds
        value = mib << 20
        body = len(" comment=\n") + value
        digits = len(str(body))
        while len(str(body + digits)) != digits:
            digits += 1
        reclen = body + digits
        t.fileobj.write(ustar_block("PaxHeaders/x.txt", reclen, b"x"))
        t.fileobj.write(("%d comment=" % reclen).encode())
        chunk = b"A" * (1 << 20)
        for _ in range(mib):
            t.fileobj.write(chunk)
        t.fileobj.write(b"\n" + bytes((512 - reclen % 512) % 512))
        t.fileobj.write(ustar_block(NAME + "/data/x.txt", 2, b"0") + b"x\n" + bytes(510))
        t.offset += 512 + reclen + (512 - reclen % 512) % 512 + 1024
    close_out(f, extra)


def case_long_names(out, n=40000):
    """n empty files with names of 4,000 bytes each (pax path records): 160 MB of names."""
    f, extra = open_out(out)
    f.write(ustar_block(NAME + "/", 0, b"5"))
    for i in range(n):
        name = "%s/data/%09d-%s" % (NAME, i, "n" * 3970)
        body = " path=%s\n" % name
        rec = "%d%s" % (len(body) + len(str(len(body) + 4)), body)
        rec = "%d%s" % (len(body) + len(str(len(rec))), body)
        f.write(ustar_block("PaxHeaders/%d" % i, len(rec), b"x") + rec.encode()
                + bytes((512 - len(rec) % 512) % 512))
        f.write(ustar_block("%s/data/x%09d" % (NAME, i), 0, b"0"))
    f.write(bytes(1024))
    close_out(f, extra)


def spoil(stage_name, fn):
    def m(stage, arg):
        if stage == stage_name:
            return fn(arg)
    return m


def replace_entry(bag, name, data):
    for i, (ti, _) in enumerate(bag.entries):
        if ti.name == name:
            ti.size = len(data)
            bag.entries[i] = (ti, data)
            return
    raise KeyError(name)


def drop_entry(bag, name):
    bag.entries = [e for e in bag.entries if e[0].name != name]


CASES = {
    "valid": lambda out: write(valid_bag(), out),
    # a payload byte changed after the manifests were made
    "changed": lambda out: write(valid_bag(spoil("end", lambda b: replace_entry(
        b, NAME + "/data/records/rota.csv", b"day,who\nMon,Bob\n"))), out),
    "missing": lambda out: write(valid_bag(spoil("end", lambda b: drop_entry(
        b, NAME + "/data/records/rota-link.csv"))), out),
    "extra": lambda out: write(valid_bag(extra_file), out),
    "malformed-line": lambda out: write(valid_bag(spoil("manifest-lines", lambda ls: ls[:2] +
        ["this is not a manifest line\n"] + ls[2:])), out),
    # the inventory's manifest names a digest its content file does not have
    "ocfl-mismatch": lambda out: write(valid_bag(spoil("after-ocfl", lambda b: ocfl_tamper(b))), out),
    "traversal-dotdot": lambda out: write(valid_bag(spoil("after-records", lambda b: b.add(
        NAME + "/data/../../x", b"x\n"))), out),
    "traversal-abs": lambda out: write(valid_bag(spoil("after-records", lambda b: b.add("/etc/x", b"x\n"))), out),
    "symlink-out": lambda out: write(valid_bag(spoil("after-records", lambda b: b.add(
        NAME + "/data/records/passwd", kind="symlink", target="../../../../etc/passwd"))), out),
    # the same bag in other orders and spellings: valid
    "sorted": lambda out: write(sorted_bag(), out),
    "uppercase": lambda out: write(valid_bag(spoil("manifest-lines", lambda ls: [
        l[:128].upper() + l[128:] for l in ls])), out),
    "odd-names": lambda out: write(valid_bag(spoil("after-records", lambda b: b.add(
        NAME + "/data/records/line\nbreak 100%.txt", b"odd\n"))), out),
    "manifest-twice": lambda out: write(valid_bag(spoil("manifest-lines", lambda ls: ls + ls[-1:])), out),
    "oxum": lambda out: write(valid_bag(spoil("end", lambda b: replace_in(
        b, NAME + "/bag-info.txt", b"Payload-Oxum: ", b"Payload-Oxum: 1"))), out),
    "outside": lambda out: write(valid_bag(spoil("end", lambda b: b.add("Other/x.txt", b"x\n"))), out),
    "hardlink-out": lambda out: write(valid_bag(spoil("end", lambda b: b.add(
        NAME + "/data/records/shadow", kind="hardlink", target="/etc/shadow"))), out),
    "ocfl-gap": lambda out: write(valid_bag(spoil("after-ocfl", lambda b: inventory_edit(
        b, lambda inv: inv["versions"].update({"v3": inv["versions"].pop("v2")}) or inv.update(head="v3")))), out),
    "ocfl-head": lambda out: write(valid_bag(spoil("after-ocfl", lambda b: inventory_edit(
        b, lambda inv: inv.update(head="v1")))), out),
    "ocfl-sidecar": lambda out: write(valid_bag(spoil("after-ocfl", lambda b: replace_in(
        b, NAME + "/data/history/client 1/inventory.json.sha512", b"  inventory", b"0  inventory", 1)))
        , out),
    "ocfl-unlisted": lambda out: write(valid_bag(spoil("after-ocfl", lambda b: b.add(
        NAME + "/data/history/client 1/v1/content/stray.txt", b"not in the inventory\n"))), out),
    "pax-huge": case_pax_huge,
    "long-names": case_long_names,
    "gzip-bomb": case_gzip_bomb,
    "manifest-huge": case_manifest_huge,
}


def sorted_bag():
    """Entries sorted by name (as a sorting tar would write them), the manifest first: inventories
    come before their content, and manifest lines before their files."""
    b = valid_bag()
    first = [e for e in b.entries if e[0].name in (NAME + "/", NAME + "/manifest-sha512.txt")]
    rest = sorted((e for e in b.entries if e not in first), key=lambda e: e[0].name)
    b.entries = first + rest
    return b


def replace_in(bag, name, old, new, cut=0):
    """Replace old by new in one entry's bytes (cut: drop that many bytes before new)."""
    for i, (ti, data) in enumerate(bag.entries):
        if ti.name == name:
            at = data.index(old)
            data = data[:at - cut] + new + data[at + len(old):]
            ti.size = len(data)
            bag.entries[i] = (ti, data)
            return
    raise KeyError(name)


def inventory_edit(b, fn):
    """Change the inventory (and its sidecar, so that only the change is wrong)."""
    for i, (ti, data) in enumerate(b.entries):
        if ti.name.endswith("/inventory.json") and ti.type == tarfile.REGTYPE:
            inv = json.loads(data)
            fn(inv)
            text = (json.dumps(inv, indent=2, sort_keys=True) + "\n").encode()
            ti.size = len(text)
            b.entries[i] = (ti, text)
            side = b.entries[i + 1][0]
            sd = ("%s  inventory.json\n" % sha(text)).encode()
            side.size = len(sd)
            b.entries[i + 1] = (side, sd)
            return


def extra_file(stage, arg):
    """A payload file the manifest does not list."""
    if stage == "after-records":
        arg.add(NAME + "/data/records/stray.txt", b"not listed\n")
    elif stage == "manifest-lines":
        return [l for l in arg if not l.endswith(" data/records/stray.txt\n")]


def ocfl_tamper(b):
    """The inventory names a digest that its content file does not have."""
    def fn(inv):
        d = sorted(inv["manifest"])[0]
        inv["manifest"]["0" * 128] = inv["manifest"].pop(d)
        for v in inv["versions"].values():
            if d in v["state"]:
                v["state"]["0" * 128] = v["state"].pop(d)
    inventory_edit(b, fn)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in CASES:
        sys.exit("usage: archive_gen.py {%s} OUT" % "|".join(CASES))
    CASES[sys.argv[1]](sys.argv[2])
