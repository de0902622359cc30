# SPDX-License-Identifier: LGPL-2.1-or-later
# fake_service.py: what every stand-in D-Bus service of the tests (tests/agent/fake-notifications.py,
# tests/tools/fake-agent.py) does around its object: own the well-known name on the session bus, export the
# object, tell the test it is ready, and serve until the test kills it.
import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib


def serve(bus_name, object_class, path):
    """Owns bus_name, exports object_class(bus, path), prints "ready" once both are done (the test waits
    for that line before it calls), and runs the main loop for good."""
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    # Kept referenced: the name is released when this object goes away.
    name = dbus.service.BusName(bus_name, bus)  # noqa: F841
    object_class(bus, path)
    print("ready", flush=True)
    GLib.MainLoop().run()
