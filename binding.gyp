{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": [
        "native/addon.cc",
        "native/image_tensor.cc",
        "native/drift_window.cc",
        "native/drift_scores.cc",
        "native/drift_lanes.cc",
        "native/drift_lanes_wide.cc",
        "native/listen_backlog.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # CPP_EXCEPTIONS_ALL: node-addon-api's wrappers turn std::exception (std::bad_alloc) into JS errors too.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags": ["-O3", "-fexceptions"],
      # No fused multiply-add: the drift window's sums must round as TypeScript's do (native/drift_lanes.cc).
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-ffp-contract=off"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-ffp-contract=off"]
      }
    }
  ]
}
