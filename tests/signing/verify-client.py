#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# verify-client.py FILE [SIGNATURE]: calls org.kyso.Agent1.Verify on FILE (with its detached SIGNATURE, else none)
# and prints one line per signature: valid, format, problem, level, revision, competent-person.
import sys

import dbus

agent = dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1")
sig = sys.argv[2] if len(sys.argv) > 2 else "/dev/null"
with open(sys.argv[1], "rb") as doc, open(sig, "rb") as signature:
    sigs = agent.Verify(dbus.types.UnixFd(doc), dbus.types.UnixFd(signature), dbus_interface="org.kyso.Agent1",
                        timeout=120)
for s in sigs:
    if s["format"] == "pdf":
        print(bool(s["valid"]), s["problem"], s["level"], int(s["revision"]), bool(s.get("competent-person", False)))
    else:
        print(bool(s["valid"]), s["format"], s["level"], bool(s.get("competent-person", False)))
