#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A test application that registers an org.kyso.Prompter1 object with kysod and answers its calls from a
# script, on the same connection that makes the signing request (the only one whose prompts it gets):
#   prompter-client.py [--no-register] [--path P] [--sign CERT ROLE DOC OUT] [--stay S] ANSWER...
# Each Confirm/AskPin/ShowPinpad call takes the next ANSWER:
#   yes | no | cancel                 that answer (AskPin: with an empty PIN, except yes:PIN)
#   yes:PIN                           AskPin: "yes" and PIN
#   hang                              no answer (waits for the agent's Cancel or the Response)
#   vanish                            the process exits at once, mid-call
#   unregister                        calls UnregisterPrompter, no answer
#   cancel-request                    calls Cancel on its own request, no answer
#   wrong                             an answer of the wrong type (a boolean; AskPin: one string)
#   error:NAME                        an error reply NAME
# Prints one line per event: "call Confirm {json args}", "call AskPin {...}", "cancel" (the agent's Cancel),
# "response CODE ERROR MESSAGE", "registered", "register-error NAME MESSAGE"; exits after the Response (or
# after --stay seconds without --sign). --check-registration runs the RegisterPrompter error cases instead.
import argparse
import json
import os
import sys

import dbus
import dbus.lowlevel
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

AGENT = "org.kyso.Agent1"
AGENT_PATH = "/org/kyso/Agent1"
PROMPTER = "org.kyso.Prompter1"


def out(*words):
    print(*words, flush=True)


parser = argparse.ArgumentParser()
parser.add_argument("--no-register", action="store_true")
parser.add_argument("--path", default="/org/example/Prompter")
parser.add_argument("--sign", nargs=4, metavar=("CERT", "ROLE", "DOC", "OUT"))
parser.add_argument("--stay", type=float, default=0)
parser.add_argument("--check-registration", action="store_true")
parser.add_argument("answers", nargs="*")
args = parser.parse_args()

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
agent = dbus.Interface(bus.get_object(AGENT, AGENT_PATH), AGENT)
loop = GLib.MainLoop()
answers = list(args.answers)
state = {"request": None}


def call_error(e):
    out("call-error", e.get_dbus_name(), e.get_dbus_message())


class Prompter(dbus.service.Object):
    def next_answer(self):
        return answers.pop(0) if answers else "hang"

    def act(self, answer, reply, error, ok):
        """Carries out answer; ok(words) replies for plain answers."""
        if answer == "hang":
            return
        if answer == "vanish":
            out("vanishing")
            os._exit(0)
        if answer == "unregister":
            agent.UnregisterPrompter(dbus.ObjectPath(args.path), reply_handler=lambda: out("unregistered"),
                                     error_handler=call_error)
            return
        if answer == "cancel-request":
            req = dbus.Interface(bus.get_object(AGENT, state["request"]), "org.kyso.Request1")
            req.Cancel(reply_handler=lambda: out("cancelled-request"), error_handler=call_error)
            return
        if answer.startswith("error:"):
            error(dbus.exceptions.DBusException("The test says no", name=answer[len("error:"):]))
            return
        ok(answer)

    @dbus.service.method(PROMPTER, in_signature="ssua(sts)sssxsb", out_signature="s",
                         async_callbacks=("reply", "error"), message_keyword="call")
    def Confirm(self, app_name, executable, pid, documents, holder, organization, kind, not_after, role,
                final_try, reply, error, call):
        out("call Confirm", json.dumps({
            "app_name": app_name, "executable": executable, "pid": int(pid), "client_pid": os.getpid(),
            "documents": [{"name": str(n), "size": int(s), "sha256": str(h)} for n, s, h in documents],
            "cert_holder": holder, "cert_organization": organization, "cert_kind": kind,
            "cert_not_after": int(not_after), "role": role, "final_try": bool(final_try)}, ensure_ascii=False))
        answer = self.next_answer()
        if answer == "wrong":
            # dbus-python checks out_signature: send the wrong type with a raw reply instead.
            msg = dbus.lowlevel.MethodReturnMessage(call)
            msg.append(True, signature="b")
            bus.send_message(msg)
            return
        self.act(answer, reply, error, lambda a: reply(a))

    @dbus.service.method(PROMPTER, in_signature="ssib", out_signature="ss", async_callbacks=("reply", "error"),
                         message_keyword="call")
    def AskPin(self, token_label, pin_state, tries_left, previous_wrong, reply, error, call):
        out("call AskPin", json.dumps({"token_label": token_label, "pin_state": pin_state,
                                       "tries_left": int(tries_left), "previous_wrong": bool(previous_wrong)}))
        answer = self.next_answer()
        if answer == "wrong":
            msg = dbus.lowlevel.MethodReturnMessage(call)
            msg.append("1111", signature="s")
            bus.send_message(msg)
            return
        self.act(answer, reply, error, lambda a: reply(*(a.split(":", 1) if ":" in a else (a, ""))))

    @dbus.service.method(PROMPTER, in_signature="s", out_signature="s", async_callbacks=("reply", "error"))
    def ShowPinpad(self, token_label, reply, error):
        out("call ShowPinpad", json.dumps({"token_label": token_label}))
        self.act(self.next_answer(), reply, error, lambda a: reply(a))

    @dbus.service.method(PROMPTER, in_signature="", out_signature="")
    def Cancel(self):
        out("cancel")


