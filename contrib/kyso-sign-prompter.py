#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An example document application that signs a file through kysod and shows the approval and PIN prompts
itself, in the terminal, instead of pinentry (org.kyso.Prompter1, see kysod(8)).

    kyso-sign-prompter.py --cert URI [--role ROLE] INPUT OUTPUT

It registers its prompter and makes the Sign request on the same bus connection: kysod sends a connection's
prompts only to the prompter that connection registered. Needs python3-dbus and python3-gi. When standard
input is not a terminal, the answers are read from it, one per line (for scripts and tests).
"""
import argparse
import datetime
import getpass
import os
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

AGENT, AGENT_PATH = "org.kyso.Agent1", "/org/kyso/Agent1"
PROMPTER_PATH = "/org/kyso/example/Prompter"


def ask(question, secret=False):
    if sys.stdin.isatty():
        return getpass.getpass(question) if secret else input(question)
    print(question, flush=True)
    return sys.stdin.readline().rstrip("\n")


class TerminalPrompter(dbus.service.Object):
    """org.kyso.Prompter1 on the terminal. Each call blocks until the person answers: fine for a terminal
    tool; a graphical application would open a dialog and answer from its callback (async_callbacks)."""

    @dbus.service.method("org.kyso.Prompter1", in_signature="ssua(sts)sssxsb", out_signature="s")
    def Confirm(self, app_name, executable, pid, documents, holder, organization, kind, not_after, role,
                final_try):
        expiry = datetime.date.fromtimestamp(not_after).isoformat() if not_after else "unknown"
        print(f"\n{app_name} ({executable}, pid {pid}) asks to sign, as {role}:")
        for name, size, sha256 in documents:
            print(f"  {name}  {size} bytes  SHA-256 {sha256[:16]}")
        print(f"with the {kind} certificate of {holder or 'unknown'}, {organization or 'unknown'}, "
              f"valid until {expiry}.")
        if final_try:
            print("WARNING: the next wrong PIN locks the token. Answer 'yes' only if you are sure of the PIN.")
            return "yes" if ask("Use the last PIN try? [yes/no] ").strip().lower() == "yes" else "no"
        return "yes" if ask("Sign? [y/N] ").strip().lower() in ("y", "yes") else "no"

    @dbus.service.method("org.kyso.Prompter1", in_signature="ssib", out_signature="ss")
    def AskPin(self, token_label, pin_state, tries_left, previous_wrong):
        if previous_wrong:
            print("The PIN was wrong." + (f" {tries_left} tries left." if tries_left >= 0 else ""))
        if pin_state != "ok":
            print(f"The token's PIN state: {pin_state}.")
        pin = ask(f"PIN of token '{token_label}' (empty to cancel): ", secret=True)
        return ("yes", pin) if pin else ("cancel", "")

    @dbus.service.method("org.kyso.Prompter1", in_signature="s", out_signature="s")
    def ShowPinpad(self, token_label):
        print(f"Type the PIN of token '{token_label}' on the card reader's keypad.")
        return "yes"

    @dbus.service.method("org.kyso.Prompter1", in_signature="", out_signature="")
    def Cancel(self):
        print("(the agent closed the prompt)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="the certificate's PKCS#11 URI (kysoctl certs)")
    parser.add_argument("--role", default="approve", help="approve, issue, copy, appendix or personal")
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    agent = dbus.Interface(bus.get_object(AGENT, AGENT_PATH), AGENT)
    loop = GLib.MainLoop()
    result = {"code": 2}

    TerminalPrompter(bus, PROMPTER_PATH)
    agent.RegisterPrompter(dbus.ObjectPath(PROMPTER_PATH))

    # Subscribe to Response before the request can finish: the handle_token fixes the request's path.
    token = f"example_{os.getpid()}"
    sender = "".join(c if c.isalnum() else "_" for c in bus.get_unique_name().lstrip(":"))
    request_path = f"/org/kyso/Agent1/request/{sender}/{token}"

    def on_response(code, results):
        result["code"] = int(code)
        if code != 0:
            print(f"Not signed: {results.get('message', '')} ({results.get('error', '')})", file=sys.stderr)
        loop.quit()

    def on_error(e):
        print(f"Not signed: {e.get_dbus_message()} ({e.get_dbus_name()})", file=sys.stderr)
        loop.quit()

    bus.add_signal_receiver(on_response, signal_name="Response", dbus_interface="org.kyso.Request1",
                            path=request_path)
    with open(args.input, "rb") as doc, open(args.output, "wb") as out:
        agent.Sign(dbus.types.UnixFd(doc), dbus.types.UnixFd(out), args.cert, args.role,
                   dbus.Dictionary({"handle_token": token}, signature="sv"),
                   reply_handler=lambda path: None, error_handler=on_error)
        loop.run()
    agent.UnregisterPrompter(dbus.ObjectPath(PROMPTER_PATH))
    if result["code"] == 0:
        print(f"Signed: {args.output}")
    return 0 if result["code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
