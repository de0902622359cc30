#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# verify-client.py FILE: calls org.kyso.Agent1.Verify on FILE (no detached signature) and prints one line per
# signature: valid, problem, level, revision, competent-person.
import sys

import dbus

agent = dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1")
with open(sys.argv[1], "rb") as doc, open("/dev/null", "rb") as none:
    sigs = agent.Verify(dbus.types.UnixFd(doc), dbus.types.UnixFd(none), dbus_interface="org.kyso.Agent1",
                        timeout=120)
for s in sigs:
    print(bool(s["valid"]), s["problem"], s["level"], int(s["revision"]), bool(s.get("competent-person", False)))
