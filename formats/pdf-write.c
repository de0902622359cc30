/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stub: the contract is in pdf-write.h; the implementation follows. */
#include "pdf-write.h"
