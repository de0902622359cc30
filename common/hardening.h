/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Process hardening for processes that touch PINs or keys: no core dumps, not ptrace-attachable by the
 * same user, no new privileges. */

int harden_process(void);
