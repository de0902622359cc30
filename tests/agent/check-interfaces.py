#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-interfaces.py ADDRESS CERT_URI WORKDIR XML...: checks a running kysod against the interface XML of
# dbus/ (the contract), so that the XML and the agent's dispatch cannot drift apart unnoticed:
#   - each object introspects exactly the org.kyso interfaces it implements, with the members of the XML:
#     /org/kyso/Agent1 org.kyso.Agent1, a request object org.kyso.Request1;
#   - every method of the XML, called on its object with arguments of a wrong signature, gets exactly
#     org.kyso.Error.InvalidArgs (not UnknownMethod: the method is dispatched; not the freedesktop name: kyso's
#     own methods answer kyso's errors), and called with the right ones, answers with the out signature of
#     the XML;
#   - the standard interfaces keep the freedesktop names: Introspect with arguments gets exactly
#     org.freedesktop.DBus.Error.InvalidArgs, Peer.Ping answers;
#   - a method of an interface the object does not implement gets UnknownMethod there.
# A request object comes from SignBatch with more_documents (it waits for AddDocuments, so it stays alive).
# Prints one line per check, "ok DESCRIPTION" or "not ok DESCRIPTION", then "# detail" lines.
import os
import sys
import xml.etree.ElementTree as ET

import dbus
import dbus.lowlevel

address, cert_uri, workdir = sys.argv[1:4]
xml_files = sys.argv[4:]
AGENT = "org.kyso.Agent1"
AGENT_PATH = "/org/kyso/Agent1"
INVALID_ARGS = "org.kyso.Error.InvalidArgs"
STANDARD_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"


def interfaces_of(text):
    """{interface: {member line}} of the org.kyso interfaces of an introspection document."""
    out = {}
    for iface in ET.fromstring(text).findall("interface"):
        name = iface.get("name")
        if not name.startswith("org.kyso."):
            continue
        members = set()
        for m in iface:
            args = ",".join(f"{a.get('direction') or ('out' if m.tag == 'signal' else 'in')}:{a.get('type')}"
                            for a in m.findall("arg"))
            members.add(f"{m.tag} {m.get('name')}({args})")
        out[name] = members
    return out


def methods_of(text):
    """{interface: {method: (in signature, out signature)}} of an introspection document."""
    out = {}
    for iface in ET.fromstring(text).findall("interface"):
        ms = {}
        for m in iface.findall("method"):
            ins = "".join(a.get("type") for a in m.findall("arg") if (a.get("direction") or "in") == "in")
            outs = "".join(a.get("type") for a in m.findall("arg") if a.get("direction") == "out")
            ms[m.get("name")] = (ins, outs)
        out[iface.get("name")] = ms
    return out


contract = {}
contract_methods = {}
for f in xml_files:
    text = open(f, encoding="utf-8").read()
    contract.update(interfaces_of(text))
    contract_methods.update(methods_of(text))

failed = 0


def report(good, desc, detail=""):
    global failed
    print(("ok " if good else "not ok ") + desc)
    if not good:
        failed += 1
        for line in str(detail).splitlines():
            print("# " + line)
    sys.stdout.flush()


bus = dbus.bus.BusConnection(address)


def call(path, iface, method, sig, args, timeout=10):
    """The reply message, or the DBusException."""
    msg = dbus.lowlevel.MethodCallMessage(AGENT, path, iface, method)
    if sig:
        msg.append(*args, signature=sig)
    try:
        return bus.send_message_with_reply_and_block(msg, timeout)
    except dbus.exceptions.DBusException as e:
        return e


def introspect(path):
    r = call(path, "org.freedesktop.DBus.Introspectable", "Introspect", "", [])
    return r.get_args_list()[0] if isinstance(r, dbus.lowlevel.Message) else None


def fd(name, mode):
    return dbus.types.UnixFd(open(os.path.join(workdir, name), mode))


# A request object that stays: SignBatch of one document with more_documents, waiting for AddDocuments.
with open(os.path.join(workdir, "doc.txt"), "w") as f:
    f.write("check-interfaces\n")
batch = call(AGENT_PATH, AGENT, "SignBatch", "ahahssa{sv}",
             [[fd("doc.txt", "rb")], [fd("out.p7s", "wb")], cert_uri, "approve",
              dbus.Dictionary({"more_documents": dbus.Boolean(True), "handle_token": "check_interfaces"},
                              signature="sv")])
if not isinstance(batch, dbus.lowlevel.Message):
    report(False, "SignBatch with more_documents gives a request object", batch)
    sys.exit(1)
request_path = batch.get_args_list()[0]

# A PDF without signatures, for Verify (its signatures: none).
sys.path.insert(0, os.path.join(os.environ["KYSO_SOURCE_ROOT"], "tests", "signing"))
__import__("make-pdf").new(os.path.join(workdir, "doc.pdf"), "check-interfaces")

