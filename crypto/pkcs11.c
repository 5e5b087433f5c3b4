// SPDX-License-Identifier: MIT
/*
 * pkcs11.c - token-held AES key wraps key slot secrets (see pkcs11.h).
 *
 * The module is dlopen()ed with RTLD_LOCAL and reached only through its
 * function list.  C_Initialize may answer CKR_CRYPTOKI_ALREADY_INITIALIZED
 * when something else in the process uses the module; then we must not
 * finalise it either.  Token labels are 32 bytes padded with blanks, so
 * they are compared after trimming.  The PIN is passed straight through
 * and never copied.  The header comes from p11-kit (the OASIS definitions
 * under p11-kit's naming); no p11-kit code is linked.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit-1/p11-kit/pkcs11.h>

#include "common/err.h"
#include "pkcs11.h"
#include "secmem.h"

#define P11_VERSION	1
#define P11_MECH_GCM	1
#define P11_IV_LEN	12
#define P11_TAG_LEN	16
#define P11_MAX_SLOTS	64

struct p11 {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE session;
	int initialized;	/* we called C_Initialize and must finalise */
	int session_open;
	int logged_in;
	CK_RV last_rv;
};

/* Record rv and map it to a project code. */
static int p11_err(struct p11 *p, CK_RV rv)
{
	p->last_rv = rv;
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return -PHV_EBADKEY;
	case CKR_PIN_LOCKED:
		return -EACCES;
	case CKR_HOST_MEMORY:
		return -ENOMEM;
	default:
		return -PHV_ETOKEN;
	}
}

/* Length of a blank-padded PKCS#11 text field without the padding. */
static size_t p11_trimlen(const unsigned char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\0'))
		n--;
	return n;
}

static int p11_find_slot(struct p11 *p, const char *label, CK_SLOT_ID *idp)
{
	CK_SLOT_ID slots[P11_MAX_SLOTS];
	CK_ULONG n = P11_MAX_SLOTS, i;
	CK_TOKEN_INFO ti;
	size_t len = strlen(label);
	CK_RV rv;

	rv = p->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return p11_err(p, rv);
	for (i = 0; i < n; i++) {
		if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (p11_trimlen(ti.label, sizeof(ti.label)) == len &&
		    !memcmp(ti.label, label, len)) {
			*idp = slots[i];
			return 0;
		}
	}
	return -PHV_ENOTFOUND;
}

int p11_open(const char *module, const char *token_label, struct p11 **pp)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_C_GetFunctionList getlist;
	struct p11 *p;
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	int r;

	*pp = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;

	r = -PHV_ETOKEN;
	p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		goto out;
	getlist = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	if (!getlist)
		goto out;
	rv = getlist(&p->f);
	if (rv != CKR_OK || !p->f) {
		r = p11_err(p, rv != CKR_OK ? rv : CKR_GENERAL_ERROR);
		goto out;
	}
	rv = p->f->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		r = p11_err(p, rv);
		goto out;
	}
	p->initialized = rv == CKR_OK;

	r = p11_find_slot(p, token_label, &slot);
	if (r)
		goto out;
	rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
				 NULL, NULL, &p->session);
	r = p11_err(p, rv);
	if (r)
		goto out;
	p->session_open = 1;
	*pp = p;
	p = NULL;
out:
	p11_close(p);
	return r;
}

int p11_login(struct p11 *p, const void *pin, size_t pinlen)
{
	CK_RV rv;

	rv = p->f->C_Login(p->session, CKU_USER, (CK_UTF8CHAR_PTR)pin,
			   (CK_ULONG)pinlen);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_OK)
		p->logged_in = 1;
	return p11_err(p, rv);
}

/* Find the one secret key labelled label; -PHV_ENOTFOUND when none. */
static int p11_find_key(struct p11 *p, const char *label,
			CK_OBJECT_HANDLE *hp)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_ULONG n = 0;
	CK_RV rv;

	rv = p->f->C_FindObjectsInit(p->session, tmpl, 2);
	if (rv != CKR_OK)
		return p11_err(p, rv);
	rv = p->f->C_FindObjects(p->session, hp, 1, &n);
	p->f->C_FindObjectsFinal(p->session);
	if (rv != CKR_OK)
		return p11_err(p, rv);
	return n == 1 ? 0 : -PHV_ENOTFOUND;
}

int p11_keygen(struct p11 *p, const char *key_label)
{
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG bytes = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &bytes, sizeof(bytes) },
		{ CKA_LABEL, (void *)key_label, strlen(key_label) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_VERIFY, &no, sizeof(no) },
	};
	CK_OBJECT_HANDLE h;
	int r;

	r = p11_find_key(p, key_label, &h);
	if (r != -PHV_ENOTFOUND)
		return r ? r : -EEXIST;
	return p11_err(p, p->f->C_GenerateKey(p->session, &mech, tmpl,
					      sizeof(tmpl) / sizeof(tmpl[0]),
					      &h));
}

