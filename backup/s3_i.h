/* SPDX-License-Identifier: MIT */
/*
 * s3_i.h - internals of backup/s3.c exposed for the unit tests: the
 * Signature Version 4 signer and the ISO 8601 helpers.
 *
 * The signer is a pure function of its input: no clock, no environment,
 * no network.  The request code in s3.c builds the URL query string with
 * s3_canonical_query() and the path with s3_uri_encode(), so what is
 * signed is byte for byte what is sent.
 */
#ifndef BACKUP_S3_I_H
#define BACKUP_S3_I_H

#include <stddef.h>
#include <time.h>

#define S3_AMZ_DATE_LEN	16		/* "YYYYMMDDTHHMMSSZ" */
#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct s3_kv {
	const char *name;
	const char *value;		/* NULL is sent as "" ("name=") */
};

struct s3_sigv4 {
	const char *method;
	const char *path;		/* raw, not yet percent-encoded */
	const struct s3_kv *query;	/* raw names and values, any order */
	size_t nquery;
	const struct s3_kv *headers;	/* all signed headers, any case and
					 * order; must include host and
					 * x-amz-date; repeated names are
					 * joined with ',' in given order */
	size_t nheaders;
	const char *payload_hash;	/* hex SHA-256 or UNSIGNED-PAYLOAD */
	const char *amz_date;		/* S3_AMZ_DATE_LEN characters */
	const char *region;
	const char *service;
	const char *access_key;
	const char *secret_key;
};

/*
 * Sign req.  *authp gets the Authorization header value (without the
 * "Authorization: " prefix).  If canonp / stsp are not NULL they get the
 * canonical request and string to sign, for tests.  All three are
 * malloc'ed; free them (the Authorization value is not secret, but is
 * never logged).  Returns 0, -EINVAL, -ENOMEM or -PHV_ECRYPTO.
 */
int s3_sigv4_sign(const struct s3_sigv4 *req, char **authp, char **canonp,
		  char **stsp);

/*
 * Percent-encode s as SigV4 wants (unreserved A-Z a-z 0-9 - . _ ~ kept,
 * everything else %XX upper case); '/' is kept when keep_slash is set
 * (object paths).  Returns a malloc'ed string or NULL.
 */
char *s3_uri_encode(const char *s, int keep_slash);

/*
 * The canonical query string: names and values encoded, sorted by name
 * then value, "name=value" joined by '&'; "" for no parameters.
 * Returns a malloc'ed string or NULL.
 */
char *s3_canonical_query(const struct s3_kv *query, size_t n);

/* Format t as YYYYMMDDTHHMMSSZ into out[S3_AMZ_DATE_LEN + 1]. */
void s3_amz_date(time_t t, char *out);

/* Format t as YYYY-MM-DDTHH:MM:SS.000Z into out[25]. */
void s3_iso8601(time_t t, char *out);

/*
 * Parse "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC) into *tp.
 * Returns 0 or -EINVAL.
 */
int s3_parse_iso8601(const char *s, time_t *tp);

#endif /* BACKUP_S3_I_H */