# How each object is called correctly: arguments per method (a method of the XML missing here fails).
prompter_path = dbus.ObjectPath("/org/kyso/test/CheckInterfaces")
valid_args = {
    ("org.kyso.Agent1", "GetTokens"): [],
    ("org.kyso.Agent1", "GetCertificates"): [dbus.Dictionary({"locale": "C"}, signature="sv")],
    # A second request object, with a document and output of its own; cancelled below.
    ("org.kyso.Agent1", "Sign"): lambda: [fd("doc.txt", "rb"), fd("out2.p7s", "wb"), cert_uri, "approve",
                                          dbus.Dictionary({"handle_token": "check_sign"}, signature="sv")],
    ("org.kyso.Agent1", "SignBatch"): lambda: [[fd("doc.txt", "rb")], [fd("out3.p7s", "wb")], cert_uri, "approve",
                                               dbus.Dictionary({"handle_token": "check_batch"}, signature="sv")],
    ("org.kyso.Agent1", "Verify"): lambda: [fd("doc.pdf", "rb"), dbus.types.UnixFd(open(os.devnull, "rb")),
                                            dbus.Dictionary({"locale": "C"}, signature="sv")],
    ("org.kyso.Agent1", "RegisterPrompter"): [prompter_path],
    ("org.kyso.Agent1", "UnregisterPrompter"): [prompter_path],  # after RegisterPrompter (order below)
    ("org.kyso.Request1", "AddDocuments"): [dbus.Array([], signature="h"), dbus.Array([], signature="h"),
                                            dbus.Array([], signature="h"), dbus.Boolean(False)],
    ("org.kyso.Request1", "Cancel"): [],  # last: it ends the request
}
objects = {AGENT_PATH: {"org.kyso.Agent1"}, request_path: {"org.kyso.Request1"}}
order = ["GetTokens", "GetCertificates", "Sign", "SignBatch", "Verify", "RegisterPrompter", "UnregisterPrompter",
         "AddDocuments", "Cancel"]

for path, implemented in objects.items():
    what = "the agent object" if path == AGENT_PATH else "a request object"
    xml = introspect(path)
    if xml is None:
        report(False, f"Introspect of {what} answers")
        continue
    seen = interfaces_of(xml)
    report(set(seen) == implemented, f"Introspect of {what} lists exactly the org.kyso interfaces it implements "
           f"({', '.join(sorted(implemented))})", f"listed: {sorted(seen)}")
    for iface in sorted(implemented & set(seen)):
        report(seen[iface] == contract.get(iface), f"Introspect of {what}: {iface} as in the XML",
               "only in Introspect: %s\nonly in the XML: %s" % (sorted(seen[iface] - contract.get(iface, set())),
                                                                 sorted(contract.get(iface, set()) - seen[iface])))
    for iface in ("org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Peer"):
        report(f'interface name="{iface}"' in xml, f"Introspect of {what} lists {iface}")

# Wrong arguments: InvalidArgs, for every method of the XML on the object that implements it; elsewhere
# UnknownMethod.
for path, implemented in objects.items():
    what = "the agent object" if path == AGENT_PATH else "a request object"
    for iface, methods in sorted(contract_methods.items()):
        if not iface.startswith("org.kyso.") or iface == "org.kyso.Prompter1":
            continue
        for method, (ins, outs) in sorted(methods.items()):
            wrong_sig, wrong_args = ("s", ["wrong"]) if ins != "s" else ("u", [dbus.UInt32(7)])
            r = call(path, iface, method, wrong_sig, wrong_args)
            name = r.get_dbus_name() if isinstance(r, dbus.exceptions.DBusException) else "a method return"
            if iface in implemented:
                report(name == INVALID_ARGS, f"{iface}.{method} on {what} with arguments '{wrong_sig}' "
                       f"instead of '{ins}': InvalidArgs", f"got {name}: {getattr(r, 'get_dbus_message', str)()}")
            else:
                report(name == UNKNOWN_METHOD, f"{iface}.{method} on {what}, which does not implement "
                       f"{iface}: UnknownMethod", f"got {name}")

# The standard interfaces answer with the freedesktop names, on every object.
for path in objects:
    what = "the agent object" if path == AGENT_PATH else "a request object"
    r = call(path, "org.freedesktop.DBus.Introspectable", "Introspect", "s", ["wrong"])
    name = r.get_dbus_name() if isinstance(r, dbus.exceptions.DBusException) else "a method return"
    report(name == STANDARD_INVALID_ARGS, f"Introspect on {what} with arguments 's': {STANDARD_INVALID_ARGS}",
           f"got {name}")
    r = call(path, "org.freedesktop.DBus.Peer", "Ping", "", [])
    report(isinstance(r, dbus.lowlevel.Message), f"Peer.Ping on {what} answers", r)

# Right arguments: the out signature of the XML.
for method in order:
    for iface, methods in sorted(contract_methods.items()):
        if method not in methods or iface == "org.kyso.Prompter1":
            continue
        ins, outs = methods[method]
        path = AGENT_PATH if iface == "org.kyso.Agent1" else request_path
        args = valid_args.get((iface, method))
        if args is None:
            report(False, f"{iface}.{method}: the test knows how to call it", "add it to valid_args")
            continue
        if callable(args):
            args = args()
        r = call(path, iface, method, ins, args)
        if isinstance(r, dbus.exceptions.DBusException):
            report(False, f"{iface}.{method}({ins}) answers with '{outs}'", f"{r.get_dbus_name()}: {r.get_dbus_message()}")
            continue
        report(r.get_signature() == outs, f"{iface}.{method}({ins}) answers with '{outs}'",
               f"got '{r.get_signature()}'")
        if method in ("Sign", "SignBatch"):
            call(r.get_args_list()[0], "org.kyso.Request1", "Cancel", "", [])
for method in contract_methods.get("org.kyso.Agent1", {}):
    if method not in order:
        report(False, f"org.kyso.Agent1.{method}: the test calls it in order", "add it to order")
for method in contract_methods.get("org.kyso.Request1", {}):
    if method not in order:
        report(False, f"org.kyso.Request1.{method}: the test calls it in order", "add it to order")
sys.exit(1 if failed else 0)
