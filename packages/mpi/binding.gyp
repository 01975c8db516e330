{
  "targets": [
    {
      "target_name": "eva_mpi",
      "sources": ["src/eva_mpi.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(mpicc --showme:incdirs)"
      ],
      "libraries": [
        "<!@(mpicc --showme:link)",
        "-Wl,-rpath,<!@(mpicc --showme:libdirs)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "OMPI_SKIP_MPICXX=1"],
      "cflags_cc": ["-std=c++17", "-O2"]
    }
  ]
}