def error_name(fn, *a):
    try:
        fn(*a)
        return "ok"
    except dbus.exceptions.DBusException as e:
        return f"{e.get_dbus_name()} {e.get_dbus_message()}"


if args.check_registration:
    path = dbus.ObjectPath(args.path)
    out("register", error_name(agent.RegisterPrompter, path))
    out("register-again", error_name(agent.RegisterPrompter, path))
    out("register-other-path", error_name(agent.RegisterPrompter, dbus.ObjectPath("/org/example/Other")))
    out("unregister-other-path", error_name(agent.UnregisterPrompter, dbus.ObjectPath("/org/example/Other")))
    out("register-string", error_name(lambda: bus.call_blocking(AGENT, AGENT_PATH, AGENT, "RegisterPrompter",
                                                                "s", ["/org/example/Prompter"])))
    out("register-nothing", error_name(lambda: bus.call_blocking(AGENT, AGENT_PATH, AGENT, "RegisterPrompter",
                                                                 "", [])))
    out("unregister", error_name(agent.UnregisterPrompter, path))
    out("unregister-again", error_name(agent.UnregisterPrompter, path))
    out("register-after-unregister", error_name(agent.RegisterPrompter, path))
    sys.exit(0)

prompter = Prompter(bus, args.path)
if not args.no_register:
    try:
        agent.RegisterPrompter(dbus.ObjectPath(args.path))
        out("registered")
    except dbus.exceptions.DBusException as e:
        out("register-error", e.get_dbus_name(), e.get_dbus_message())
        sys.exit(1)

if args.sign:
    cert, role, doc, output = args.sign
    token = f"prompter_{os.getpid()}"
    state["request"] = "/org/kyso/Agent1/request/%s/%s" % (
        "".join(c if c.isalnum() else "_" for c in bus.get_unique_name().lstrip(":")), token)

    def on_response(code, results):
        out("response", int(code), str(results.get("error", "-")), str(results.get("message", "-")))
        loop.quit()
    bus.add_signal_receiver(on_response, signal_name="Response", dbus_interface="org.kyso.Request1",
                            path=state["request"])

    def on_reply(path):
        if path != state["request"]:
            out("unexpected-path", path)

    def on_sign_error(e):
        call_error(e)
        loop.quit()
    agent.Sign(dbus.types.UnixFd(open(doc, "rb")), dbus.types.UnixFd(open(output, "wb")), cert, role,
               dbus.Dictionary({"handle_token": token}, signature="sv"), reply_handler=on_reply,
               error_handler=on_sign_error)
    GLib.timeout_add_seconds(120, loop.quit)
else:
    GLib.timeout_add(int(args.stay * 1000), loop.quit)
loop.run()
