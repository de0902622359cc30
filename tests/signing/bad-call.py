#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Calls org.kyso.Agent1.Sign with the given (possibly wrong) arguments and prints the error name and message,
# or the returned path: bad-call.py [--document PATH] [--output PATH] SIGNATURE CERT ROLE [KEY TYPE VALUE]...
# (document and output: /dev/null unless given; the output is opened for writing without truncating it).
# TYPE is s, b, u, or h (VALUE is a file, passed open for reading).
import os
import sys

import dbus

args = sys.argv[1:]
paths = {"--document": "/dev/null", "--output": "/dev/null"}
while args and args[0] in paths:
    paths[args[0]] = args[1]
    args = args[2:]
sig, cert, role = args[0:3]
opts = {}
rest = args[3:]
for i in range(0, len(rest), 3):
    key, typ, value = rest[i:i + 3]
    opts[key] = {"s": dbus.String, "b": lambda v: dbus.Boolean(v == "true"), "u": lambda v: dbus.UInt32(int(v)),
                 "h": lambda v: dbus.types.UnixFd(open(v, "rb"))}[typ](value)
doc = open(paths["--document"], "rb")
out = os.fdopen(os.open(paths["--output"], os.O_WRONLY), "wb")
agent = dbus.Interface(dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1"), "org.kyso.Agent1")
try:
    if sig == "hhssa{sv}":
        path = agent.Sign(dbus.types.UnixFd(doc), dbus.types.UnixFd(out), cert, role, dbus.Dictionary(opts, signature="sv"), signature=sig)
    else:  # a wrong signature on purpose: the document as a string
        path = agent.Sign("document", dbus.types.UnixFd(out), cert, role, dbus.Dictionary(opts, signature="sv"), signature="shssa{sv}")
    print("path", path)
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
