/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* The serving side of kyso-p11-helper: loads one PKCS#11 module and answers protocol requests on a socket,
 * one at a time, until the socket closes. It holds the sessions and never sees documents, only digests. */

/* Returns 0 when the peer closed the socket, a negative errno on a fatal error. */
int p11_helper_run(int fd, const char *module_path);
