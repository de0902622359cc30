/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For comparison beside the signing benchmark's peer (bench-sign-libp11, which issue 5 names): raw PKCS#11
 * RSA signatures per second on one token, straight through the module's function list, with nothing around
 * them (no libp11, no agent, no helper, no CMS, no audit):
 *   bench-sign-raw MODULE TOKEN_LABEL PIN KEY_LABEL SECONDS
 * Signs a SHA-256 DigestInfo with CKM_RSA_PKCS, as the agent's helper does. Prints "raw_per_sec N". */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        static const unsigned char prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                                0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
        CK_FUNCTION_LIST_PTR f;
        CK_C_GetFunctionList get;
        CK_SLOT_ID slots[64];
        CK_ULONG n_slots = 64, found = 0;
        CK_SESSION_HANDLE s = 0;
        CK_OBJECT_HANDLE key;
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
        unsigned char di[sizeof prefix + 32], sig[1024];
        double start, seconds;
        unsigned long count = 0;
        void *h;

        if (argc != 6)
                return 2;
        seconds = atof(argv[5]);
        h = dlopen(argv[1], RTLD_NOW);
        if (!h || !(get = (CK_C_GetFunctionList) dlsym(h, "C_GetFunctionList")) || get(&f) != CKR_OK ||
            f->C_Initialize(NULL) != CKR_OK || f->C_GetSlotList(CK_TRUE, slots, &n_slots) != CKR_OK)
                return 3;
        for (CK_ULONG i = 0; i < n_slots && !s; i++) {
                CK_TOKEN_INFO ti;
                char label[33];
                if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
                        continue;
                memcpy(label, ti.label, 32);
                label[32] = 0;
                for (int j = 31; j >= 0 && label[j] == ' '; j--)
                        label[j] = 0;
                if (strcmp(label, argv[2]) == 0 &&
                    f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
                        return 3;
        }
        if (!s || f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) argv[3], strlen(argv[3])) != CKR_OK)
                return 4;
        CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, argv[4], strlen(argv[4]) } };
        if (f->C_FindObjectsInit(s, tmpl, 2) != CKR_OK || f->C_FindObjects(s, &key, 1, &found) != CKR_OK ||
            found != 1)
                return 5;
        f->C_FindObjectsFinal(s);
        memcpy(di, prefix, sizeof prefix);
        start = now();
        while (now() - start < seconds) {
                CK_ULONG len = sizeof sig;
                di[sizeof prefix] = (unsigned char) count;
                if (f->C_SignInit(s, &mech, key) != CKR_OK ||
                    f->C_Sign(s, di, sizeof di, sig, &len) != CKR_OK)
                        return 6;
                count++;
        }
        printf("raw_per_sec %.1f\n", (double) count / (now() - start));
        f->C_Logout(s);
        f->C_CloseSession(s);
        f->C_Finalize(NULL);
        return 0;
}
