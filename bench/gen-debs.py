#!/usr/bin/env python3
"""gen-debs.py OUTDIR N [NAME-PREFIX]: N small, valid .deb files written
directly (ar + tar.gz members), for bench/repo.  dpkg-deb would take
minutes for thousands of packages."""
import io, os, sys, tarfile, time

def tar_gz(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()

def ar(members):
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name.encode(), 1700000000, 0, 0, b"100644", len(data)))
        out.append(data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)

def main():
    outdir, n = sys.argv[1], int(sys.argv[2])
    prefix = sys.argv[3] if len(sys.argv) > 3 else "benchdeb"
    os.makedirs(outdir, exist_ok=True)
    for i in range(1, n + 1):
        name = "%s-%05d" % (prefix, i)
        control = ("Package: %s\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: Bench <b@example.test>\n"
                   "Installed-Size: 4\nDepends: libc6 (>= 2.17), bench-common\nSection: misc\nPriority: optional\n"
                   "Description: bench package %d\n A small package for the pkgsmith repo benchmark.\n" % (name, i)).encode()
        data = tar_gz([("./usr/share/%s/data" % name, b"%d\n" % i)])
        deb = ar([("debian-binary", b"2.0\n"), ("control.tar.gz", tar_gz([("./control", control)])), ("data.tar.gz", data)])
        with open(os.path.join(outdir, "%s_1.0-1_amd64.deb" % name), "wb") as f:
            f.write(deb)

main()
