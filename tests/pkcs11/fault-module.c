/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A PKCS#11 module for tests that wraps a real one (SoftHSM) and misbehaves on command: tokens vanish and
 * come back, a chosen call aborts, hangs or is slow. The real module is $KYSO_FAULT_REAL_MODULE; the
 * commands are read from the file $KYSO_FAULT_CONTROL before every call (README.md). When
 * $KYSO_FAULT_SOFTHSM2_CONF is set it becomes SOFTHSM2_CONF of this process, so this module can show other
 * tokens than a plain SoftHSM loaded beside it. It can also pose as a reader with a PIN pad, and records
 * every C_Login and C_Logout in $KYSO_FAULT_LOG, so tests can count how often the person would type the PIN.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST wrapped;
static unsigned long generation; /* bumped at each removal: older sessions are dead */
static bool removed;

#define MAX_SESSIONS 1024
static struct {
        CK_SESSION_HANDLE handle;
        unsigned long generation;
} sessions[MAX_SESSIONS];

typedef struct Control {
        bool removed;
        char abort_call[64];
        char hang_call[64];
        char fail_call[64];
        char slow_call[64];
        unsigned slow_ms;
        CK_FLAGS pin_flags;  /* "pin count-low|final-try|locked": added to the token's flags */
        char pinpad_pin[64]; /* "pinpad PIN": the PIN the person types on the reader; empty: no PIN pad */
} Control;

static void control_read(Control *c) {
        const char *path = getenv("KYSO_FAULT_CONTROL");
        char line[256];
        FILE *f;

        memset(c, 0, sizeof(*c));
        if (!path || !(f = fopen(path, "re")))
                return;
        while (fgets(line, sizeof(line), f)) {
                char cmd[32] = "", arg[64] = "";
                unsigned ms = 0;
                if (sscanf(line, "%31s %63s %u", cmd, arg, &ms) < 1)
                        continue;
                if (strcmp(cmd, "remove") == 0)
                        c->removed = true;
                else if (strcmp(cmd, "insert") == 0)
                        c->removed = false;
                else if (strcmp(cmd, "abort") == 0)
                        snprintf(c->abort_call, sizeof(c->abort_call), "%s", arg);
                else if (strcmp(cmd, "hang") == 0)
                        snprintf(c->hang_call, sizeof(c->hang_call), "%s", arg);
                else if (strcmp(cmd, "fail") == 0)
                        snprintf(c->fail_call, sizeof(c->fail_call), "%s", arg);
                else if (strcmp(cmd, "pin") == 0)
                        c->pin_flags = strcmp(arg, "count-low") == 0   ? CKF_USER_PIN_COUNT_LOW
                                       : strcmp(arg, "final-try") == 0 ? CKF_USER_PIN_FINAL_TRY
                                       : strcmp(arg, "locked") == 0    ? CKF_USER_PIN_LOCKED
                                                                       : 0;
                else if (strcmp(cmd, "pinpad") == 0)
                        snprintf(c->pinpad_pin, sizeof(c->pinpad_pin), "%s", arg);
                else if (strcmp(cmd, "slow") == 0) {
                        snprintf(c->slow_call, sizeof(c->slow_call), "%s", arg);
                        c->slow_ms = ms;
                }
        }
        fclose(f);
}

