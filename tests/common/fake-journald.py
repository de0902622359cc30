#!/usr/bin/env python3
"""fake-journald.py SOCKET OUT: listens on the journal's native socket (AF_UNIX datagrams, as
sd_journal_sendv() sends them) and appends each entry to OUT, its fields one per line, then a line '.'.
Entries too big for a datagram come as a memfd (SCM_RIGHTS); values with a newline in the binary form."""
import array
import os
import socket
import struct
import sys


def fields(data):
    out, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            out.append(line)
            i = nl + 1
        else:  # KEY\n<le64 size><value>\n
            (size,) = struct.unpack_from("<Q", data, nl + 1)
            start = nl + 9
            out.append(line + b"=" + data[start:start + size])
            i = start + size + 1
    return out


def main():
    path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with open(out + ".ready", "w"):
        pass
    while True:
        data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4 * array.array("i").itemsize))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                for fd in fds:
                    data = os.pread(fd, 1 << 24, 0)
                    os.close(fd)
        with open(out, "ab") as f:
            f.write(b"\n".join(fields(data)) + b"\n.\n")


if __name__ == "__main__":
    main()
