// SPDX-License-Identifier: MIT
/*
 * err.c - text and errno mapping for phivault's error codes (err.h).
 */
#include <errno.h>
#include <string.h>

#include "err.h"

static const char *const phv_err_text[PHV_EMAX - PHV_EBASE] = {
	[PHV_EAUTH - PHV_EBASE] = "authentication failed (data damaged or tampered with)",
	[PHV_EFORMAT - PHV_EBASE] = "unknown or malformed format",
	[PHV_ECRYPTO - PHV_EBASE] = "cryptographic library failure",
	[PHV_EBADKEY - PHV_EBASE] = "wrong passphrase or key",
	[PHV_ECONFIG - PHV_EBASE] = "invalid configuration",
	[PHV_EDENIED - PHV_EBASE] = "denied by access policy",
	[PHV_ELOCKED - PHV_EBASE] = "refused by object lock",
	[PHV_ECLOCK - PHV_EBASE] = "clock skew between this host and the server",
	[PHV_ENET - PHV_EBASE] = "network failure",
	[PHV_ES3 - PHV_EBASE] = "S3 server error",
	[PHV_EBUSY - PHV_EBASE] = "locked by another process",
	[PHV_ENOTFOUND - PHV_EBASE] = "not found",
	[PHV_ETOKEN - PHV_EBASE] = "PKCS#11 token failure",
	[PHV_EKEYCMD - PHV_EBASE] = "external key command failed",
	[PHV_EPOLICY - PHV_EBASE] = "access policy missing or not the installed one",
};

const char *phv_strerror(int code)
{
	int c = code < 0 ? -code : code;

	if (c > PHV_EBASE && c < PHV_EMAX && phv_err_text[c - PHV_EBASE])
		return phv_err_text[c - PHV_EBASE];
	if (c > 0 && c < PHV_EBASE)
		return strerror(c);
	return "unknown error";
}

int phv_errno(int code)
{
	int c = code < 0 ? -code : code;

	switch (c) {
	case PHV_EDENIED:
		return EACCES;
	case PHV_ELOCKED:
		return EPERM;
	case PHV_EBUSY:
		return EBUSY;
	case PHV_ENOTFOUND:
		return ENOENT;
	default:
		break;
	}
	if (c > 0 && c < PHV_EBASE)
		return c;
	return EIO;
}
