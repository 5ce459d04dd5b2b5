#!/usr/bin/env python3
"""gen-debs.py OUTDIR N [NAME-PREFIX]: N small, valid .deb files written
directly (ar + tar.gz members), for bench/repo.  dpkg-deb would take
minutes for thousands of packages."""
import os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from debfile import ar, tar_gz  # noqa: E402

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
