#!/usr/bin/env python3
"""gen-upstream.py OUTDIR NVERSIONS [SCALE]: the filler of a stand-in
Grafana apt repository: several products with many versions each, for
amd64 and arm64, named and laid out as Grafana's (fpm names, aptly's
pool/main/<initial>/<name>/).  SCALE multiplies the product list (bench).
tempo depends on tempo-common (>= 1.3), for Follow-Dependencies.
Written directly (ar + tar.gz members): dpkg-deb would take minutes."""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from debfile import ar, tar_gz  # noqa: E402

PRODUCTS = ["grafana", "grafana-enterprise", "loki", "promtail", "logcli", "mimir",
            "tempo", "tempo-common", "k6", "beyla", "pyroscope", "grafana-agent"]

def deb(outdir, name, version, arch, depends=None):
    control = ("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Stand-in <up@example.test>\n"
               "Installed-Size: 4\n%sSection: default\nPriority: optional\n"
               "Homepage: https://grafana.example.test\n"
               "Description: stand-in for %s %s\n A generated package of a test upstream.\n"
               % (name, version, arch, "Depends: %s\n" % depends if depends else "", name, version)).encode()
    data = tar_gz([("./usr/share/%s/VERSION" % name, version.encode() + b"\n")])
    body = ar([("debian-binary", b"2.0\n"), ("control.tar.gz", tar_gz([("./control", control)])),
               ("data.tar.gz", data)])
    d = os.path.join(outdir, "pool", "main", name[0], name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%s-%s.%s.deb" % (name, version, arch)), "wb") as f:
        f.write(body)

def main():
    outdir, nver = sys.argv[1], int(sys.argv[2])
    scale = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    products = [p if s == 0 else "%s-x%d" % (p, s) for s in range(scale) for p in PRODUCTS]
    for p in products:
        for v in range(1, nver + 1):
            for arch in ("amd64", "arm64"):
                dep = "tempo-common (>= 1.3)" if p == "tempo" else None
                deb(outdir, p, "1.%d.0-1" % v, arch, dep)

main()
