#!/usr/bin/env python3
# introspect-normalize.py [FILE]: prints the org.kyso.* interfaces of a D-Bus introspection document (FILE or
# stdin) as sorted canonical lines, so the agent's Introspect reply and dbus/org.kyso.Agent1.xml compare
# regardless of formatting, comments and the standard interfaces.
import sys
import xml.etree.ElementTree as ET

text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 else sys.stdin.read()
root = ET.fromstring(text)
lines = []
for iface in root.findall("interface"):
    name = iface.get("name")
    if not name.startswith("org.kyso."):
        continue
    members = []
    for member in iface:
        kind = member.tag
        args = []
        for a in member.findall("arg"):
            direction = a.get("direction") or ("out" if kind == "signal" else "in")
            args.append(f"{direction}:{a.get('name')}:{a.get('type')}")
        extra = ""
        if kind == "property":
            extra = f" {member.get('type')} {member.get('access')}"
        annotations = sorted(f"@{x.get('name')}={x.get('value')}" for x in member.findall("annotation"))
        members.append(f"  {kind} {name}.{member.get('name')}({', '.join(args)}){extra} {' '.join(annotations)}".rstrip())
    lines.append(f"interface {name}")
    lines.extend(sorted(members))
print("\n".join(lines))
