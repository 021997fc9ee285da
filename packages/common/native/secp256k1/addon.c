/*
 * Public-key recovery (ecrecover) with libsecp256k1 0.5.0, for Node through Node-API.
 *
 * One function: recover(signature, recid, hash, out) -> boolean. `signature` is r || s (64 bytes,
 * big-endian), `recid` 0 or 1, `hash` the 32-byte message hash; on success the 65-byte
 * uncompressed public key (0x04 || x || y) is written to `out` and true returned. False when the
 * signature does not parse (r or s >= n) or does not recover (r or s zero, no point with x = r).
 * Wrong argument types throw a TypeError.
 *
 * The library's static context serves recovery (no signing here), so every thread that loads this
 * addon shares it: the addon is context-aware and keeps no per-thread state.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

#include "secp256k1.h"
#include "secp256k1_recovery.h"

static bool bytes_arg(napi_env env, napi_value v, size_t want, unsigned char **data) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) return false;
  if (type != napi_uint8_array || length != want) return false;
  *data = (unsigned char *)ptr;
  return true;
}

static napi_value recover(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) {
    napi_throw_type_error(env, NULL, "recover(signature, recid, hash, out) takes 4 arguments");
    return NULL;
  }
  unsigned char *sig = NULL, *hash = NULL, *out = NULL;
  int32_t recid = -1;
  if (!bytes_arg(env, argv[0], 64, &sig) || !bytes_arg(env, argv[2], 32, &hash) ||
      !bytes_arg(env, argv[3], 65, &out)) {
    napi_throw_type_error(env, NULL, "signature, hash and out must be Uint8Arrays of 64, 32 and 65 bytes");
    return NULL;
  }
  if (napi_get_value_int32(env, argv[1], &recid) != napi_ok || recid < 0 || recid > 3) {
    napi_throw_type_error(env, NULL, "recid must be an integer from 0 to 3");
    return NULL;
  }

  const secp256k1_context *ctx = secp256k1_context_static;
  secp256k1_ecdsa_recoverable_signature parsed;
  secp256k1_pubkey pubkey;
  size_t out_len = 65;
  bool ok = secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &parsed, sig, recid) &&
            secp256k1_ecdsa_recover(ctx, &pubkey, &parsed, hash) &&
            secp256k1_ec_pubkey_serialize(ctx, out, &out_len, &pubkey, SECP256K1_EC_UNCOMPRESSED);

  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "recover", NAPI_AUTO_LENGTH, recover, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "recover", fn) != napi_ok) return NULL;
  napi_value version;
  if (napi_create_string_utf8(env, "libsecp256k1 0.5.0", NAPI_AUTO_LENGTH, &version) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "version", version) != napi_ok) return NULL;
  return exports;
}
