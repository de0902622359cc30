#!/usr/bin/env python3
# make-png.py OUT KIND W H [R,G,B]: an RGBA PNG with transparency for the visible signature tests and the
# demo, written with zlib alone. KIND: block (opaque inside a one-pixel transparent border), disk, ring (a
# seal: two rings and a centre), stroke (a handwritten-like wave).
import math
import struct
import sys
import zlib


def png(path, w, h, fn):
    raw = b''.join(b'\0' + b''.join(bytes(fn(x, y)) for x in range(w)) for y in range(h))

    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)

    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 6, 0, 0, 0)) +
                chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def main():
    out, kind, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    r, g, b = map(int, (sys.argv[5] if len(sys.argv) > 5 else '0,0,255').split(','))
    cx, cy, rad = w / 2, h / 2, min(w, h) / 2
    inside = {
        'block': lambda x, y: 0 < x < w - 1 and 0 < y < h - 1,
        'disk': lambda x, y: math.hypot(x - cx, y - cy) < rad - 1,
        'ring': lambda x, y: (0.88 * rad < math.hypot(x - cx, y - cy) < 0.97 * rad or
                              0.70 * rad < math.hypot(x - cx, y - cy) < 0.74 * rad or
                              math.hypot(x - cx, y - cy) < 0.14 * rad),
        'stroke': lambda x, y: abs(y - cy - 0.3 * h * math.sin(x / (w / 13)) * math.exp(-x / w)) < max(2, h / 30),
    }[kind]
    png(out, w, h, lambda x, y: (r, g, b, 255 if inside(x, y) else 0))


main()
