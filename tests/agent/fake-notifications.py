#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# fake-notifications.py OUT: a stand-in for the desktop's org.freedesktop.Notifications on a private bus.
# Appends one JSON line per Notify call to OUT (app_name, summary, body, urgency) and answers with an id.
import json
import os
import sys

import dbus
import dbus.service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fake_service  # noqa: E402

IFACE = "org.freedesktop.Notifications"


class Notifications(dbus.service.Object):
    next_id = 1

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, app_icon, summary, body, actions, hints, expire_timeout):
        with open(sys.argv[1], "a", encoding="utf-8") as f:
            print(json.dumps({"app_name": str(app_name), "summary": str(summary), "body": str(body),
                              "urgency": int(hints.get("urgency", -1))}, ensure_ascii=False), file=f)
        Notifications.next_id += 1
        return dbus.UInt32(Notifications.next_id)

    @dbus.service.method(IFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body"]


fake_service.serve(IFACE, Notifications, "/org/freedesktop/Notifications")