/* Applies the faults for one call; returns whether the tokens are "removed". */
static bool fault(const char *call) {
        Control c;

        control_read(&c);
        if (strcmp(c.abort_call, call) == 0)
                abort();
        if (strcmp(c.hang_call, call) == 0)
                for (;;)
                        pause();
        if (strcmp(c.slow_call, call) == 0 && c.slow_ms > 0) {
                struct timespec ts = { c.slow_ms / 1000, (long) (c.slow_ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0)
                        ;
                /* The token may have been pulled meanwhile: that is what a slow call is for. */
                control_read(&c);
        }
        if (c.removed && !removed) {
                /* Like a pulled token: every session and the login state are gone. */
                CK_SLOT_ID slots[64];
                CK_ULONG n = 64;
                generation++;
                if (real->C_GetSlotList(CK_FALSE, slots, &n) == CKR_OK)
                        for (CK_ULONG i = 0; i < n; i++)
                                (void) real->C_CloseAllSessions(slots[i]);
        }
        removed = c.removed;
        return removed;
}

static bool session_stale(CK_SESSION_HANDLE h) {
        for (size_t i = 0; i < MAX_SESSIONS; i++)
                if (sessions[i].handle == h)
                        return sessions[i].generation != generation;
        return false;
}

static void session_remember(CK_SESSION_HANDLE h) {
        for (size_t i = 0; i < MAX_SESSIONS; i++)
                if (sessions[i].handle == 0 || sessions[i].handle == h) {
                        sessions[i].handle = h;
                        sessions[i].generation = generation;
                        return;
                }
}

#define SESSION_CALL(name, h)                              \
        do {                                               \
                if (fault(#name))                          \
                        return CKR_DEVICE_REMOVED;         \
                if (session_stale(h))                      \
                        return CKR_SESSION_HANDLE_INVALID; \
        } while (0)

static CK_RV w_C_Initialize(CK_VOID_PTR args) {
        Control c;

        (void) fault("C_Initialize");
        /* A module that never loads (no reader service, a broken installation). */
        control_read(&c);
        if (strcmp(c.fail_call, "C_Initialize") == 0)
                return CKR_GENERAL_ERROR;
        return real->C_Initialize(args);
}

static CK_RV w_C_Finalize(CK_VOID_PTR r) {
        (void) fault("C_Finalize");
        return real->C_Finalize(r);
}

static CK_RV w_C_GetInfo(CK_INFO_PTR info) {
        (void) fault("C_GetInfo");
        return real->C_GetInfo(info);
}

static CK_RV w_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count) {
        if (fault("C_GetSlotList") && present) {
                *count = 0;
                return CKR_OK;
        }
        return real->C_GetSlotList(present, list, count);
}

static CK_RV w_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
        bool gone = fault("C_GetSlotInfo");
        CK_RV rv = real->C_GetSlotInfo(slot, info);
        if (rv == CKR_OK && gone)
                info->flags &= ~(CK_FLAGS) CKF_TOKEN_PRESENT;
        return rv;
}

static CK_RV w_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
        Control c;
        CK_RV rv;

        if (fault("C_GetTokenInfo"))
                return CKR_TOKEN_NOT_PRESENT;
        rv = real->C_GetTokenInfo(slot, info);
        control_read(&c);
        if (rv == CKR_OK && info) {
                info->flags |= c.pin_flags;
                if (c.pinpad_pin[0])
                        info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
        }
        return rv;
}

static CK_RV w_C_OpenSession(
        CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify, CK_SESSION_HANDLE_PTR h) {
        if (fault("C_OpenSession"))
                return CKR_TOKEN_NOT_PRESENT;
        CK_RV rv = real->C_OpenSession(slot, flags, app, notify, h);
        if (rv == CKR_OK)
                session_remember(*h);
        return rv;
}

static CK_RV w_C_CloseSession(CK_SESSION_HANDLE h) {
        if (fault("C_CloseSession") || session_stale(h))
                return CKR_SESSION_HANDLE_INVALID;
        return real->C_CloseSession(h);
}

static CK_RV w_C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info) {
        SESSION_CALL(C_GetSessionInfo, h);
        return real->C_GetSessionInfo(h, info);
}

/* One line per C_Login and C_Logout in $KYSO_FAULT_LOG: "C_Login user|so|context pinpad|pin", "C_Logout". */
static void log_call(const char *line) {
        const char *path = getenv("KYSO_FAULT_LOG");
        int fd;

        if (!path)
                return;
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        if (write(fd, line, strlen(line)) < 0) {
                /* A test that counts logins then sees too few and fails. */
        }
        close(fd);
}

static void log_login(CK_USER_TYPE type, bool pinpad) {
        char line[64];

        snprintf(
                line, sizeof(line), "C_Login %s %s\n",
                type == CKU_SO                 ? "so"
                : type == CKU_CONTEXT_SPECIFIC ? "context"
                                               : "user",
                pinpad ? "pinpad" : "pin");
        log_call(line);
}

