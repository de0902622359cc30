#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A stand-in for kysod on a private bus, for kysoctl's side of the signing protocol: Sign answers with the
# request's path (from handle_token) and emits that request's Response at once, BEFORE the method's reply,
# as a fast agent may when the reply and the signal cross. A client that subscribed with handle_token must
# still get it. Response: code 2, error PolicyDenied, message "fake agent: refused". GetCertificates lists two
# usable personal certificates.
# With FAKE_AGENT_STALL=1, Sign instead writes the start of a signature into the output it was given, says
# "writing" on its standard output and answers nothing more: kysoctl waits, as for a slow token, and the
# test can kill it while its output is being written.
import os
import sys

import dbus
import dbus.service

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fake_service  # noqa: E402

IFACE = "org.kyso.Agent1"


def certificate(obj, name):
    return dbus.Dictionary({
        "uri": dbus.String("pkcs11:token=t;object=%s;type=cert" % obj),
        "kind": dbus.String("personal"), "status": dbus.String("valid"),
        "subject": dbus.String("CN=%s,O=UBND phường Uông Bí" % name),
        "has-private-key": dbus.Boolean(True), "usable-for-signing": dbus.Boolean(True),
        "reason": dbus.String("")}, signature="sv")


class Agent(dbus.service.Object):
    # Two usable personal certificates: kysoctl sign without --cert lists them and refuses.
    @dbus.service.method(IFACE, in_signature="a{sv}", out_signature="aa{sv}")
    def GetCertificates(self, options):
        return dbus.Array([certificate("an", "Nguyễn Văn An"), certificate("binh", "Trần Thị Bình")],
                          signature="a{sv}")

    @dbus.service.method(IFACE, in_signature="hhssa{sv}", out_signature="o", sender_keyword="sender")
    def Sign(self, doc, out, cert, role, options, sender=None):
        token = str(options.get("handle_token", "t"))
        path = "/org/kyso/Agent1/request/%s/%s" % (sender[1:].replace(".", "_"), token)
        if os.environ.get("FAKE_AGENT_STALL") == "1":
            os.write(out.take(), b"0\x82")
            print("writing", flush=True)
            return dbus.ObjectPath(path)
        path = "/org/kyso/Agent1/request/%s/%s" % (sender[1:].replace(".", "_"), token)
        message = dbus.lowlevel.SignalMessage(path, "org.kyso.Request1", "Response")
        message.set_destination(sender)
        message.append(dbus.UInt32(2), dbus.Dictionary({
            "error": dbus.String("org.kyso.Error.PolicyDenied"),
            "message": dbus.String("fake agent: refused"),
            "documents": dbus.Array([dbus.Dictionary({
                "name": dbus.String("doc"), "status": dbus.String("denied"), "sha256": dbus.String(""),
                "error": dbus.String("org.kyso.Error.PolicyDenied"),
                "message": dbus.String("fake agent: refused")}, signature="sv")], signature="a{sv}"),
        }, signature="sv"), signature="ua{sv}")
        self.connection.send_message(message)
        self.connection.flush()
        return dbus.ObjectPath(path)


fake_service.serve(IFACE, Agent, "/org/kyso/Agent1")
