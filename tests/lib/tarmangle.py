#!/usr/bin/env python3
"""tests/lib/tarmangle.py - damage a bundle the ways media and people do.

  tarmangle.py flip BUNDLE MEMBER        flip one byte in MEMBER's data
  tarmangle.py drop BUNDLE MEMBER        remove MEMBER
  tarmangle.py swap BUNDLE A B           exchange the places of A and B
  tarmangle.py append BUNDLE NAME        add a member NAME at the end
  tarmangle.py replace BUNDLE MEMBER F   MEMBER's content becomes file F
  tarmangle.py first BUNDLE PREFIX       print the first member starting so

Rewritten bundles keep every other member byte for byte (pax format).
"""
import io
import sys
import tarfile


def members(path):
    with tarfile.open(path, "r:") as t:
        return [(m, t.extractfile(m).read() if m.isfile() else b"") for m in t.getmembers()]


def write(path, items):
    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as t:
        for m, data in items:
            m.size = len(data)
            t.addfile(m, io.BytesIO(data))


def main(argv):
    op, bundle = argv[1], argv[2]
    if op == "flip":
        with tarfile.open(bundle, "r:") as t:
            m = t.getmember(argv[3])
            off = m.offset_data + m.size // 2
        with open(bundle, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x01]))
        return 0
    items = members(bundle)
    names = [m.name for m, _ in items]
    if op == "first":
        print(next(n for n in names if n.startswith(argv[3])))
        return 0
    if op == "drop":
        items = [x for x in items if x[0].name != argv[3]]
    elif op == "swap":
        i, j = names.index(argv[3]), names.index(argv[4])
        items[i], items[j] = items[j], items[i]
    elif op == "append":
        ti = tarfile.TarInfo(argv[3])
        items.append((ti, b"extra\n"))
    elif op == "replace":
        with open(argv[4], "rb") as f:
            data = f.read()
        items = [(m, data if m.name == argv[3] else d) for m, d in items]
    else:
        print("unknown operation " + op, file=sys.stderr)
        return 2
    write(bundle, items)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