static CK_RV w_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin, CK_ULONG len) {
        Control c;
        bool pinpad;

        SESSION_CALL(C_Login, h);
        control_read(&c);
        /* On a PIN pad reader the application sends no PIN: the person types it on the reader. */
        pinpad = c.pinpad_pin[0] && !pin;
        log_login(type, pinpad);
        if (type != CKU_SO && (c.pin_flags & CKF_USER_PIN_LOCKED))
                return CKR_PIN_LOCKED;
        if (pinpad)
                return real->C_Login(h, type, (CK_UTF8CHAR_PTR) c.pinpad_pin, strlen(c.pinpad_pin));
        return real->C_Login(h, type, pin, len);
}

static CK_RV w_C_Logout(CK_SESSION_HANDLE h) {
        SESSION_CALL(C_Logout, h);
        log_call("C_Logout\n");
        return real->C_Logout(h);
}

static CK_RV w_C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
        SESSION_CALL(C_FindObjectsInit, h);
        return real->C_FindObjectsInit(h, t, n);
}

static CK_RV w_C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR o, CK_ULONG max, CK_ULONG_PTR n) {
        SESSION_CALL(C_FindObjects, h);
        return real->C_FindObjects(h, o, max, n);
}

static CK_RV w_C_FindObjectsFinal(CK_SESSION_HANDLE h) {
        SESSION_CALL(C_FindObjectsFinal, h);
        return real->C_FindObjectsFinal(h);
}

static CK_RV w_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t, CK_ULONG n) {
        SESSION_CALL(C_GetAttributeValue, h);
        return real->C_GetAttributeValue(h, o, t, n);
}

static CK_RV w_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k) {
        SESSION_CALL(C_SignInit, h);
        return real->C_SignInit(h, m, k);
}

static CK_RV w_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR s, CK_ULONG_PTR sl) {
        SESSION_CALL(C_Sign, h);
        return real->C_Sign(h, d, dl, s, sl);
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret) {
        const char *path = getenv("KYSO_FAULT_REAL_MODULE");
        const char *conf = getenv("KYSO_FAULT_SOFTHSM2_CONF");
        CK_C_GetFunctionList get;
        void *dl;

        if (!ret)
                return CKR_ARGUMENTS_BAD;
        if (!real) {
                if (!path)
                        return CKR_GENERAL_ERROR;
                if (conf)
                        setenv("SOFTHSM2_CONF", conf, 1);
                dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                if (!dl)
                        return CKR_GENERAL_ERROR;
                get = (CK_C_GetFunctionList) dlsym(dl, "C_GetFunctionList");
                if (!get || get(&real) != CKR_OK)
                        return CKR_GENERAL_ERROR;
                /* Every call we do not wrap goes straight to the real module. */
                wrapped = *real;
                wrapped.C_Initialize = w_C_Initialize;
                wrapped.C_Finalize = w_C_Finalize;
                wrapped.C_GetInfo = w_C_GetInfo;
                wrapped.C_GetSlotList = w_C_GetSlotList;
                wrapped.C_GetSlotInfo = w_C_GetSlotInfo;
                wrapped.C_GetTokenInfo = w_C_GetTokenInfo;
                wrapped.C_OpenSession = w_C_OpenSession;
                wrapped.C_CloseSession = w_C_CloseSession;
                wrapped.C_GetSessionInfo = w_C_GetSessionInfo;
                wrapped.C_Login = w_C_Login;
                wrapped.C_Logout = w_C_Logout;
                wrapped.C_FindObjectsInit = w_C_FindObjectsInit;
                wrapped.C_FindObjects = w_C_FindObjects;
                wrapped.C_FindObjectsFinal = w_C_FindObjectsFinal;
                wrapped.C_GetAttributeValue = w_C_GetAttributeValue;
                wrapped.C_SignInit = w_C_SignInit;
                wrapped.C_Sign = w_C_Sign;
        }
        (void) fault("C_GetFunctionList");
        *ret = &wrapped;
        return CKR_OK;
}
