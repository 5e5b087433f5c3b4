/* SPDX-License-Identifier: MIT */
/*
 * kdf_vectors.h - published known answers for HKDF-SHA-256 and Argon2id.
 */
#ifndef TESTS_KAT_KDF_VECTORS_H
#define TESTS_KAT_KDF_VECTORS_H

struct hkdf_vector {
	const char *name;
	const char *ikm, *salt, *info, *okm;	/* hex; okm length is L */
};

/*
 * RFC 5869, "HMAC-based Extract-and-Expand Key Derivation Function
 * (HKDF)", Appendix A.1, A.2 and A.3 (test cases 1-3, SHA-256).  Test
 * case 3 has an empty salt and an empty info.
 */
static const struct hkdf_vector hkdf_vectors[] = {
	{ "RFC 5869 A.1 (test case 1)",
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	  "000102030405060708090a0b0c",
	  "f0f1f2f3f4f5f6f7f8f9",
	  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	  "34007208d5b887185865" },
	{ "RFC 5869 A.2 (test case 2)",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	  "404142434445464748494a4b4c4d4e4f",
	  "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	  "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	  "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	  "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	  "cc30c58179ec3e87c14c01d5c1f3434f1d87" },
	{ "RFC 5869 A.3 (test case 3)",
	  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	  "", "",
	  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	  "9d201395faa4b61a96c8" },
};

/*
 * RFC 9106, "Argon2 Memory-Hard Function for Password Hashing and
 * Proof-of-Work Applications", section 5.3 (Argon2id test vector):
 * version 0x13, t = 3 passes, m = 32 KiB, p = 4 lanes, tag length 32,
 * password 32 bytes of 0x01, salt 16 of 0x02, secret 8 of 0x03,
 * associated data 12 of 0x04.
 */
#define ARGON2ID_RFC9106_TAG \
	"0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"

#endif /* TESTS_KAT_KDF_VECTORS_H */