static void p11_gcm(CK_GCM_PARAMS *gcm, CK_MECHANISM *mech, uint8_t *iv,
		    const void *ad, size_t adlen)
{
	memset(gcm, 0, sizeof(*gcm));
	gcm->pIv = iv;
	gcm->ulIvLen = P11_IV_LEN;
	gcm->ulIvBits = P11_IV_LEN * 8;
	gcm->pAAD = (CK_BYTE_PTR)ad;
	gcm->ulAADLen = (CK_ULONG)adlen;
	gcm->ulTagBits = P11_TAG_LEN * 8;
	mech->mechanism = CKM_AES_GCM;
	mech->pParameter = gcm;
	mech->ulParameterLen = sizeof(*gcm);
}

int p11_wrap(struct p11 *p, const char *key_label, const void *ad,
	     size_t adlen, const uint8_t secret[static P11_SECRET_LEN],
	     uint8_t blob[static P11_BLOB_LEN])
{
	CK_ULONG outlen = P11_BLOB_LEN - 2 - P11_IV_LEN;
	CK_OBJECT_HANDLE key;
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech;
	CK_RV rv;
	int r;

	r = p11_find_key(p, key_label, &key);
	if (r)
		return r;
	blob[0] = P11_VERSION;
	blob[1] = P11_MECH_GCM;
	r = secmem_random(blob + 2, P11_IV_LEN);
	if (r)
		return r;
	p11_gcm(&gcm, &mech, blob + 2, ad, adlen);
	rv = p->f->C_EncryptInit(p->session, &mech, key);
	if (rv == CKR_OK)
		rv = p->f->C_Encrypt(p->session, (CK_BYTE_PTR)secret,
				     P11_SECRET_LEN, blob + 2 + P11_IV_LEN,
				     &outlen);
	if (rv == CKR_OK && outlen != P11_SECRET_LEN + P11_TAG_LEN)
		rv = CKR_GENERAL_ERROR;
	return p11_err(p, rv);
}

int p11_unwrap(struct p11 *p, const char *key_label, const void *ad,
	       size_t adlen, const uint8_t blob[static P11_BLOB_LEN],
	       uint8_t secret[static P11_SECRET_LEN])
{
	uint8_t *out = NULL;
	CK_ULONG outlen = P11_SECRET_LEN + P11_TAG_LEN;
	uint8_t iv[P11_IV_LEN];
	CK_OBJECT_HANDLE key;
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech;
	CK_RV rv;
	int r;

	if (blob[0] != P11_VERSION || blob[1] != P11_MECH_GCM)
		return -PHV_EFORMAT;
	r = p11_find_key(p, key_label, &key);
	if (r)
		goto out;
	/* the token may write up to the input length */
	out = secmem_alloc(outlen);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(iv, blob + 2, P11_IV_LEN);
	p11_gcm(&gcm, &mech, iv, ad, adlen);
	rv = p->f->C_DecryptInit(p->session, &mech, key);
	r = p11_err(p, rv);
	if (r)
		goto out;
	rv = p->f->C_Decrypt(p->session, (CK_BYTE_PTR)blob + 2 + P11_IV_LEN,
			     P11_SECRET_LEN + P11_TAG_LEN, out, &outlen);
	r = p11_err(p, rv);
	/*
	 * A tag mismatch: the standard says ENCRYPTED_DATA_INVALID, SoftHSM
	 * 2.6 answers GENERAL_ERROR.  Once DecryptInit accepted key and
	 * parameters, both mean the blob does not belong to this key.
	 */
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_DATA_INVALID ||
	    rv == CKR_ENCRYPTED_DATA_LEN_RANGE || rv == CKR_GENERAL_ERROR)
		r = -PHV_EBADKEY;
	if (!r && outlen != P11_SECRET_LEN)
		r = p11_err(p, CKR_GENERAL_ERROR);
	if (!r)
		memcpy(secret, out, P11_SECRET_LEN);
out:
	if (r)
		secmem_wipe(secret, P11_SECRET_LEN);
	secmem_free(out, P11_SECRET_LEN + P11_TAG_LEN);
	return r;
}

unsigned long p11_last_rv(const struct p11 *p)
{
	return p ? p->last_rv : 0;
}

const char *p11_rv_name(unsigned long rv)
{
	static const struct {
		unsigned long rv;
		const char *name;
	} names[] = {
		{ CKR_OK, "CKR_OK" },
		{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
		{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
		{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
		{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
		{ CKR_DATA_INVALID, "CKR_DATA_INVALID" },
		{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
		{ CKR_KEY_FUNCTION_NOT_PERMITTED,
		  "CKR_KEY_FUNCTION_NOT_PERMITTED" },
		{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
		{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
		{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
		{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
		{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
		{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
		{ CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
		{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
		{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
		{ CKR_CRYPTOKI_NOT_INITIALIZED,
		  "CKR_CRYPTOKI_NOT_INITIALIZED" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	return "unlisted CKR code";
}

void p11_close(struct p11 *p)
{
	if (!p)
		return;
	if (p->logged_in)
		p->f->C_Logout(p->session);
	if (p->session_open)
		p->f->C_CloseSession(p->session);
	if (p->initialized)
		p->f->C_Finalize(NULL);
	if (p->dl)
		dlclose(p->dl);
	free(p);
}
