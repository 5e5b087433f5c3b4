// SPDX-License-Identifier: MIT
/*
 * audit_verify.c - check an audit log's chain, MACs and checkpoint
 * signatures and report the first record that does not fit (audit.h).
 *
 * The verifier walks every line once, keeping the same running values as
 * the writer (seq, previous MAC, SHA-256 chain) and stops at the first
 * inconsistency: that is the earliest record an attacker could have
 * touched, which is what an investigator needs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/b64.h"
#include "common/err.h"
#include "crypto/secmem.h"
#include "audit.h"
#include "audit_i.h"
#include "sealed.h"

struct vstate {
	const struct audit_verify_opts *o;
	struct audit_verify_result *res;
	struct audit_keys *keys;	/* NULL: public only */
	EVP_PKEY *pub;
	char pub64[AUDIT_PUB_B64_LEN + 1];
	int started;
	unsigned long long seq;
	uint8_t mac[32];
	uint8_t chain[32];
	int have_state;
	unsigned long long state_seq;
	uint8_t state_mac[32];
	int state_seen;
};

static int fail(struct vstate *v, const char *file, long line,
		unsigned long long seq, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(struct vstate *v, const char *file, long line,
		unsigned long long seq, const char *fmt, ...)
{
	va_list ap;

	v->res->damaged = 1;
	snprintf(v->res->file, sizeof(v->res->file), "%s", file);
	v->res->line = line;
	v->res->seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->res->why, sizeof(v->res->why), fmt, ap);
	va_end(ap);
	return -PHV_EAUTH;
}

