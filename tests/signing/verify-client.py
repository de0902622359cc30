#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# verify-client.py [--reason] FILE [SIGNATURE]: calls org.kyso.Agent1.Verify on FILE (with its detached SIGNATURE,
# else none), in the language of its own locale (LC_ALL, LC_MESSAGES, LANG) as kysoctl asks, and prints one line
# per signature: valid, format, problem, level, revision, competent-person; with --reason, also the reason. An
# error reply: its name and message. FILE may be a folder (passed open for reading, as an application's
# mistake would) or wronly:PATH (PATH open for writing only).
import locale
import os
import sys

import dbus

args = sys.argv[1:]
reasons = args[:1] == ["--reason"]
if reasons:
    args = args[1:]
try:
    locale.setlocale(locale.LC_ALL, "")
except locale.Error:
    pass
options = dbus.Dictionary({"locale": locale.setlocale(locale.LC_MESSAGES)}, signature="sv")
agent = dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1")
sig = args[1] if len(args) > 1 else "/dev/null"
if args[0].startswith("wronly:"):
    doc = os.open(args[0][len("wronly:"):], os.O_WRONLY)
else:
    doc = os.open(args[0], os.O_RDONLY)  # not open(): it refuses a folder
with open(sig, "rb") as signature:
    try:
        sigs = agent.Verify(dbus.types.UnixFd(doc), dbus.types.UnixFd(signature), options,
                            dbus_interface="org.kyso.Agent1", timeout=120)
    except dbus.DBusException as e:
        print(e.get_dbus_name(), e.get_dbus_message())
        sys.exit(1)
for s in sigs:
    if reasons:
        print(s["reason"])
    if s["format"] == "pdf":
        print(bool(s["valid"]), s["problem"], s["level"], int(s["revision"]), bool(s.get("competent-person", False)))
    else:
        print(bool(s["valid"]), s["format"], s["level"], bool(s.get("competent-person", False)))
