#!/usr/bin/env python3
"""gen-rpm-upstream.py DIR NENTRIES: repodata/ for a stand-in rpm upstream
whose real files are the rpms already in DIR (the signed alloy ones),
padded with NENTRIES synthetic entries of other products whose files do
not exist.  Every tool under test filters to alloy, so only the real
files are ever downloaded; the synthetic ones make the indices as large
as a real upstream's.  The real entries come from createrepo_c; this only
appends XML and rewrites repomd.xml with the right checksums (bench data,
not product code)."""
import gzip, hashlib, os, re, subprocess, sys, time

d, n = sys.argv[1], int(sys.argv[2])
subprocess.run(["createrepo_c", "--quiet", "--general-compress-type", "gz", d], check=True)
rd = os.path.join(d, "repodata")
repomd = open(os.path.join(rd, "repomd.xml")).read()

def href(kind):
    return re.search(r'<data type="%s">.*?<location href="([^"]+)"' % kind, repomd, re.S).group(1)

def synth(kind, i):
    name = "filler-%05d" % i
    pkgid = hashlib.sha256(name.encode()).hexdigest()
    if kind == "primary":
        return ('<package type="rpm"><name>%s</name><arch>x86_64</arch>'
                '<version epoch="0" ver="1.0" rel="1"/><checksum type="sha256" pkgid="YES">%s</checksum>'
                '<summary>filler</summary><description>filler</description><packager/><url/>'
                '<time file="1700000000" build="1700000000"/><size package="1000" installed="10" archive="100"/>'
                '<location href="filler/%s-1.0-1.x86_64.rpm"/><format><rpm:license>MIT</rpm:license>'
                '<rpm:vendor/><rpm:group>Unspecified</rpm:group><rpm:buildhost>b</rpm:buildhost>'
                '<rpm:sourcerpm>%s-1.0-1.src.rpm</rpm:sourcerpm><rpm:header-range start="0" end="1"/>'
                '<rpm:provides><rpm:entry name="%s" flags="EQ" epoch="0" ver="1.0" rel="1"/></rpm:provides>'
                '</format></package>\n' % (name, pkgid, name, name, name))
    if kind == "filelists":
        return ('<package pkgid="%s" name="%s" arch="x86_64"><version epoch="0" ver="1.0" rel="1"/>'
                '<file>/usr/share/%s/VERSION</file></package>\n' % (pkgid, name, name))
    return ('<package pkgid="%s" name="%s" arch="x86_64"><version epoch="0" ver="1.0" rel="1"/>'
            '</package>\n' % (pkgid, name))

records = {}
for kind in ("primary", "filelists", "other"):
    path = os.path.join(d, href(kind))
    xml = gzip.open(path).read().decode()
    count = int(re.search(r'packages="(\d+)"', xml).group(1))
    body = "".join(synth(kind, i) for i in range(n))
    close = {"primary": "</metadata>", "filelists": "</filelists>", "other": "</otherdata>"}[kind]
    xml = xml.replace(close, body + close).replace('packages="%d"' % count, 'packages="%d"' % (count + n), 1)
    raw = xml.encode()
    packed = gzip.compress(raw, 6, mtime=0)
    sha = hashlib.sha256(packed).hexdigest()
    os.unlink(path)
    new = "repodata/%s-%s.xml.gz" % (sha, kind)
    open(os.path.join(d, new), "wb").write(packed)
    records[kind] = (new, sha, len(packed), hashlib.sha256(raw).hexdigest(), len(raw))

now = int(time.time())
out = ['<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" '
       'xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n  <revision>%d</revision>\n' % now]
for kind, (loc, sha, size, osha, osize) in records.items():
    out.append('  <data type="%s">\n    <checksum type="sha256">%s</checksum>\n'
               '    <open-checksum type="sha256">%s</open-checksum>\n    <location href="%s"/>\n'
               '    <timestamp>%d</timestamp>\n    <size>%d</size>\n    <open-size>%d</open-size>\n'
               '  </data>\n' % (kind, sha, osha, loc, now, size, osize))
out.append("</repomd>\n")
open(os.path.join(rd, "repomd.xml"), "w").write("".join(out))
