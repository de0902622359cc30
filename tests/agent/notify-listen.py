#!/usr/bin/env python3
# notify-listen.py SOCKET OUT BUS_ADDRESS SECONDS: a stand-in for systemd's NOTIFY_SOCKET. Appends every
# sd_notify datagram to OUT (one line per assignment); when READY=1 arrives it asks the bus at once whether
# org.kyso.Agent1 has an owner and records "ready-name-owned=yes|no" (READY=1 must follow the name).
import os
import socket
import subprocess
import sys
import time

path, out, address, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
deadline = time.monotonic() + seconds
with open(out, "a", buffering=1) as f:
    print("listening", file=f)
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = s.recv(4096)
        except socket.timeout:
            break
        for line in data.decode("utf-8", "replace").splitlines():
            print(line, file=f)
            if line == "READY=1":
                r = subprocess.run(["dbus-send", f"--bus={address}", "--print-reply=literal",
                                    "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus.NameHasOwner", "string:org.kyso.Agent1"],
                                   capture_output=True, text=True)
                print("ready-name-owned=" + ("yes" if "true" in r.stdout else "no"), file=f)
os.unlink(path)
