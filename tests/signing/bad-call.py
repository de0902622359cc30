#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Calls org.kyso.Agent1.Sign with the given (possibly wrong) arguments and prints the error name and message,
# or the returned path: bad-call.py SIGNATURE CERT ROLE [KEY TYPE VALUE]... (document and output: /dev/null).
import sys

import dbus

sig, cert, role = sys.argv[1:4]
opts = {}
rest = sys.argv[4:]
for i in range(0, len(rest), 3):
    key, typ, value = rest[i:i + 3]
    opts[key] = {"s": dbus.String, "b": lambda v: dbus.Boolean(v == "true"), "u": lambda v: dbus.UInt32(int(v))}[typ](value)
doc = open("/dev/null", "rb")
out = open("/dev/null", "wb")
agent = dbus.Interface(dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1"), "org.kyso.Agent1")
try:
    if sig == "hhssa{sv}":
        path = agent.Sign(dbus.types.UnixFd(doc), dbus.types.UnixFd(out), cert, role, dbus.Dictionary(opts, signature="sv"), signature=sig)
    else:  # a wrong signature on purpose: the document as a string
        path = agent.Sign("document", dbus.types.UnixFd(out), cert, role, dbus.Dictionary(opts, signature="sv"), signature="shssa{sv}")
    print("path", path)
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
