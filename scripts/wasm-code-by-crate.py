#!/usr/bin/env python3
"""Where a wasm module's bytes are: code by crate, from the module's name section.

    scripts/wasm-code-by-crate.py target/wasm32-unknown-unknown/wasm-page/web.wasm [REGEX]

Reads the wasm cargo wrote (before wasm-bindgen and wasm-opt, which drop the names). Prints the
sections, then each crate's function bodies: bytes, share, count. A function is counted under
the crate its (legacy-mangled) name starts with; a trait impl `<T as Trait>` under T's crate.
With REGEX, also what removing the matching functions would save gzipped (`gzip -9` of all
bodies against the bodies left): an estimate, since wasm-opt and gzip then see other bytes.
"""
import collections
import gzip
import re
import sys


def leb(data, i):
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def read(path):
    data = open(path, "rb").read()
    i, sections = 8, []
    while i < len(data):
        sid = data[i]
        size, i = leb(data, i + 1)
        sections.append((sid, i, size))
        i += size
    imported, bodies, names = 0, [], {}
    for sid, start, size in sections:
        j = start
        if sid == 2:  # imports: functions are numbered after them
            count, j = leb(data, j)
            for _ in range(count):
                for _ in range(2):
                    n, j = leb(data, j)
                    j += n
                kind = data[j]
                j += 1
                if kind != 0:
                    sys.exit("only function imports are expected")
                _, j = leb(data, j)
                imported += 1
        elif sid == 10:
            count, j = leb(data, j)
            for _ in range(count):
                n, j = leb(data, j)
                bodies.append(data[j : j + n])
                j += n
        elif sid == 0:
            n, j = leb(data, j)
            if data[j : j + n] != b"name":
                continue
            j += n
            while j < start + size:
                sub = data[j]
                n, j = leb(data, j + 1)
                end = j + n
                if sub == 1:
                    count, j = leb(data, j)
                    for _ in range(count):
                        index, j = leb(data, j)
                        n, j = leb(data, j)
                        names[index] = data[j : j + n].decode("utf-8", "replace")
                        j += n
                j = end
    named = [(names.get(k + imported, "?"), body) for k, body in enumerate(bodies)]
    return sections, named


def crate(name):
    m = re.match(r"_ZN(\d+)", name)
    if not m:
        return name.split("::")[0]
    head = name[m.end() : m.end() + int(m.group(1))]
    if head.startswith("_$LT$"):
        inner = head[5:].replace("$RF$", "").replace("mut$u20$", "")
        return re.split(r"\.\.|\$", inner)[0] or "?"
    return head


def main():
    sections, named = read(sys.argv[1])
    print("sections (id: bytes):", ", ".join(f"{sid}: {size}" for sid, _, size in sections))
    total = collections.Counter()
    count = collections.Counter()
    for name, body in named:
        total[crate(name)] += len(body)
        count[crate(name)] += 1
    code = sum(total.values())
    print(f"code: {code} bytes in {len(named)} functions")
    for key, size in total.most_common(30):
        print(f"{size:9d} {100 * size / code:5.1f}% {count[key]:5d}  {key}")
    if len(sys.argv) > 2:
        pattern = re.compile(sys.argv[2])
        rest = b"".join(body for name, body in named if not pattern.search(name))
        everything = b"".join(body for _, body in named)
        gz = lambda b: len(gzip.compress(b, 9))
        print(f"matching {sys.argv[2]!r}: {len(everything) - len(rest)} bytes; gzipped code "
              f"{gz(everything)} -> {gz(rest)} (saves {gz(everything) - gz(rest)})")


main()