static int check_sig(struct vstate *v, unsigned long long seq,
		     const char *sig64)
{
	uint8_t msg[AUDIT_CP_MSG_MAX], sig[64];
	EVP_MD_CTX *ctx;
	size_t mlen;
	int ok;

	if (!v->pub || audit_b64_exact(sig64, sig, 64))
		return -1;
	mlen = audit_cp_message(seq, v->chain, msg);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, v->pub) == 1 &&
	     EVP_DigestVerify(ctx, sig, 64, msg, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int set_pub(struct vstate *v, const char *pub64)
{
	uint8_t raw[32];

	if (audit_b64_exact(pub64, raw, 32))
		return -1;
	v->pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
	memcpy(v->pub64, pub64, AUDIT_PUB_B64_LEN);	/* length checked */
	v->pub64[AUDIT_PUB_B64_LEN] = '\0';
	return v->pub ? 0 : -1;
}

static int check_header(struct vstate *v, const char *file, long ln,
			unsigned long long seq, const char *p, size_t n)
{
	char val[128];
	uint8_t pm[32], pc[32];

	if (jsonl_get(p, n, "prev_mac", val, sizeof(val)) != 1 ||
	    audit_b64_exact(val, pm, 32) ||
	    jsonl_get(p, n, "prev_chain", val, sizeof(val)) != 1 ||
	    audit_b64_exact(val, pc, 32) ||
	    jsonl_get(p, n, "pubkey", val, sizeof(val)) != 1)
		return fail(v, file, ln, seq, "malformed segment header");
	if (!v->pub && set_pub(v, v->o->pubkey ? v->o->pubkey : val))
		return fail(v, file, ln, seq, "bad public key");
	if (strcmp(val, v->pub64))
		return fail(v, file, ln, seq, "segment header names another "
			    "signing key than %s", v->o->pubkey ?
			    "the pinned one" : "the first segment");
	if (v->started) {
		if (secmem_cmp(pm, v->mac, 32) || memcmp(pc, v->chain, 32))
			return fail(v, file, ln, seq, "segment does not "
				    "continue the previous one (a segment "
				    "is missing or was replaced)");
		return 0;
	}
	if (seq != 1 && !v->o->allow_partial)
		return fail(v, file, ln, seq, "log starts at record %llu, "
			    "not 1: earlier segments are missing (use "
			    "--partial if they were pruned)", seq);
	memcpy(v->mac, pm, 32);
	memcpy(v->chain, pc, 32);
	v->seq = seq - 1;
	v->started = 1;
	return 0;
}

static int check_line(struct vstate *v, const char *file, long ln,
		      const char *p, size_t n)
{
	char type[32], val[128];
	const char *mf;
	unsigned long long seq;
	long long sv;
	uint8_t mac[32], want[32];
	int r;

	if (jsonl_get_ll(p, n, "seq", &sv) || sv <= 0)
		return fail(v, file, ln, 0, "not an audit record (bad JSON "
			    "or no seq)");
	seq = sv;
	mf = memmem(p, n, AUDIT_MAC_FIELD, sizeof(AUDIT_MAC_FIELD) - 1);
	if (jsonl_get(p, n, "mac", val, sizeof(val)) != 1 || !mf ||
	    audit_b64_exact(val, mac, 32) ||
	    (size_t)(mf - p) + sizeof(AUDIT_MAC_FIELD) - 1 + strlen(val) +
	    2 != n)
		return fail(v, file, ln, seq, "record has no valid mac as "
			    "its last field");
	if (jsonl_get(p, n, "type", type, sizeof(type)) != 1)
		return fail(v, file, ln, seq, "record has no type");
	if ((ln == 1) != !strcmp(type, "segment"))
		return fail(v, file, ln, seq, ln == 1 ? "segment does not "
			    "start with a header" : "segment header inside "
			    "a segment");
	if (ln == 1) {
		r = check_header(v, file, ln, seq, p, n);
		if (r)
			return r;
	}
	if (seq != v->seq + 1)
		return fail(v, file, ln, seq, "expected record %llu, found "
			    "%llu: records were deleted, inserted or "
			    "reordered", v->seq + 1, seq);
	if (v->keys) {
		r = audit_record_mac(v->keys->hmac, v->mac, p, mf - p, want);
		if (r)
			return r;
		if (secmem_cmp(want, mac, 32))
			return fail(v, file, ln, seq, "HMAC mismatch: the "
				    "record was edited, moved or forged (or "
				    "the key is wrong)");
	}
	if (!strcmp(type, "checkpoint")) {
		if (jsonl_get(p, n, "chain", val, sizeof(val)) != 1 ||
		    audit_b64_exact(val, want, 32) ||
		    memcmp(want, v->chain, 32))
			return fail(v, file, ln, seq, "checkpoint chain hash "
				    "mismatch: a record before it was "
				    "changed");
		if (jsonl_get(p, n, "sig", val, sizeof(val)) != 1 ||
		    check_sig(v, seq, val))
			return fail(v, file, ln, seq, "bad checkpoint "
				    "signature");
		v->res->checkpoints++;
		v->res->unsigned_tail = 0;
	} else {
		v->res->unsigned_tail++;
	}
	if (v->have_state && seq == v->state_seq) {
		if (secmem_cmp(mac, v->state_mac, 32))
			return fail(v, file, ln, seq, "record differs from "
				    "the trusted state's copy");
		v->state_seen = 1;
	}
	r = audit_chain_step(v->chain, p, n);
	if (r)
		return r;
	memcpy(v->mac, mac, 32);
	v->seq = seq;
	v->res->records++;
	if (strcmp(type, "checkpoint"))
		v->res->clean_end = !strcmp(type, "unmount");
	return 0;
}

static int verify_file(struct vstate *v, const char *file)
{
	char *buf = NULL;
	const char *p, *nl;
	size_t len;
	long ln = 0;
	int r;

	r = sealed_slurp(file, &buf, &len);
	if (r)
		return r;
	if (!len) {
		r = fail(v, file, 0, 0, "empty segment");
		goto out;
	}
	for (p = buf; p < buf + len; p = nl + 1) {
		ln++;
		nl = memchr(p, '\n', len - (p - buf));
		if (!nl) {
			r = fail(v, file, ln, 0, "last line is cut off (torn "
				 "write or truncation)");
			goto out;
		}
		r = check_line(v, file, ln, p, nl - p);
		if (r)
			goto out;
	}
out:
	free(buf);
	return r;
}

static int load_state(struct vstate *v)
{
	char *body = NULL, mac64[64];
	size_t len;
	int r;

	r = sealed_read(v->o->state_path, "audit-state", v->keys->hmac,
			&body, &len);
	if (r)
		return r;
	r = -PHV_EFORMAT;
	if (sscanf(body, "seq %llu\nmac %63s", &v->state_seq, mac64) == 2 &&
	    !audit_b64_exact(mac64, v->state_mac, 32)) {
		v->have_state = 1;
		r = 0;
	}
	free(body);
	return r;
}

int audit_verify(char *const *files, int n,
		 const struct audit_verify_opts *o,
		 struct audit_verify_result *res)
{
	struct vstate v = { .o = o, .res = res };
	int i, r = -ENOMEM;

	memset(res, 0, sizeof(*res));
	if (o->key) {
		v.keys = secmem_alloc(sizeof(*v.keys));
		if (!v.keys)
			goto out;
		r = audit_keys_derive(o->key, v.keys);
		if (r)
			goto out;
	}
	if (o->state_path && v.keys) {
		r = load_state(&v);
		if (r == -PHV_EAUTH) {
			r = fail(&v, o->state_path, 0, 0, "trusted state file "
				 "fails authentication");
			goto out;
		}
		if (r)
			goto out;
	}
	r = 0;
	for (i = 0; i < n && !r; i++)
		r = verify_file(&v, files[i]);
	if (!r && v.have_state && !v.state_seen)
		r = fail(&v, files[n - 1], 0, v.seq, "log ends at record %llu "
			 "but the trusted state saw record %llu: the tail "
			 "was cut off", v.seq, v.state_seq);
out:
	EVP_PKEY_free(v.pub);
	secmem_free(v.keys, sizeof(*v.keys));
	return r;
}
