/* SPDX-License-Identifier: MIT */
/*
 * aead_vectors.h - published known answers for AES-256-GCM and AES-SIV.
 *
 * Every entry names its source document and the place in it.  Values are
 * hex exactly as printed there.
 */
#ifndef TESTS_KAT_AEAD_VECTORS_H
#define TESTS_KAT_AEAD_VECTORS_H

struct gcm_vector {
	const char *name;	/* source and test number */
	const char *key, *iv, *aad, *pt, *ct, *tag;
	int valid;		/* 0: a FAIL case, the tag must not verify */
};

/*
 * D. McGrew, J. Viega, "The Galois/Counter Mode of Operation (GCM)",
 * revised submission to NIST, 2005, Appendix B, test cases 13-16 (the
 * 256-bit key cases with a 96-bit IV).  Test cases 17 and 18 use 64- and
 * 480-bit IVs; aead_seal() accepts only 96-bit nonces (SP 800-38D's
 * recommended length; other lengths go through GHASH), so they cannot be
 * expressed through our API and are not listed.
 */
static const struct gcm_vector gcm_spec_vectors[] = {
	{ "GCM spec TC13",
	  "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b", 1 },
	{ "GCM spec TC14",
	  "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "",
	  "00000000000000000000000000000000",
	  "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919", 1 },
	{ "GCM spec TC15",
	  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888", "",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c", 1 },
	{ "GCM spec TC16",
	  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b", 1 },
};

/*
 * NIST CAVP, GCM Validation System test vectors (gcmtestvectors.zip,
 * CAVS 14.0), files gcmEncryptExtIV256.rsp and gcmDecrypt256.rsp,
 * sections [Keylen = 256] [IVlen = 96] [Taglen = 128]; the section's
 * PTlen/AADlen and the Count are in each name.  FAIL entries are the
 * file's own FAIL cases (pt is then empty: there is none).
 */
static const struct gcm_vector gcm_cavp_vectors[] = {
	{ "gcmEncryptExtIV256 PTlen=128 AADlen=160 Count=0",
	  "83688deb4af8007f9b713b47cfa6c73e35ea7a3aa4ecdb414dded03bf7a0fd3a",
	  "0b459724904e010a46901cf3",
	  "794a14ccd178c8ebfd1379dc704c5e208f9d8424",
	  "33d893a2114ce06fc15d55e454cf90c3",
	  "cc66bee423e3fcd4c0865715e9586696",
	  "0fb291bd3dba94a1dfd8b286cfb97ac5", 1 },
	{ "gcmEncryptExtIV256 PTlen=408 AADlen=160 Count=0",
	  "24501ad384e473963d476edcfe08205237acfd49b5b8f33857f8114e863fec7f",
	  "9ff18563b978ec281b3f2794",
	  "adb5ec720ccf9898500028bf34afccbcaca126ef",
	  "27f348f9cdc0c5bd5e66b1ccb63ad920ff2219d14e8d631b3872265cf117ee86"
	  "757accb158bd9abb3868fdc0d0b074b5f01b2c",
	  "eb7cb754c824e8d96f7c6d9b76c7d26fb874ffbf1d65c6f64a698d839b0b0614"
	  "5dae82057ad55994cf59ad7f67c0fa5e85fab8",
	  "bc95c532fecc594c36d1550286a7a3f0", 1 },
	{ "gcmDecrypt256 PTlen=128 AADlen=0 Count=0",
	  "4c8ebfe1444ec1b2d503c6986659af2c94fafe945f72c1e8486a5acfedb8a0f8",
	  "473360e0ad24889959858995", "",
	  "7789b41cb3ee548814ca0b388c10b343",
	  "d2c78110ac7e8f107c0df0570bd7c90c",
	  "c26a379b6d98ef2852ead8ce83a833a7", 1 },
	{ "gcmDecrypt256 PTlen=128 AADlen=128 Count=0",
	  "54e352ea1d84bfe64a1011096111fbe7668ad2203d902a01458c3bbd85bfce14",
	  "df7c3bca00396d0c018495d9",
	  "7e968d71b50c1f11fd001f3fef49d045",
	  "85fc3dfad9b5a8d3258e4fc44571bd3b",
	  "426e0efc693b7be1f3018db7ddbb7e4d",
	  "ee8257795be6a1164d7e1d2d6cac77a7", 1 },
	{ "gcmDecrypt256 PTlen=408 AADlen=128 Count=0",
	  "aeb3830cb9ce31cae7b1d47511bb2d3dcc2131714ace202b21b98820e7079792",
	  "e7e87c45ec0a94c8e92353f1",
	  "07d9bb1fa3aea7ceeefbedae87dcd713",
	  "b4d0ecc410c430b61c11a1a42802858a0e9ee12f9a912f2f6b0570c99177f6de"
	  "4bd79830cf9efb30759055e1f70d21e3f74957",
	  "b20542b61b8fa6f847198334cb82fdbcb2311be855a6b2b3662bdb06ff079623"
	  "8bea092a8ea21b585d38ace950378f41224269",
	  "3bdd1d0cc2bbcefffe0ed2121aecbd00", 1 },
	{ "gcmDecrypt256 PTlen=0 AADlen=0 Count=1 (FAIL)",
	  "e5a8123f2e2e007d4e379ba114a2fb66e6613f57c72d4e4f024964053028a831",
	  "51e43385bf533e168427e1ad", "", "", "",
	  "38fe845c66e66bdd884c2aecafd280e6", 0 },
	{ "gcmDecrypt256 PTlen=128 AADlen=0 Count=2 (FAIL)",
	  "c997768e2d14e3d38259667a6649079de77beb4543589771e5068e6cd7cd0b14",
	  "835090aed9552dbdd45277e2", "", "",
	  "9f6607d68e22ccf21928db0986be126e",
	  "f32617f67c574fd9f44ef76ff880ab9f", 0 },
	{ "gcmDecrypt256 PTlen=128 AADlen=128 Count=2 (FAIL)",
	  "9a0343f850a6427120f764789ffec6d237447b898fbf51d2182f065d3861497d",
	  "3deef6f453dd70d92143adcd",
	  "dbb8226a624520863db6897017b2a4f8", "",
	  "e93165935ac18e3a2845d15fe31a9286",
	  "f5fc50d18766bc3d9e16dd136d45816b", 0 },
	{ "gcmDecrypt256 PTlen=408 AADlen=160 Count=0 (FAIL)",
	  "e9d381a9c413bee66175d5586a189836e5c20f5583535ab4d3f3e612dc21700e",
	  "23e81571da1c7821c681c7ca",
	  "6f39c9ae7b8e8a58a95f0dd8ea6a9087cbccdfd6", "",
	  "a25f3f580306cd5065d22a6b7e9660110af7204bb77d370f7f34bee547feeff7"
	  "b32a596fce29c9040e68b1589aad48da881990",
	  "5b6dcd70eefb0892fab1539298b92a4b", 0 },
};

#define SIV_MAX_AD 3

struct siv_vector {
	const char *name;
	const char *key;
	int nad;			/* associated-data components */
	const char *ad[SIV_MAX_AD];
	const char *pt;
	const char *out;		/* V || C, as RFC 5297 lays it out */
	int valid;
};

/*
 * RFC 5297, "Synthetic Initialization Vector (SIV) Authenticated
 * Encryption Using the Advanced Encryption Standard (AES)", Appendix A.1
 * (deterministic) and A.2 (nonce-based: the nonce is the last AD
 * component, section 3).  These use AES-SIV-CMAC-256, i.e. a 32-byte key
 * and AES-128, hence siv_seal_k() with keylen 32.
 *
 * Project Wycheproof (C2SP/wycheproof), testvectors/aes_siv_cmac_test.json,
 * group "keySize": 512 (AES-256-SIV, the size siv_seal() uses), tcId as
 * named.  Wycheproof's "aad" is one AD component.
 */
static const struct siv_vector siv_vectors[] = {
	{ "RFC 5297 A.1",
	  "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  1, { "101112131415161718191a1b1c1d1e1f2021222324252627" },
	  "112233445566778899aabbccddee",
	  "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c", 1 },
	{ "RFC 5297 A.2",
	  "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f",
	  3, { "00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99"
	       "887766554433221100",
	       "102030405060708090a0",
	       "09f911029d74e35bd84156c5635688c0" },
	  "7468697320697320736f6d6520706c61696e7465787420746f20656e63727970"
	  "74207573696e67205349562d414553",
	  "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17"
	  "dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d", 1 },
	{ "Wycheproof aes_siv_cmac tcId 305",
	  "e2c5662bb18fbb411d0304e4241db073fe60a4704fee290073513038a22b4cd5"
	  "42580b2b4edbc37e3de01c0cb61abcad46986cdc491ce9e5ae5af223ff58b953",
	  1, { "fab912dec29a34aabfaef176" }, "0d",
	  "1c6969ecb15741a9959b7a8492250e391a", 1 },
	{ "Wycheproof aes_siv_cmac tcId 309",
	  "673cea582bf3982ce3fba5304de8fe46e316d6804749d6db58b7ab7d64bd4e0a"
	  "f641997975234f8b918cca3247d67cfeac9230d15ed28f8071a85e84fa9ef211",
	  1, { "f5042d5a5b68b262274974a8" }, "9e99912c7b",
	  "655ef7f09f4cff47b427e9df7fcc642664715ad14c", 1 },
	{ "Wycheproof aes_siv_cmac tcId 320",
	  "139383f3f82dc78e0b380027f9e5fcd2ed23716404be5c554452e4dc73d23702"
	  "6594491820c6b8297185cc1fa84f49a5c7d7cd05c5de090ff1c3397bc2740437",
	  1, { "d39da73ffc03ad0a9213ffc7" },
	  "48604944a80fadf50d55b87727934458c8",
	  "a9cf73951cb39823777f35c96c845169476e2ec2317cb6b8dd8b6172fdceabff9d",
	  1 },
	{ "Wycheproof aes_siv_cmac tcId 324",
	  "72a76714e0171e8213de624f00e273bc900050e69d25c454cc42b61e8b3fbc92"
	  "d4942e1ae14421e164046c1479a7b9c9f4b50b382cb62dfeaa210b98dec7d937",
	  1, { "6a8aaf2c84003e0e6f409658" },
	  "92d8f4dc7d41e8b180d66e8994022db79249cdc76fd7f3ea12d9925b51925250"
	  "cd75a15fcfd78ea85c57fe6196f8d7545086f99ea796a0ea69170db994420043"
	  "5d9d3d551943892400ce787f703c1105",
	  "69f720f36b0da86ec8cc0f46d62835dcb35ac23f5b891152d861c4e0f0018f19"
	  "d272ee8b12d83300bfd46aeec0124d5d23b3cb849c1cab1fdf64b70947ebf79f"
	  "5442e209076dfa9a3f36ab0a6d3cf4a75ddfcdc21837743b20885db4c803ac27",
	  1 },
	{ "Wycheproof aes_siv_cmac tcId 326 (edge-case SIV)",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
	  1, { "000102030405060708090a0b0c0d0e0f" },
	  "bfa1733d07afa03cb3f2eeb81bbde037",
	  "000000000000000000000000000000004ce637d6ca9cdf1c2feb0d140865cddb",
	  1 },
	{ "Wycheproof aes_siv_cmac tcId 328 (edge-case SIV)",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
	  1, { "000102030405060708090a0b0c0d0e0f" },
	  "404aa73280eb830afde284ba6b18d48a",
	  "ffffffffffffffffffffffffffffffff0fae016c086fc20546b374c24f3ebad0",
	  1 },
	{ "Wycheproof aes_siv_cmac tcId 336 (flipped tag bit, invalid)",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	  "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
	  1, { "" }, "3031323334353637",
	  "202e4a8f8b4c66788f3af230fb1c3ada5ead70c7f066d4df", 0 },
};

/*
 * Project Wycheproof, aes_siv_cmac_test.json, group "keySize": 256
 * (AES-128-SIV), tcId 2 and 3: empty plaintext, with no AD component and
 * with one.  Kept apart because they exercise the empty-message path.
 */
static const struct siv_vector siv_empty_vectors[] = {
	{ "Wycheproof aes_siv_cmac tcId 2 (empty message, empty AD)",
	  "2b27e429fb6c02678e589ccc4437c5adfb44b331ab6d21ea321727e6ec03d354",
	  1, { "" }, "", "b2b2354e3724dcdaa85ecf029b49a90c", 1 },
	{ "Wycheproof aes_siv_cmac tcId 3 (empty message)",
	  "e40992eb4f649e5d49134652aecc24bafa6b45ce8dd9e9d371ede7d5de84fa72",
	  1, { "8268c5194a71aed0fc1dafe3" }, "",
	  "92bc07ee200fbd488b7f70a10da26a21", 1 },
};

#endif /* TESTS_KAT_AEAD_VECTORS_H */
