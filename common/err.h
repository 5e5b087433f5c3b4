/* SPDX-License-Identifier: MIT */
/*
 * err.h - phivault's error codes.
 *
 * Every function in the project returns 0 (or a count) on success and a
 * negative code on failure: either -errno, or one of the project codes
 * below, which sit above the errno range so the two never collide.
 * phv_strerror() names both.  Code at the FUSE boundary maps project
 * codes to plain errno with phv_errno(): authentication and format
 * failures become EIO, policy denials EACCES.
 */
#ifndef COMMON_ERR_H
#define COMMON_ERR_H

enum phv_err {
	PHV_EBASE = 4096,
	PHV_EAUTH,	/* authentication tag mismatch: tampering or damage */
	PHV_EFORMAT,	/* unknown version or malformed record */
	PHV_ECRYPTO,	/* the crypto library failed */
	PHV_EBADKEY,	/* wrong passphrase, key file or token */
	PHV_ECONFIG,	/* missing or invalid configuration */
	PHV_EDENIED,	/* refused by the access policy */
	PHV_ELOCKED,	/* refused by S3 Object Lock */
	PHV_ECLOCK,	/* local and server clocks disagree */
	PHV_ENET,	/* network or HTTP failure after retries */
	PHV_ES3,	/* the S3 server returned an error */
	PHV_EBUSY,	/* a lock is held by someone else */
	PHV_ENOTFOUND,	/* object, snapshot or slot does not exist */
	PHV_ETOKEN,	/* a PKCS#11 module or token failed */
	PHV_EKEYCMD,	/* an external key command failed */
	PHV_EPOLICY,	/* the access policy is not the one the volume requires */
	PHV_EMAX
};

/* Text for a negative code (-errno or -PHV_E*); never NULL. */
const char *phv_strerror(int code);

/* Map a negative code to a positive errno suitable for a FUSE reply. */
int phv_errno(int code);

#endif /* COMMON_ERR_H */
