"""debfile.py: the ar and tar.gz writers of the generated test and bench
.deb files (tests/lib/gen-upstream.py, bench/gen-debs.py), written
directly because dpkg-deb would take minutes for thousands of them."""
import io, tarfile

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
