/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "bus-append.h"
#include "dbus-introspect.h"
#include "macro.h"

const char kyso_agent1_interface_xml[] =
#include "dbus/org.kyso.Agent1.xml.h"
        ;
const char kyso_request1_interface_xml[] =
#include "dbus/org.kyso.Request1.xml.h"
        ;

static const char standard_interfaces_xml[] =
        "  <interface name=\"org.freedesktop.DBus.Introspectable\">\n"
        "    <method name=\"Introspect\">\n"
        "      <arg name=\"xml_data\" type=\"s\" direction=\"out\"/>\n"
        "    </method>\n"
        "  </interface>\n"
        "  <interface name=\"org.freedesktop.DBus.Peer\">\n"
        "    <method name=\"Ping\"/>\n"
        "    <method name=\"GetMachineId\">\n"
        "      <arg name=\"machine_uuid\" type=\"s\" direction=\"out\"/>\n"
        "    </method>\n"
        "  </interface>\n";

/* The span from the first "<interface" to the end of the last "</interface>" of doc. */
static int interfaces_span(const char *doc, const char **ret_start, size_t *ret_len) {
        const char *start = strstr(doc, "<interface"), *end = NULL;

        if (!start)
                return -EINVAL;
        for (const char *p = start; (p = strstr(p, "</interface>")); p++)
                end = p;
        if (!end)
                return -EINVAL;
        *ret_start = start;
        *ret_len = (size_t) (end - start) + strlen("</interface>");
        return 0;
}

char *dbus_introspect_document(const char *const *interface_docs, const char *const *children) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fputs("<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
              " \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n"
              "<node>\n",
              f);
        for (const char *const *d = interface_docs; d && *d; d++) {
                const char *start;
                size_t len;

                if (interfaces_span(*d, &start, &len) < 0) {
                        fclose(f);
                        return NULL;
                }
                fprintf(f, "  %.*s\n", (int) len, start);
        }
        fputs(standard_interfaces_xml, f);
        for (const char *const *c = children; c && *c; c++)
                fprintf(f, "  <node name=\"%s\"/>\n", *c);
        fputs("</node>\n", f);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

DBusMessage *
dbus_introspect_reply(DBusMessage *call, const char *const *interface_docs, const char *const *children) {
        _cleanup_free_ char *xml = dbus_introspect_document(interface_docs, children);
        DBusMessage *reply;

        if (!xml)
                return NULL;
        reply = dbus_message_new_method_return(call);
        if (reply && bus_message_append_strings(reply, xml, NULL) < 0) {
                dbus_message_unref(reply);
                return NULL;
        }
        return reply;
}
