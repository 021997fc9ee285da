# Node-API addon: ecrecover with libsecp256k1 0.5.0 (vendored in libsecp256k1/, see VENDORED.md).
# Built by build.mjs at install; the code falls back to the `secp256k1` package without it.
{
  "targets": [
    {
      "target_name": "staccato_secp256k1",
      "sources": [
        "addon.c",
        "libsecp256k1/src/secp256k1.c",
        "libsecp256k1/src/precomputed_ecmult.c",
        "libsecp256k1/src/precomputed_ecmult_gen.c"
      ],
      "include_dirs": ["libsecp256k1/include"],
      "defines": ["ENABLE_MODULE_RECOVERY=1", "SECP256K1_STATIC"],
      "cflags": ["-O3", "-Wno-unused-function"],
      "xcode_settings": { "GCC_OPTIMIZATION_LEVEL": "3" }
    }
  ]
}
