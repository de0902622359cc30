#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Calls org.kyso.Agent1.SignBatch with the given documents and outputs and prints the error name and message,
# or the returned path: batch-call.py CERT ROLE DOC... -- OUT... (each output is opened for writing without
# truncating it, so a refused call leaves it as it was).
import os
import sys

import dbus

cert, role = sys.argv[1:3]
rest = sys.argv[3:]
split = rest.index("--")
docs = [dbus.types.UnixFd(os.open(p, os.O_RDONLY)) for p in rest[:split]]
outs = [dbus.types.UnixFd(os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)) for p in rest[split + 1:]]
agent = dbus.Interface(dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1"), "org.kyso.Agent1")
try:
    print("path", agent.SignBatch(docs, outs, cert, role, dbus.Dictionary({}, signature="sv")))
except dbus.exceptions.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
